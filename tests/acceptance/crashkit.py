"""What crash tests need beside the server: an honest count of the errors writers meet.

A writer's call may fail because the server was killed under it (a connection refused, reset
or cut short, a read that timed out) — that is the test. Any other error (an S3 error
response such as 500 InternalError or 507, a refusal, a bug in the test) means the server
misbehaved while it was up, and fails the test. Each error is counted by its kind and the
operation it interrupted, so the run's summary shows what the kills did."""

import collections
import threading

import botocore.exceptions


# What a killed server looks like to botocore: a refused connect, a reset, a cut response.
CONNECTION_ERRORS = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


class ErrorTally:
    """Errors by kind. `generation` counts kills: a connection error is the kill's when a kill
    began after the call started (or while one is in progress)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.generation = 0
        self.down = False
        self.expected = collections.Counter()
        self.unexpected = []

    def killing(self):
        with self._lock:
            self.down = True
            self.generation += 1

    def restarted(self):
        with self._lock:
            self.down = False

    def record(self, error: BaseException, started_generation: int, in_flight) -> None:
        kind = type(error).__name__
        if isinstance(error, botocore.exceptions.ClientError):
            kind = f"ClientError {error.response.get('Error', {}).get('Code')}"
        with self._lock:
            by_kill = self.down or self.generation != started_generation
            if by_kill and isinstance(error, CONNECTION_ERRORS):
                self.expected[kind] += 1
            else:
                self.unexpected.append((kind, str(error)[:300], in_flight))

    def assert_only_kills(self):
        assert not self.unexpected, f"errors no kill explains: {self.unexpected}"

    def __str__(self):
        return f"{dict(self.expected)} from kills, {len(self.unexpected)} other"
