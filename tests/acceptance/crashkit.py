"""What crash tests need beside the server: an honest count of the errors writers meet.

A writer's call may fail because the server was killed under it (a connection refused, reset
or cut short, a read that timed out) — that is the test. Any other error (an S3 error
response such as 500 InternalError or 507, a refusal, a bug in the test) means the server
misbehaved while it was up, and fails the test. Each error is counted by its kind and the
operation it interrupted, so the run's summary shows what the kills did."""

import collections
import threading
import time

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


class KilledWriters:
    """Writer threads that keep calling `step(w, client)` while a server is killed and
    restarted under them: a fresh client after each restart (the port changes), every error
    counted by kind in `tally` (an error no kill explains fails `stop()`), each acknowledged
    step counted in `acked[w]`. `in_flight(w)` names what writer `w` is doing, for the tally."""

    def __init__(self, srv, make_client, step, writers: int, in_flight=lambda w: None):
        self.srv, self.make_client, self.step, self.in_flight = srv, make_client, step, in_flight
        self.tally = ErrorTally()
        self.acked = collections.Counter()
        self._stop, self._up = threading.Event(), threading.Event()
        self._up.set()
        self._threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(writers)]
        for t in self._threads:
            t.start()

    def _run(self, w):
        while not self._stop.is_set():
            self._up.wait()
            connected = self.tally.generation
            client = self.make_client(self.srv)
            while not self._stop.is_set() and self._up.is_set() and self.tally.generation == connected:
                generation = self.tally.generation
                try:
                    result = self.step(w, client)
                except Exception as e:  # noqa: BLE001 - counted by kind; stop() fails on any no kill explains
                    self.tally.record(e, generation, self.in_flight(w))
                    break  # the server went away: a new client once it is back
                self.acked[result if result is not None else w] += 1

    def total(self) -> int:
        return sum(self.acked.values())

    def wait_for(self, more: int, deadline_s: float = 120.0):
        """Until `more` further steps are acknowledged."""
        target = self.total() + more
        end = time.monotonic() + deadline_s
        while self.total() < target:
            assert time.monotonic() < end, f"writes stopped getting through: {dict(self.acked)}, {self.tally}"
            time.sleep(0.01)

    def kill_and_restart(self, while_down=lambda: None, before_writes=lambda: None):
        """`kill -9` of the server, `while_down()` while it is down, a restart, and
        `before_writes()` before the writers go on."""
        self._up.clear()
        self.tally.killing()
        self.srv.kill9()
        while_down()
        self.srv.start()
        before_writes()
        self.tally.restarted()
        self._up.set()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)
        self.tally.assert_only_kills()
