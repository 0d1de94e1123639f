"""S3 API behaviours current SDKs rely on, through boto3 at its defaults (issue 17): AWS's
status and error codes asserted, not just "an error"."""

import time
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


ATTRS = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_get_object_attributes_of_a_simple_object(s3):
    key = f"conformance/{uuid.uuid4().hex[:8]}"
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=b"hello", ChecksumAlgorithm="SHA256")
    out = s3.get_object_attributes(Bucket=BUCKET, Key=key, ObjectAttributes=ATTRS)
    assert out["ETag"].strip('"') == put["ETag"].strip('"')
    assert out["Checksum"] == {"ChecksumSHA256": put["ChecksumSHA256"], "ChecksumType": "FULL_OBJECT"}
    assert out["StorageClass"] == "STANDARD" and out["ObjectSize"] == 5
    assert "ObjectParts" not in out  # not a multipart object
    assert out["VersionId"] == put["VersionId"]
    only = s3.get_object_attributes(Bucket=BUCKET, Key=key, ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == 5 and "ETag" not in only and "Checksum" not in only
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=BUCKET, Key=key + "-absent", ObjectAttributes=ATTRS)
    assert err(e.value) == (404, "NoSuchKey")


def test_get_object_attributes_lists_parts_with_their_checksums(s3):
    key = f"conformance/{uuid.uuid4().hex[:8]}"
    up = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32")
    parts = []
    for n, body in enumerate([b"a" * 5 * 1024 * 1024, b"b" * 5 * 1024 * 1024, b"c" * 1000], 1):
        r = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=up["UploadId"], PartNumber=n,
                           Body=body, ChecksumAlgorithm="CRC32")
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": parts})
    out = s3.get_object_attributes(Bucket=BUCKET, Key=key, ObjectAttributes=ATTRS, MaxParts=2)
    op = out["ObjectParts"]
    assert (op["TotalPartsCount"], op["MaxParts"], op["IsTruncated"], op["NextPartNumberMarker"]) \
        == (3, 2, True, 2)
    assert [(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in op["Parts"]] == \
        [(1, 5 * 1024 * 1024, parts[0]["ChecksumCRC32"]), (2, 5 * 1024 * 1024, parts[1]["ChecksumCRC32"])]
    rest = s3.get_object_attributes(Bucket=BUCKET, Key=key, ObjectAttributes=["ObjectParts"],
                                    PartNumberMarker=2)["ObjectParts"]
    assert [p["PartNumber"] for p in rest["Parts"]] == [3] and rest["IsTruncated"] is False
    assert out["ETag"].strip('"').endswith("-3")
    assert out["Checksum"]["ChecksumType"] == "COMPOSITE"
    assert out["ObjectSize"] == 10 * 1024 * 1024 + 1000
    # The SDKs' checksum validation reads the same stored checksum from HEAD and GET.
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumType"] == "COMPOSITE"
    assert head["ChecksumCRC32"] == out["Checksum"]["ChecksumCRC32"]
    got = s3.get_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == out["Checksum"]["ChecksumCRC32"]
    assert len(got["Body"].read()) == out["ObjectSize"]


def test_sigv2_presigned_urls_for_bucket_operations(s3, env, server):
    """boto3's default presigning in us-east-1 is SigV2, whose canonical resource for a bucket
    is `/bucket/`: bucket-level URLs work like object URLs, and stay bound to what was signed."""
    import requests

    key = f"conformance/{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    ca = env["AWS_CA_BUNDLE"]
    url = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": BUCKET, "Prefix": key})
    assert "Signature=" in url and "X-Amz-Signature" not in url  # SigV2, boto3's default
    r = requests.get(url, verify=ca, timeout=10)
    assert r.status_code == 200 and f"<Key>{key}</Key>" in r.text
    url = s3.generate_presigned_url("get_bucket_versioning", Params={"Bucket": BUCKET})
    r = requests.get(url, verify=ca, timeout=10)
    assert r.status_code == 200 and "<Status>Enabled</Status>" in r.text
    # Another bucket under the same signature, or a changed signature: refused.
    r = requests.get(url.replace(f"/{BUCKET}?", "/leadshop-security-logs?"), verify=ca, timeout=10)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    r = requests.get(url.replace("Signature=", "Signature=A"), verify=ca, timeout=10)
    assert r.status_code == 403
    # The app key may not read the versioning configuration: the URL it signs is refused.
    app = server.env("app")
    import boto3
    app_s3 = boto3.client("s3", endpoint_url=app["AWS_ENDPOINT_URL"], verify=ca,
                          aws_access_key_id=app["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=app["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
    url = app_s3.generate_presigned_url("get_bucket_versioning", Params={"Bucket": BUCKET})
    r = requests.get(url, verify=ca, timeout=10)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text


def test_acls_under_bucket_owner_enforced(s3):
    owner_only = lambda acl: [(g["Grantee"]["Type"], g["Permission"]) for g in acl["Grants"]]  # noqa: E731
    acl = s3.get_bucket_acl(Bucket=BUCKET)
    assert owner_only(acl) == [("CanonicalUser", "FULL_CONTROL")]
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    key = f"conformance/{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"x", ACL="bucket-owner-full-control")
    assert owner_only(s3.get_object_acl(Bucket=BUCKET, Key=key)) == [("CanonicalUser", "FULL_CONTROL")]
    # What changes nothing is accepted; anything that would grant is refused.
    s3.put_object_acl(Bucket=BUCKET, Key=key, ACL="private")
    s3.put_bucket_acl(Bucket=BUCKET, ACL="private")
    s3.put_bucket_acl(Bucket=BUCKET, AccessControlPolicy={
        "Owner": acl["Owner"], "Grants": acl["Grants"]})
    for call in (lambda: s3.put_object_acl(Bucket=BUCKET, Key=key, ACL="public-read"),
                 lambda: s3.put_bucket_acl(Bucket=BUCKET, ACL="authenticated-read"),
                 lambda: s3.put_object_acl(Bucket=BUCKET, Key=key,
                                           GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"'),
                 lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"y", ACL="public-read-write")):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e.value) in {(400, "AccessControlListNotSupported"), (403, "AccessDenied")}, e.value
    # The object was not replaced by the refused write.
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"x"
    with pytest.raises(ClientError) as e:
        s3.get_object_acl(Bucket=BUCKET, Key=key + "-absent")
    assert err(e.value) == (404, "NoSuchKey")
    controls = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]
    assert controls == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    s3.put_bucket_ownership_controls(Bucket=BUCKET, OwnershipControls=controls)


def _sigv4_with_date_header(env, method, path, date_header, sign_date=True):
    """A SigV4 request whose time is in a signed `Date` header, without `x-amz-date` (AWS
    accepts it; older clients and hand-written signers send it)."""
    import datetime
    import hashlib
    import hmac
    from urllib.parse import urlparse

    host = urlparse(env["AWS_ENDPOINT_URL"]).netloc
    t = datetime.datetime.strptime(date_header, "%a, %d %b %Y %H:%M:%S GMT")
    amz, day = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
    payload = hashlib.sha256(b"").hexdigest()
    headers = {"date": date_header, "host": host, "x-amz-content-sha256": payload}
    names = sorted(headers) if sign_date else sorted(h for h in headers if h != "date")
    canonical = "\n".join([method, path, "", *[f"{n}:{headers[n]}" for n in names], "",
                           ";".join(names), payload])
    scope = f"{day}/us-east-1/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + env["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={env['AWS_ACCESS_KEY_ID']}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={sig}")
    del headers["host"]
    return headers


def test_sigv4_with_a_signed_date_header_instead_of_x_amz_date(s3, env):
    import email.utils

    import requests

    key = f"conformance/{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"dated")
    url = f"{env['AWS_ENDPOINT_URL']}/{BUCKET}/{key}"
    now = email.utils.formatdate(usegmt=True)
    r = requests.get(url, headers=_sigv4_with_date_header(env, "GET", f"/{BUCKET}/{key}", now),
                     verify=env["AWS_CA_BUNDLE"], timeout=10)
    assert r.status_code == 200 and r.content == b"dated", r.text
    # The Date header must be signed, and it is the time checked: an old one is refused.
    r = requests.get(url, headers=_sigv4_with_date_header(env, "GET", f"/{BUCKET}/{key}", now,
                                                           sign_date=False),
                     verify=env["AWS_CA_BUNDLE"], timeout=10)
    assert r.status_code == 403
    old = email.utils.formatdate(timeval=time.time() - 3600, usegmt=True)
    r = requests.get(url, headers=_sigv4_with_date_header(env, "GET", f"/{BUCKET}/{key}", old),
                     verify=env["AWS_CA_BUNDLE"], timeout=10)
    assert r.status_code == 403 and "RequestTimeTooSkewed" in r.text, r.text
    # A tampered Date (signature over another time) is refused.
    h = _sigv4_with_date_header(env, "GET", f"/{BUCKET}/{key}", now)
    h["date"] = email.utils.formatdate(timeval=time.time() + 5, usegmt=True)
    if h["date"] != now:
        r = requests.get(url, headers=h, verify=env["AWS_CA_BUNDLE"], timeout=10)
        assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text


def test_archived_classes_need_a_restore_and_restores_expire(tmp_path):
    """GLACIER and DEEP_ARCHIVE keep data archived: GET and copies answer InvalidObjectState
    until RestoreObject's copy is ready, for `Days` days. With `day_seconds = 1` a day is a
    second: a Standard GLACIER restore (5 hours) takes about 0.2 s."""
    import boto3

    from leadshop_proc import Leadshop

    srv = Leadshop(tmp_path / "data", config="day_seconds = 1\n").start()
    try:
        e = srv.env("admin")
        s3 = boto3.client("s3", endpoint_url=e["AWS_ENDPOINT_URL"], verify=e["AWS_CA_BUNDLE"],
                          aws_access_key_id=e["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
        s3.put_object(Bucket=BUCKET, Key="cold", Body=b"archived", StorageClass="GLACIER")
        s3.put_object(Bucket=BUCKET, Key="warm", Body=b"x")
        with pytest.raises(ClientError) as err_get:
            s3.get_object(Bucket=BUCKET, Key="cold")
        assert err(err_get.value) == (403, "InvalidObjectState")
        with pytest.raises(ClientError) as err_copy:
            s3.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "cold"})
        assert err(err_copy.value) == (403, "InvalidObjectState")
        head = s3.head_object(Bucket=BUCKET, Key="cold")
        assert head["StorageClass"] == "GLACIER" and "Restore" not in head
        # Not archived, or no such tier for the class: refused.
        with pytest.raises(ClientError) as e1:
            s3.restore_object(Bucket=BUCKET, Key="warm", RestoreRequest={"Days": 1})
        assert err(e1.value) == (403, "InvalidObjectState")
        s3.put_object(Bucket=BUCKET, Key="deep", Body=b"x", StorageClass="DEEP_ARCHIVE")
        with pytest.raises(ClientError) as e2:
            s3.restore_object(Bucket=BUCKET, Key="deep", RestoreRequest={
                "Days": 1, "GlacierJobParameters": {"Tier": "Expedited"}})
        assert err(e2.value) == (400, "InvalidArgument")
        # A restore: 202, in progress (a second one is 409), then readable.
        r = s3.restore_object(Bucket=BUCKET, Key="cold", RestoreRequest={
            "Days": 2, "GlacierJobParameters": {"Tier": "Standard"}})
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert s3.head_object(Bucket=BUCKET, Key="cold")["Restore"] == 'ongoing-request="true"'
        with pytest.raises(ClientError) as e3:
            s3.restore_object(Bucket=BUCKET, Key="cold", RestoreRequest={"Days": 2})
        assert err(e3.value) == (409, "RestoreAlreadyInProgress")
        deadline = time.monotonic() + 120
        while s3.head_object(Bucket=BUCKET, Key="cold")["Restore"].startswith('ongoing-request="true"'):
            assert time.monotonic() < deadline, "the restore never completed"
            time.sleep(0.05)
        assert 'ongoing-request="false", expiry-date="' in s3.head_object(Bucket=BUCKET, Key="cold")["Restore"]
        assert s3.get_object(Bucket=BUCKET, Key="cold")["Body"].read() == b"archived"
        assert s3.head_object(Bucket=BUCKET, Key="cold")["StorageClass"] == "GLACIER"
        # The copy goes away after its days.
        deadline = time.monotonic() + 120
        while "Restore" in s3.head_object(Bucket=BUCKET, Key="cold"):
            assert time.monotonic() < deadline, "the restored copy never expired"
            time.sleep(0.1)
        with pytest.raises(ClientError) as e4:
            s3.get_object(Bucket=BUCKET, Key="cold")
        assert err(e4.value) == (403, "InvalidObjectState")
    finally:
        srv.stop()


def test_bucket_sub_resources_a_refresh_reads(s3):
    """What Terraform's provider and SDK tools read of every bucket: tagging round-trips; the
    configurations leadshop does not offer answer as AWS does for a bucket without them."""
    bucket = f"subres-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err(e.value) == (404, "NoSuchTagSet")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "Environment", "Value": "dev"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "Environment", "Value": "dev"}]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "aws:x", "Value": "y"}]})
    assert err(e.value) == (400, "InvalidTag")
    s3.delete_bucket_tagging(Bucket=bucket)

    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    n = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert not any(k in n for k in ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations"))
    for call, expected in [
        (lambda: s3.get_bucket_website(Bucket=bucket), (404, "NoSuchWebsiteConfiguration")),
        (lambda: s3.get_bucket_replication(Bucket=bucket), (404, "ReplicationConfigurationNotFoundError")),
        (lambda: s3.get_object_lock_configuration(Bucket=bucket), (404, "ObjectLockConfigurationNotFoundError")),
        (lambda: s3.get_object_retention(Bucket=bucket, Key="k"), (400, "InvalidRequest")),
        (lambda: s3.get_object_legal_hold(Bucket=bucket, Key="k"), (400, "InvalidRequest")),
        (lambda: s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "i.html"}}),
         (501, "NotImplemented")),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        assert err(e.value) == expected
    s3.delete_bucket_website(Bucket=bucket)
    s3.delete_bucket_replication(Bucket=bucket)
    s3.put_bucket_accelerate_configuration(Bucket=bucket, AccelerateConfiguration={"Status": "Suspended"})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    s3.delete_bucket(Bucket=bucket)


def test_object_lock_with_boto3(s3, env):
    """Object Lock as boto3 drives it: a bucket created with it, default GOVERNANCE retention
    that only an explicit bypass lifts, COMPLIANCE that cannot be shortened, a legal hold, and
    AWS's rule that a locking upload must carry Content-MD5 or a checksum."""
    import datetime
    import subprocess

    bucket = f"locked-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    got = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert got["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}

    v = s3.put_object(Bucket=bucket, Key="report.pdf", Body=b"%PDF")["VersionId"]
    head = s3.head_object(Bucket=bucket, Key="report.pdf")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="report.pdf", VersionId=v)
    assert err(e.value) == (403, "AccessDenied")
    s3.delete_object(Bucket=bucket, Key="report.pdf", VersionId=v, BypassGovernanceRetention=True)

    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    c = s3.put_object(Bucket=bucket, Key="audit.log", Body=b"entry", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=until)["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=bucket, Key="audit.log", VersionId=c, BypassGovernanceRetention=True,
                                Retention={"Mode": "COMPLIANCE",
                                           "RetainUntilDate": until - datetime.timedelta(days=1)})
    assert err(e.value) == (403, "AccessDenied")
    result = s3.delete_objects(Bucket=bucket, BypassGovernanceRetention=True,
                               Delete={"Objects": [{"Key": "audit.log", "VersionId": c}]})
    assert [x["Code"] for x in result["Errors"]] == ["AccessDenied"]

    s3.put_object_legal_hold(Bucket=bucket, Key="audit.log", VersionId=c, LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=bucket, Key="audit.log", VersionId=c)["LegalHold"]["Status"] == "ON"

    # A presigned PUT carries no checksum: into a bucket that locks what it stores, refused.
    sigv4 = boto3_client_s3v4(env)
    url = sigv4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "raw"}, ExpiresIn=300)
    out = subprocess.run(["curl", "-s", "--cacert", env["AWS_CA_BUNDLE"], "-X", "PUT", "--data-binary", "raw",
                          "-w", "\n%{http_code}", url], capture_output=True, text=True, timeout=30).stdout
    assert out.endswith("\n400") and "<Code>InvalidRequest</Code>" in out and "Content-MD5" in out, out


def boto3_client_s3v4(env):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                        region_name=env["AWS_DEFAULT_REGION"], config=Config(signature_version="s3v4"))


def test_acls_where_object_ownership_enables_them(s3, env):
    """ObjectWriter: a public-read object is readable by anyone (curl, unsigned), the bucket's
    Public Access Block settings are honoured, and BucketOwnerEnforced switches ACLs off."""
    import subprocess

    bucket = f"acls-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    # New buckets block public access, as on AWS since 2023: lift it to share.
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    s3.delete_public_access_block(Bucket=bucket)
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"for everyone", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="mine.txt", Body=b"for me")
    grants = s3.get_object_acl(Bucket=bucket, Key="shared.txt")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ"} in grants

    def anonymous(key):
        out = subprocess.run(["curl", "-s", "--cacert", env["AWS_CA_BUNDLE"], "-w", "\n%{http_code}",
                              f"{env['AWS_ENDPOINT_URL']}/{bucket}/{key}"],
                             capture_output=True, text=True, timeout=30).stdout
        body, _, code = out.rpartition("\n")
        return int(code), body

    assert anonymous("shared.txt") == (200, "for everyone")
    assert anonymous("mine.txt")[0] == 403
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    assert anonymous("shared.txt")[0] == 403
    with pytest.raises(ClientError) as e:
        s3.put_object_acl(Bucket=bucket, Key="mine.txt", ACL="public-read")
    assert err(e.value) == (403, "AccessDenied")
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert anonymous("shared.txt")[0] == 403


@pytest.mark.parametrize("transport", [
    ["--http1.0"],                                          # old clients; ALPN offers only http/1.0
    ["--http1.1"],                                          # curl sends Expect: 100-continue here
    ["--http1.1", "-H", "Transfer-Encoding: chunked"],      # no Content-Length
    ["--http2"],                                            # offers h2 and http/1.1: gets 1.1
])
def test_presigned_put_and_get_over_every_http_version(env, s3, tmp_path, transport):
    """What old and new HTTP clients send around a body: HTTP/1.0, Expect: 100-continue,
    chunked transfer encoding, a client that would take HTTP/2 — the same object arrives and
    comes back (HTTP/2 itself: the test below)."""
    import os
    import subprocess

    data = tmp_path / "f"
    data.write_bytes(os.urandom(2 * 1024 * 1024 + 17))
    sigv4 = boto3_client_s3v4(env)
    key = f"transport/{uuid.uuid4().hex[:8]}"
    put = sigv4.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    get = sigv4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    curl = ["curl", "-s", "--cacert", env["AWS_CA_BUNDLE"], *transport]
    out = subprocess.run([*curl, "-T", str(data), "-o", "/dev/null", "-w", "%{http_code}", put],
                         capture_output=True, text=True, timeout=60).stdout
    assert out == "200", out
    back = tmp_path / "back"
    out = subprocess.run([*curl, "-o", str(back), "-w", "%{http_code}", get],
                         capture_output=True, text=True, timeout=60).stdout
    assert out == "200" and back.read_bytes() == data.read_bytes()


def test_http_1_1_is_preferred_and_a_client_that_speaks_only_http2_gets_it(env, s3, tmp_path):
    """As AWS S3 does, a client offering HTTP/1.1 and HTTP/2 speaks HTTP/1.1 (the SDKs put
    every request on one HTTP/2 connection otherwise: docs/BENCHMARKS.md); a client offering
    only h2 gets HTTP/2, and a presigned PUT and GET of 2 MiB work over it."""
    import os
    import subprocess

    from h2client import request

    sigv4 = boto3_client_s3v4(env)
    key = f"transport/{uuid.uuid4().hex[:8]}"
    put = sigv4.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    get = sigv4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    body = os.urandom(2 * 1024 * 1024 + 17)
    status, _, _, alpn = request(put, env["AWS_CA_BUNDLE"], "PUT", body)
    assert (status, alpn) == (200, "h2")
    status, headers, back, _ = request(get, env["AWS_CA_BUNDLE"])
    assert status == 200 and back == body and headers["content-length"] == str(len(body))

    both = subprocess.run(["curl", "-s", "--cacert", env["AWS_CA_BUNDLE"], "--http2", "-o", "/dev/null",
                           "-w", "%{http_version} %{http_code}", get],
                          capture_output=True, text=True, timeout=60).stdout
    assert both == "1.1 200", both
