"""Throttling that outlasts botocore's retries gets the package's own backoff.

The store cannot be made to throttle on demand, so botocore's Stubber answers here: it
stands in for the HTTP exchange only; the package's retry code runs unchanged."""

import time

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from leadshop_storage import S3Storage, StorageConfig, Throttled


def stubbed(**overrides):
    client = boto3.session.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret", config=Config(retries={"mode": "standard",
                                                               "max_attempts": 1}))
    storage = S3Storage(StorageConfig(bucket="b", sync_interval=0, **overrides), client=client)
    return storage, Stubber(client)


def test_slow_down_is_retried_with_backoff_then_succeeds():
    storage, stub = stubbed()
    for _ in range(2):
        stub.add_client_error("head_object", service_error_code="SlowDown",
                              http_status_code=503)
    stub.add_response("head_object", {"ContentLength": 1}, {"Bucket": "b", "Key": "k"})
    with stub:
        t = time.monotonic()
        assert storage.exists("k")
        assert time.monotonic() - t >= 0.25 + 0.5  # two backoffs, at least half of 0.5 s and 1 s
    stub.assert_no_pending_responses()


def test_throttling_that_never_ends_is_a_typed_error():
    storage, stub = stubbed()
    storage.THROTTLE_RETRIES = 1
    for _ in range(2):
        stub.add_client_error("head_object", service_error_code="SlowDown",
                              http_status_code=503)
    with stub, pytest.raises(Throttled) as e:
        storage.exists("k")
    assert e.value.code == "SlowDown" and e.value.status == 503
