"""S3 API behaviours current SDKs rely on, through boto3 at its defaults (issue 17): AWS's
status and error codes asserted, not just "an error"."""

import uuid

import pytest
from botocore.exceptions import ClientError

BUCKET = "leadshop-assets"


def err(e: ClientError):
    return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]


def test_conditional_writes_and_deletes(s3):
    key = f"conformance/{uuid.uuid4().hex[:8]}"
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"2", IfNoneMatch="*")
    assert err(e.value) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=BUCKET, Key=f"{key}-absent", Body=b"2", IfMatch="*")
    assert err(e.value) == (404, "NoSuchKey")
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=b"3", IfMatch=etag)["ETag"]
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=BUCKET, Key=key, IfMatch='"0123456789abcdef0123456789abcdef"')
    assert err(e.value) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"3"
    # leadshop-assets is versioned: the conditional delete adds a delete marker.
    out = s3.delete_object(Bucket=BUCKET, Key=key, IfMatch=etag)
    assert out["DeleteMarker"] is True
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=BUCKET, Key=key, IfMatch=etag)
    assert err(e.value) == (404, "NoSuchKey")


def test_delete_objects_with_per_key_etags(s3):
    keys = [f"conformance/{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]
    etags = [s3.put_object(Bucket=BUCKET, Key=k, Body=k.encode())["ETag"] for k in keys]
    out = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [
        {"Key": keys[0], "ETag": etags[0]},
        {"Key": keys[1], "ETag": etags[0]},  # another object's ETag
        {"Key": keys[2]},
    ]})
    assert sorted(d["Key"] for d in out["Deleted"]) == sorted([keys[0], keys[2]])
    assert [(x["Key"], x["Code"]) for x in out["Errors"]] == [(keys[1], "PreconditionFailed")]
    assert s3.get_object(Bucket=BUCKET, Key=keys[1])["Body"].read() == keys[1].encode()
