"""Every operation of `S3Storage` against a real leadshop server, with the least-privilege app
key (config/iam/app-policy.json, the application role's policy on AWS)."""

import hashlib
import threading
import time

import pytest
import requests

from conftest import make_file, storage_for
from leadshop_storage import (
    AccessDenied,
    IntegrityError,
    InvalidRequest,
    NotFound,
    RateLimiter,
    S3Storage,
    StorageConfig,
)


def test_from_env_reads_the_environment_and_a_dotenv_file(tmp_path, admin_env, monkeypatch):
    for k in list(admin_env):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k, raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text("".join(f"{k}={admin_env[k]}\n" for k in (
        "AWS_S3_BUCKET_NAME", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE")) + "STORAGE_MAX_ATTEMPTS=5\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    s = S3Storage.from_env(dotenv, sync_interval=0)
    assert s.bucket == "leadshop-assets" and s.config.max_attempts == 5
    src = make_file(tmp_path / "a.bin", 1000)
    s.upload_file(src, "pytest/env/a.bin")
    assert s.exists("pytest/env/a.bin")
    with pytest.raises(ValueError, match="AWS_S3_BUCKET_NAME"):
        StorageConfig.from_env(environ={})


def test_upload_download_roundtrip_is_verified_and_atomic(storage, tmp_path):
    src = make_file(tmp_path / "report.pdf", 10 * 1024 * 1024 + 3)  # multipart (> 8 MiB)
    seen, sent = [], []

    def record(model, **_):
        sent.append(model.name)

    storage.client.meta.events.register("before-call.s3", record)
    try:
        r = storage.upload_file(src, "pytest/reports/report.pdf", metadata={"lead": "42"},
                                progress=seen.append)
    finally:
        storage.client.meta.events.unregister("before-call.s3", record)
    assert not r.queued and r.etag and r.version_id
    assert sent[0] == "CreateMultipartUpload" and sent[-1] == "CompleteMultipartUpload", sent
    assert set(sent[1:-1]) == {"UploadPart"}, "no HeadObject: the completion's answer is used"
    assert sum(seen) == src.stat().st_size
    assert r.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "out.pdf"
    got = storage.download_file("pytest/reports/report.pdf", dest)
    assert got.sha256 == r.sha256 and dest.read_bytes() == src.read_bytes()
    head = storage.client.head_object(Bucket=storage.bucket, Key="pytest/reports/report.pdf")
    assert (head["ETag"], head["VersionId"]) == (r.etag, r.version_id)
    assert head["ContentType"] == "application/pdf"
    assert head["Metadata"]["lead"] == "42" and head["Metadata"]["sha256"] == r.sha256
    assert head["Metadata"]["leadshop-upload-id"]
    assert head["ServerSideEncryption"] == "AES256"

    # A download that fails leaves the existing target alone and no partial file behind.
    dest.write_bytes(b"previous")
    with pytest.raises(NotFound):
        storage.download_file("pytest/reports/missing.pdf", dest)
    assert dest.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_small_upload_is_one_request_whose_answer_names_etag_and_version(storage, tmp_path):
    src = make_file(tmp_path / "shot.png", 300 * 1024)
    sent = []

    def record(model, **_):
        sent.append(model.name)

    storage.client.meta.events.register("before-call.s3", record)
    try:
        seen = []
        r = storage.upload_file(src, "pytest/small/shot.png", progress=seen.append)
    finally:
        storage.client.meta.events.unregister("before-call.s3", record)
    assert sent == ["PutObject"], "no HeadObject after the upload"
    assert seen == [src.stat().st_size] and r.etag and r.version_id
    head = storage.client.head_object(Bucket=storage.bucket, Key="pytest/small/shot.png")
    assert (head["ETag"], head["VersionId"]) == (r.etag, r.version_id)
    assert head["ContentType"] == "image/png" and head["Metadata"]["sha256"] == r.sha256


def test_a_large_download_is_parallel_ranged_gets_of_one_etag(storage, tmp_path):
    src = make_file(tmp_path / "big.bin", 20 * 1024 * 1024 + 5)
    r = storage.upload_file(src, "pytest/big/big.bin")
    sent = []

    def text(v):
        return v.decode() if isinstance(v, bytes) else v

    def record(request, **_):
        sent.append((text(request.headers.get("Range")), text(request.headers.get("If-Match"))))

    storage.client.meta.events.register("before-send.s3.GetObject", record)
    try:
        seen = []
        got = storage.download_file("pytest/big/big.bin", tmp_path / "big.out",
                                    progress=seen.append)
    finally:
        storage.client.meta.events.unregister("before-send.s3.GetObject", record)
    assert got.sha256 == r.sha256 and sum(seen) == src.stat().st_size
    ranges = [rng for rng, _ in sent]
    assert len(sent) >= 3 and all(rng and rng.startswith("bytes=") for rng in ranges), sent
    assert {etag for _, etag in sent} == {r.etag}, "every part pinned to the one ETag"


def test_a_download_whose_bytes_do_not_match_the_recorded_sha256_is_refused(storage, tmp_path):
    # Written by another tool with a wrong sha256 in its metadata: the target is untouched.
    storage.client.put_object(Bucket=storage.bucket, Key="pytest/bad.bin", Body=b"abc",
                              Metadata={"sha256": "0" * 64})
    dest = tmp_path / "bad.bin"
    dest.write_bytes(b"keep")
    with pytest.raises(IntegrityError):
        storage.download_file("pytest/bad.bin", dest)
    assert dest.read_bytes() == b"keep"
    # Deliberately off: `verify=False` is the caller's explicit opt-out of the SHA-256 check,
    # and this shows it only skips that check (the download itself still completes).
    storage.download_file("pytest/bad.bin", dest, verify=False)
    assert dest.read_bytes() == b"abc"


def test_presigned_get_and_put(storage, tmp_path):
    src = make_file(tmp_path / "shot.png", 5000)
    storage.upload_file(src, "pytest/screens/shot.png")
    ca = storage.config.ca_bundle
    url = storage.generate_presigned_url("pytest/screens/shot.png", expires_in=60)
    assert "X-Amz-Signature=" in url
    r = requests.get(url, verify=ca, timeout=30)
    assert r.status_code == 200 and r.content == src.read_bytes()
    put = storage.generate_presigned_url("pytest/screens/up.png", method="PUT",
                                         content_type="image/png")
    r = requests.put(put, data=b"png!", headers={"Content-Type": "image/png"}, verify=ca,
                     timeout=30)
    assert r.status_code == 200, r.text
    # Another content type than the one signed is refused.
    r = requests.put(put, data=b"png!", headers={"Content-Type": "text/html"}, verify=ca,
                     timeout=30)
    assert r.status_code == 403
    assert storage.exists("pytest/screens/up.png")
    with pytest.raises(ValueError):
        storage.generate_presigned_url("k", expires_in=8 * 24 * 3600)


def test_presigned_post_enforces_its_size_and_type(storage):
    post = storage.generate_presigned_post("pytest/uploads/form.txt", content_type="text/plain",
                                           max_size=100)
    ca = storage.config.ca_bundle
    ok = requests.post(post["url"], data=post["fields"],
                       files={"file": ("form.txt", b"hello", "text/plain")}, verify=ca, timeout=30)
    assert ok.status_code in (200, 201, 204), ok.text
    assert storage.exists("pytest/uploads/form.txt")
    # The bucket travels as a form field (Garage requires it); another bucket there is refused
    # by the policy's {"bucket": ...} condition.
    assert post["fields"]["bucket"] == storage.bucket
    other = requests.post(post["url"], data={**post["fields"], "bucket": "leadshop-security-logs"},
                          files={"file": ("form.txt", b"hello", "text/plain")}, verify=ca, timeout=30)
    assert other.status_code in (400, 403), other.text
    big = requests.post(post["url"], data=post["fields"],
                        files={"file": ("form.txt", b"x" * 101, "text/plain")}, verify=ca,
                        timeout=30)
    assert big.status_code in (400, 403) and "EntityTooLarge" in big.text, big.text


def test_delete_exists_and_list(storage, tmp_path):
    for i in range(3):
        storage.upload_file(make_file(tmp_path / f"{i}.txt", 10 + i, seed=i), f"pytest/list/{i}.txt")
    listed = list(storage.list_objects("pytest/list/"))
    assert [o.key for o in listed] == [f"pytest/list/{i}.txt" for i in range(3)]
    assert [o.size for o in listed] == [10, 11, 12]
    assert len(list(storage.list_objects("pytest/list/", max_items=2))) == 2
    storage.delete("pytest/list/1.txt")
    assert not storage.exists("pytest/list/1.txt")
    assert storage.exists("pytest/list/0.txt")
    assert [o.key for o in storage.list_objects("pytest/list/")] == ["pytest/list/0.txt", "pytest/list/2.txt"]


def test_versions_download_presign_and_delete_under_the_app_policy(storage, admin_env, tmp_path):
    """Versioned reads need s3:GetObjectVersion (granted); removing a version for good needs
    s3:DeleteObjectVersion, which the app has only under the test scripts' prefixes: elsewhere
    the history stays for the lifecycle rules and the recovery runbook."""
    ca = storage.config.ca_bundle
    for prefix, may_remove in [("pytest/versions/", False), ("integration-tests/pytest/", True)]:
        key = prefix + "report.pdf"
        one = storage.upload_file(make_file(tmp_path / "one", 3000, seed=1), key)
        two = storage.upload_file(make_file(tmp_path / "two", 4000, seed=2), key)
        assert one.version_id and two.version_id and one.version_id != two.version_id
        got = storage.download_file(key, tmp_path / "old", version_id=one.version_id)
        assert got.version_id == one.version_id and got.sha256 == one.sha256
        assert (tmp_path / "old").read_bytes() == (tmp_path / "one").read_bytes()
        url = storage.generate_presigned_url(key, version_id=one.version_id, expires_in=60)
        r = requests.get(url, verify=ca, timeout=30)
        assert r.status_code == 200 and r.content == (tmp_path / "one").read_bytes()
        if may_remove:
            storage.delete(key, version_id=one.version_id)
        else:
            with pytest.raises(AccessDenied):
                storage.delete(key, version_id=one.version_id)
            storage_for(admin_env, sync_interval=0).delete(key, version_id=one.version_id)
        with pytest.raises(NotFound):
            storage.download_file(key, tmp_path / "gone", version_id=one.version_id)
        assert storage.download_file(key, tmp_path / "now").sha256 == two.sha256


def test_the_app_key_gets_typed_access_denied_for_what_its_policy_refuses(app_env, tmp_path):
    app = storage_for(app_env, sync_interval=0)
    src = make_file(tmp_path / "a.txt", 10)
    app.upload_file(src, "pytest/app/a.txt")  # allowed: objects in leadshop-assets
    assert app.exists("pytest/app/a.txt")
    other = storage_for(app_env, bucket="leadshop-security-logs", sync_interval=0)
    with pytest.raises(AccessDenied) as e:
        other.upload_file(src, "a.txt")
    assert e.value.code == "AccessDenied" and e.value.status == 403
    with pytest.raises(AccessDenied):
        list(other.list_objects())
    wrong = storage_for({**app_env, "AWS_SECRET_ACCESS_KEY": "x" * 40}, sync_interval=0)
    with pytest.raises(AccessDenied) as e:
        wrong.exists("pytest/app/a.txt")


def test_bad_requests_get_typed_errors(storage, tmp_path):
    with pytest.raises(NotFound):
        storage.download_file("pytest/nope", tmp_path / "x")
    with pytest.raises(NotFound):
        storage.download_file("pytest/list/0.txt", tmp_path / "x", version_id="not-a-version")
    # A request the store refuses as malformed: an object key longer than 1024 bytes.
    src = make_file(tmp_path / "k.txt", 1)
    with pytest.raises(InvalidRequest) as e:
        storage.upload_file(src, "pytest/" + "k" * 1100)
    assert e.value.status == 400, e.value


def test_upload_many_is_bounded_and_rate_limited(storage, tmp_path):
    files = [(make_file(tmp_path / f"m{i}.bin", 2048, seed=i), f"pytest/many/{i:03}.bin")
             for i in range(30)]
    active = 0
    peak = 0
    lock = threading.Lock()
    original = storage.upload_file

    def counting(path, key, **kw):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return original(path, key, **kw)
        finally:
            with lock:
                active -= 1

    storage.upload_file = counting  # type: ignore[method-assign]
    t = time.monotonic()
    results = storage.upload_many(files, max_concurrency=4, rate_limit=20)
    elapsed = time.monotonic() - t
    assert all(r.error is None and r.result and not r.result.queued for r in results)
    assert peak <= 4
    # 30 starts at 20/s with a burst of 20: the last starts no sooner than 0.5 s in.
    assert elapsed >= 0.45
    assert len(list(storage.list_objects("pytest/many/"))) == 30


def test_concurrent_multipart_uploads_each_get_their_own_completion(storage, tmp_path):
    # Three multipart uploads at once on one client, two of them to the same key: each result
    # names the version its own completion made, with that version's ETag. (Under a prefix
    # the app policy lets the key list versions of.)
    keys = ["a.bin", "same.bin", "same.bin"]
    files = [(make_file(tmp_path / f"p{i}.bin", 9 * 1024 * 1024 + i, seed=i),
              f"integration-tests/parallel/{key}") for i, key in enumerate(keys)]
    results = storage.upload_many(files, max_concurrency=3)
    assert all(r.error is None and r.result for r in results), results
    versions = storage.client.list_object_versions(Bucket=storage.bucket,
                                                   Prefix="integration-tests/parallel/")["Versions"]
    made = {(v["Key"], v["VersionId"]): v["ETag"] for v in versions}
    got = {(key, r.result.version_id): r.result.etag
           for (_, key), r in zip(files, results)}
    assert len(got) == 3 and all(made[k] == etag for k, etag in got.items()), (got, made)
    for (path, key), r in zip(files, results):
        head = storage.client.head_object(Bucket=storage.bucket, Key=key,
                                          VersionId=r.result.version_id)
        assert head["Metadata"]["sha256"] == r.result.sha256


def test_rate_limiter_spaces_starts():
    rl = RateLimiter(50, burst=1)
    t = time.monotonic()
    for _ in range(11):
        rl.acquire()
    assert time.monotonic() - t >= 0.19


def test_purge_removes_every_version_under_the_test_prefixes_only(storage, admin_env, tmp_path):
    f = make_file(tmp_path / "p", 1000)
    for key in ("performance-tests/purge/a.bin", "performance-tests/purge/b.bin"):
        storage.upload_file(f, key)
        storage.upload_file(f, key)
    storage.delete("performance-tests/purge/b.bin")  # a delete marker over two versions
    assert storage.purge("performance-tests/purge/") == 5
    admin = storage_for(admin_env, sync_interval=0)
    left = admin.client.list_object_versions(Bucket=admin.bucket, Prefix="performance-tests/purge/")
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    # Elsewhere the application may not erase history: listing versions is refused.
    storage.upload_file(f, "pytest/purge/a.bin")
    with pytest.raises(AccessDenied):
        storage.purge("pytest/purge/")
    assert storage.exists("pytest/purge/a.bin")
    with pytest.raises(ValueError):
        storage.purge("")
