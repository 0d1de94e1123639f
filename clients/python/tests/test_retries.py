"""Retries are botocore's alone: the package adds no layer of its own.

The store cannot be made to throttle on demand, so a small HTTP endpoint on 127.0.0.1 answers
503 SlowDown as S3 does, and counts the requests that reach it: what botocore's standard mode
does with them is what the package does."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from leadshop_storage import S3Storage, StorageConfig, Throttled


class Throttling:
    """An S3 look-alike whose first `fail` HEADs answer 503 SlowDown."""

    def __init__(self, fail: int):
        self.fail = fail
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):  # noqa: N802 - http.server's name
                outer.requests += 1
                if outer.requests <= outer.fail:
                    self.send_response(503)
                    self.send_header("x-amz-request-id", "0")
                    self.send_header("Content-Length", "0")
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", "1")
                    self.send_header("ETag", '"0cc175b9c0f1b6a831c399e269772661"')
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def throttling():
    made = []

    def make(fail: int) -> Throttling:
        t = Throttling(fail)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()


def storage_at(url: str, attempts: int) -> S3Storage:
    session = boto3.session.Session(aws_access_key_id="AKIAEXAMPLE",
                                    aws_secret_access_key="secret")
    config = StorageConfig(bucket="b", endpoint_url=url, addressing_style="path",
                           max_attempts=attempts, sync_interval=0)
    return S3Storage(config, session=session)


def test_slow_down_is_retried_by_botocore_then_succeeds(throttling):
    t = throttling(fail=2)
    storage = storage_at(t.url, attempts=3)
    assert storage.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert storage.exists("k")
    assert t.requests == 3, "two refused, the third answered: botocore's attempts, no more"


def test_throttling_that_outlasts_the_attempts_is_a_typed_error_without_more_requests(throttling):
    t = throttling(fail=100)
    storage = storage_at(t.url, attempts=2)
    with pytest.raises(Throttled) as e:
        storage.exists("k")
    assert e.value.status == 503
    assert t.requests == 2, "exactly STORAGE_MAX_ATTEMPTS requests: no retry layer on top"
