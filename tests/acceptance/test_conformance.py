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


def raw_listing(s3, method: str, **params) -> str:
    """The XML the server sent for one listing call (boto3 decodes url-encoded fields)."""
    seen = []
    event = {"list_objects": "ListObjects", "list_objects_v2": "ListObjectsV2",
             "list_object_versions": "ListObjectVersions"}[method]

    def keep(http_response, **_):
        seen.append(http_response.content.decode())

    s3.meta.events.register(f"after-call.s3.{event}", keep)
    try:
        getattr(s3, method)(**params)
    finally:
        s3.meta.events.unregister(f"after-call.s3.{event}", keep)
    return seen[-1]


@pytest.fixture()
def odd_keys(s3):
    p = f"conformance-list-{uuid.uuid4().hex[:8]}/"
    keys = [f"{p}a b/c+d.txt", f"{p}a b/\u00e9.txt", f"{p}x&y/z.txt"]
    for k in keys:
        s3.put_object(Bucket=BUCKET, Key=k, Body=b"x")
    return p, keys


@pytest.mark.parametrize("method", ["list_objects", "list_objects_v2", "list_object_versions"])
def test_max_keys_zero_is_an_empty_untruncated_page(s3, odd_keys, method):
    p, _ = odd_keys
    out = getattr(s3, method)(Bucket=BUCKET, Prefix=p, MaxKeys=0)
    assert out["IsTruncated"] is False
    assert not out.get("Contents") and not out.get("Versions") and not out.get("CommonPrefixes")
    assert "NextContinuationToken" not in out and "NextMarker" not in out


@pytest.mark.parametrize("method", ["list_objects", "list_objects_v2", "list_object_versions"])
def test_an_empty_delimiter_is_no_delimiter_and_not_echoed(s3, odd_keys, method):
    p, keys = odd_keys
    out = getattr(s3, method)(Bucket=BUCKET, Prefix=p, Delimiter="")
    assert "Delimiter" not in out and "CommonPrefixes" not in out
    listed = [o["Key"] for o in out.get("Contents", out.get("Versions", []))]
    assert sorted(listed) == sorted(keys)
    assert "<Delimiter>" not in raw_listing(s3, method, Bucket=BUCKET, Prefix=p, Delimiter="")


def test_url_encoding_covers_every_field_aws_encodes(s3, odd_keys):
    p, _ = odd_keys
    enc = p  # the prefix itself has nothing to encode
    v2 = raw_listing(s3, "list_objects_v2", Bucket=BUCKET, Prefix=f"{p}a ", Delimiter="/",
                     StartAfter=f"{p}a a", EncodingType="url")
    assert f"<Prefix>{enc}a%20</Prefix>" in v2 and f"<StartAfter>{enc}a%20a</StartAfter>" in v2
    assert f"<CommonPrefixes><Prefix>{enc}a%20b/</Prefix></CommonPrefixes>" in v2
    v1 = raw_listing(s3, "list_objects", Bucket=BUCKET, Prefix=f"{p}a b/", Marker=f"{p}a b/c",
                     EncodingType="url")
    assert f"<Marker>{enc}a%20b/c</Marker>" in v1 and f"<Key>{enc}a%20b/c%2Bd.txt</Key>" in v1
    versions = raw_listing(s3, "list_object_versions", Bucket=BUCKET, Prefix=f"{p}a ",
                           Delimiter="/", KeyMarker=f"{p}a a", EncodingType="url")
    assert f"<Prefix>{enc}a%20</Prefix>" in versions
    assert f"<KeyMarker>{enc}a%20a</KeyMarker>" in versions
    assert f"<CommonPrefixes><Prefix>{enc}a%20b/</Prefix></CommonPrefixes>" in versions
    # boto3 decodes what it asked to be encoded: the keys come back as they were written.
    out = s3.list_object_versions(Bucket=BUCKET, Prefix=f"{p}a b/")
    assert sorted(v["Key"] for v in out["Versions"]) == [f"{p}a b/c+d.txt", f"{p}a b/\u00e9.txt"]
