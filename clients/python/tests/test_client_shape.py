"""How the client behaves as a Python object, without a store: no thread until there is
something to deliver, errors typed by botocore's exception classes, no builtin shadowed."""

import threading
import warnings

import boto3
import botocore.exceptions as be
import pytest

from leadshop_storage import S3Storage, StorageConfig, StorageError, StorageUnavailable
from leadshop_storage.errors import translate


def sync_threads():
    return [t for t in threading.enumerate() if t.name == "leadshop-storage-sync"]


def client(tmp_path, **overrides):
    session = boto3.session.Session(aws_access_key_id="AKIAEXAMPLE",
                                    aws_secret_access_key="secret")
    # Port 9 (discard) on 127.0.0.1: nothing listens, every request fails to connect.
    config = StorageConfig(bucket="b", endpoint_url="http://127.0.0.1:9", max_attempts=1,
                           outbox_dir=tmp_path / "outbox", sync_interval=60, **overrides)
    return S3Storage(config, session=session)


def test_the_constructor_starts_no_thread_and_a_queued_write_starts_one(tmp_path):
    before = len(sync_threads())
    s = client(tmp_path)
    try:
        assert len(sync_threads()) == before, "a thread was started by the constructor"
        f = tmp_path / "f.txt"
        f.write_bytes(b"queued")
        # The store cannot be reached: the upload goes to the outbox, and delivery starts.
        assert s.upload_file(f, "k/f.txt").queued
        assert len(sync_threads()) == before + 1
        assert s.start_delivery(), "already running: a second call starts no other"
        assert len(sync_threads()) == before + 1
    finally:
        s.close()
    assert len(sync_threads()) == before


def test_without_an_outbox_no_delivery_thread_is_ever_started(tmp_path):
    session = boto3.session.Session(aws_access_key_id="AKIAEXAMPLE",
                                    aws_secret_access_key="secret")
    s = S3Storage(StorageConfig(bucket="b", endpoint_url="http://127.0.0.1:9"), session=session)
    assert s.start_delivery() is False


def test_list_is_a_deprecated_alias_of_list_objects(tmp_path):
    s = client(tmp_path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            listing = s.list("p/")
        assert [w.category for w in caught] == [DeprecationWarning]
        assert "list_objects" in str(caught[0].message)
        # It is the same generator: nothing is asked of the store until it is read.
        assert type(listing).__name__ == "generator"
        with pytest.raises(StorageUnavailable):
            next(s.list_objects("p/"))
    finally:
        s.close()


@pytest.mark.parametrize("err", [
    be.EndpointConnectionError(endpoint_url="https://x"),
    be.SSLError(endpoint_url="https://x", error="bad certificate"),
    be.ProxyConnectionError(proxy_url="http://p", error="refused"),
    be.ConnectTimeoutError(endpoint_url="https://x"),
    be.ReadTimeoutError(endpoint_url="https://x"),
    be.ConnectionClosedError(endpoint_url="https://x"),
    be.ResponseStreamingError(error="reset"),
    be.IncompleteReadError(actual_bytes=1, expected_bytes=2),
])
def test_transport_failures_are_unavailable_by_class(err):
    assert type(translate(err, "k")) is StorageUnavailable


def test_other_botocore_errors_are_plain_storage_errors():
    err = translate(be.NoCredentialsError(), "k")
    assert type(err) is StorageError
