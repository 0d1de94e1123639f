"""The seed's own validation commands (PRP-000), unchanged, against `leadshop serve`.

Timings against the seed's SLA (upload < 30 s, download < 10 s, presign < 1 s) are printed and
recorded in docs/BENCHMARKS.md; they are not asserted here, since CI machines are shared.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib

import pytest

TEN_MB = 10 * 1024 * 1024


def run(cmd, env, check=True, **kw):
    return subprocess.run(cmd, env=env, check=check, capture_output=True, text=True, **kw)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def ten_mb(tmp_path_factory):
    path = tmp_path_factory.mktemp("files") / "10MB.bin"
    path.write_bytes(os.urandom(TEN_MB))
    return path


def test_aws_s3_ls_shows_the_buckets(env):
    out = run(["aws", "s3", "ls"], env).stdout
    assert "leadshop-assets" in out and "leadshop-security-logs" in out
    run(["aws", "s3", "ls", "s3://leadshop-assets"], env)


def test_seed_head_bucket_one_liner(env):
    code = "import boto3; print(boto3.client('s3').head_bucket(Bucket='leadshop-assets'))"
    out = run([sys.executable, "-c", code], env).stdout
    assert "'HTTPStatusCode': 200" in out


def test_cli_upload_presign_and_curl_download(env, ten_mb, tmp_path):
    t0 = time.monotonic()
    run(["aws", "s3", "cp", str(ten_mb), "s3://leadshop-assets/reports/10MB.bin"], env)
    t1 = time.monotonic()
    url = run(["aws", "s3", "presign", "s3://leadshop-assets/reports/10MB.bin", "--expires-in", "300"], env).stdout.strip()
    t2 = time.monotonic()
    out = tmp_path / "down.bin"
    # No credentials: the presigned URL alone grants the download.
    res = subprocess.run(["curl", "-sS", "--fail", "--cacert", env["AWS_CA_BUNDLE"], "-o", str(out), url],
                         capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    t3 = time.monotonic()
    assert res.returncode == 0, res.stderr
    assert sha256(out) == sha256(ten_mb)
    print(f"SLA: aws s3 cp 10 MB {t1 - t0:.2f}s, presign {t2 - t1:.2f}s, curl download {t3 - t2:.2f}s")


def test_boto3_upload_file_presigned_get_both_signature_versions(env, s3, ten_mb, tmp_path):
    import boto3
    from botocore.config import Config

    s3.upload_file(str(ten_mb), "leadshop-assets", "reports/boto3.bin")
    v2 = s3.generate_presigned_url("get_object", Params={"Bucket": "leadshop-assets", "Key": "reports/boto3.bin"}, ExpiresIn=300)
    assert "Signature=" in v2, "botocore's us-east-1 default presigns with SigV2"
    v4_client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                             aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                             region_name="us-east-1", config=Config(signature_version="s3v4"))
    v4 = v4_client.generate_presigned_url("get_object", Params={"Bucket": "leadshop-assets", "Key": "reports/boto3.bin"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in v4
    for url in (v2, v4):
        out = tmp_path / "d.bin"
        subprocess.run(["curl", "-sS", "--fail", "--cacert", env["AWS_CA_BUNDLE"], "-o", str(out), url], check=True)
        assert sha256(out) == sha256(ten_mb)
    # A tampered presigned URL is refused.
    sig_at = v4.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    flipped = "0" if v4[sig_at] != "0" else "1"
    bad = v4[:sig_at] + flipped + v4[sig_at + 1:]
    res = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", env["AWS_CA_BUNDLE"], bad],
                         capture_output=True, text=True)
    assert res.stdout == "403"


def test_head_object_and_versioning_via_s3api(env):
    run(["aws", "s3", "cp", "-", "s3://leadshop-assets/screenshots/a.png"], env, input="png-bytes")
    head = json.loads(run(["aws", "s3api", "head-object", "--bucket", "leadshop-assets", "--key", "screenshots/a.png",
                           "--checksum-mode", "ENABLED"], env).stdout)
    assert head["ContentLength"] == len("png-bytes")
    assert head["VersionId"] and head["VersionId"] != "null"
    # The CLI's default CRC32, as computed here from the bytes sent.
    assert head["ChecksumCRC32"] == base64.b64encode(zlib.crc32(b"png-bytes").to_bytes(4, "big")).decode(), head
    ver = json.loads(run(["aws", "s3api", "get-bucket-versioning", "--bucket", "leadshop-assets"], env).stdout)
    assert ver["Status"] == "Enabled"
    versions = json.loads(run(["aws", "s3api", "list-object-versions", "--bucket", "leadshop-assets",
                               "--prefix", "screenshots/a.png"], env).stdout)
    assert len(versions["Versions"]) == 1


def test_boto3_default_checksums_round_trip(s3):
    body = os.urandom(3 * 1024 * 1024 + 17)
    put = s3.put_object(Bucket="leadshop-assets", Key="tmp/checksummed", Body=body)
    assert "ChecksumCRC32" in put, "boto3 >= 1.36 sends a CRC32 trailer by default"
    got = s3.get_object(Bucket="leadshop-assets", Key="tmp/checksummed", ChecksumMode="ENABLED")
    assert got["Body"].read() == body  # botocore validates the returned checksum
    for alg in ("CRC32C", "CRC64NVME", "SHA1", "SHA256"):
        put = s3.put_object(Bucket="leadshop-assets", Key=f"tmp/{alg}", Body=body, ChecksumAlgorithm=alg)
        assert f"Checksum{alg}" in put
        got = s3.get_object(Bucket="leadshop-assets", Key=f"tmp/{alg}", ChecksumMode="ENABLED")
        assert got["Body"].read() == body


def test_presigned_put_without_checksum_gets_crc64nvme(env, s3):
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "leadshop-assets", "Key": "uploads/p.txt"}, ExpiresIn=300)
    # curl would add "Content-Type: application/x-www-form-urlencoded", which the signature
    # does not cover (AWS refuses that too): send none, as a browser PUT of a Blob does.
    res = subprocess.run(["curl", "-sS", "--fail", "--cacert", env["AWS_CA_BUNDLE"], "-X", "PUT", "-H", "Content-Type:",
                          "--data-binary", "hello", url],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    head = s3.head_object(Bucket="leadshop-assets", Key="uploads/p.txt", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 5
    assert "ChecksumCRC64NVME" in head


def test_delete_objects_without_content_md5(s3):
    for i in range(3):
        s3.put_object(Bucket="leadshop-assets", Key=f"tmp/del/{i}", Body=b"x")
    out = s3.delete_objects(Bucket="leadshop-assets", Delete={"Objects": [{"Key": f"tmp/del/{i}"} for i in range(3)]})
    assert len(out["Deleted"]) == 3
    assert s3.list_objects_v2(Bucket="leadshop-assets", Prefix="tmp/del/")["KeyCount"] == 0


def test_url_encoded_listing_is_decoded_by_boto3(s3):
    s3.put_object(Bucket="leadshop-assets", Key="tmp/enc/a b+c\u00e9", Body=b"x")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="leadshop-assets", Prefix="tmp/enc/")["Contents"]]
    assert keys == ["tmp/enc/a b+c\u00e9"]


def test_errors_clients_expect(env, s3):
    from botocore.exceptions import ClientError

    def code(fn, **kw):
        with pytest.raises(ClientError) as e:
            fn(**kw)
        return e.value.response["Error"]["Code"]

    assert code(s3.get_object, Bucket="leadshop-assets", Key="nope") == "NoSuchKey"
    assert code(s3.head_bucket, Bucket="no-such-bucket-here") == "404"
    assert code(s3.put_object, Bucket="leadshop-assets", Key="k" * 1025, Body=b"x") == "KeyTooLongError"
    assert code(s3.put_object, Bucket="leadshop-assets", Key="x", Body=b"x", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==") == "BadDigest"
    assert code(s3.create_bucket, Bucket="leadshop-assets") == "BucketAlreadyOwnedByYou"
    res = run(["aws", "s3", "ls", "s3://leadshop-assets"], {**env, "AWS_SECRET_ACCESS_KEY": "x" * 40}, check=False)
    assert res.returncode != 0 and "SignatureDoesNotMatch" in res.stderr
    res = run(["aws", "s3", "ls", "s3://leadshop-assets"], {**env, "AWS_ACCESS_KEY_ID": "AKIANOTAKEY000000000"}, check=False)
    assert res.returncode != 0 and "InvalidAccessKeyId" in res.stderr


def test_plain_http_never_serves_data(server, env):
    http = server.endpoints["http"]
    res = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", "Accept: text/html",
                          f"{http}/leadshop-assets/screenshots/a.png"], capture_output=True, text=True)
    assert res.stdout == f"301 {server.endpoints['s3']}/leadshop-assets/screenshots/a.png"
    # The AWS CLI pointed at the HTTP listener, with valid keys, is refused.
    res = run(["aws", "s3", "ls", "s3://leadshop-assets", "--endpoint-url", http], env, check=False)
    assert res.returncode != 0 and "AccessDenied" in res.stderr


def test_anonymous_https_is_refused(server, env):
    res = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "--cacert", env["AWS_CA_BUNDLE"],
                          f"{server.endpoints['s3']}/leadshop-assets/screenshots/a.png"], capture_output=True, text=True)
    assert res.stdout.endswith("\n403") and "AccessDenied" in res.stdout


def test_leadshop_env_and_console(server, env):
    for var in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_S3_BUCKET_NAME"):
        assert env.get(var), var
    assert env["AWS_S3_BUCKET_NAME"] == "leadshop-assets"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert oct(os.stat(server.data_dir / "credentials").st_mode & 0o777) == "0o600"
    page = urllib.request.urlopen(server.endpoints["console"]).read().decode()
    # Without signing in, the console is its sign-in page and tells nothing about the data.
    assert "<title>leadshop console</title>" in page
    assert "leadshop-assets" not in page and "leadshop-security-logs" not in page
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.endpoints["console"] + "/s3/")
    assert refused.value.code == 401


def test_sigterm_drains_and_exits_zero(tmp_path):
    from leadshop_proc import Leadshop

    srv = Leadshop(tmp_path / "data").start()
    assert (tmp_path / "data" / "endpoints.json").exists()
    assert srv.stop() == 0
    # Nothing listens any more: no tool may find an endpoint to connect to.
    assert not (tmp_path / "data" / "endpoints.json").exists()


def test_a_busy_port_stops_the_start_before_anything_is_made(tmp_path):
    """Listeners bind first: a port in use leaves no half-made data directory, and the error
    names the address once. Host names are accepted in the addresses."""
    import socket
    from leadshop_proc import BIN

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        data = tmp_path / "data"
        r = subprocess.run(
            [str(BIN), "serve", "--data-dir", str(data), "--s3-addr", f"localhost:{port}",
             "--http-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=60,
        )
    assert r.returncode == 1, r.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr, r.stderr
    assert r.stderr.count("Address already in use") == 1, r.stderr
    assert not data.exists(), "nothing made before the ports were bound"
    # `localhost` was resolved (to the address named in the error); a free port then starts.
    from leadshop_proc import Leadshop
    srv = Leadshop(data).start()
    assert srv.stop() == 0


def test_sigterm_lets_an_in_flight_upload_finish(tmp_path):
    """Graceful shutdown: a request that started before SIGTERM completes and is kept."""
    import signal
    import threading

    import boto3
    from leadshop_proc import Leadshop

    srv = Leadshop(tmp_path / "data").start()
    env = srv.env()
    s3 = boto3.client("s3", endpoint_url=srv.endpoints["s3"], verify=env["AWS_CA_BUNDLE"], region_name="us-east-1",
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    started = threading.Event()
    body_sent = threading.Event()

    def slow_body():
        # A streaming body that pauses mid-upload until SIGTERM has been delivered.
        yield b"a" * (1024 * 1024)
        started.set()
        body_sent.wait(10)
        yield b"b" * (1024 * 1024)

    class Stream:
        def __init__(self):
            self.it = slow_body()
            self.buf = b""

        def read(self, n=-1):
            while n < 0 or len(self.buf) < n:
                try:
                    self.buf += next(self.it)
                except StopIteration:
                    break
            out, self.buf = (self.buf, b"") if n < 0 else (self.buf[:n], self.buf[n:])
            return out

    result = {}

    def upload():
        try:
            result["put"] = s3.put_object(Bucket="leadshop-assets", Key="inflight", Body=Stream(), ContentLength=2 * 1024 * 1024)
        except Exception as e:  # recorded for the assertion below
            result["error"] = e

    t = threading.Thread(target=upload)
    t.start()
    assert started.wait(10)
    srv.proc.send_signal(signal.SIGTERM)
    body_sent.set()
    t.join(30)
    assert "put" in result, result.get("error")
    assert srv.proc.wait(timeout=30) == 0
    srv.start()
    s3 = boto3.client("s3", endpoint_url=srv.endpoints["s3"], verify=env["AWS_CA_BUNDLE"], region_name="us-east-1",
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    assert s3.head_object(Bucket="leadshop-assets", Key="inflight")["ContentLength"] == 2 * 1024 * 1024
    srv.stop()


def test_bucket_configuration_is_the_spec_documents(s3):
    """What the server serves is what config/buckets says (Terraform deploys the same files)."""
    from leadshop_proc import REPO

    for bucket in ("leadshop-assets", "leadshop-security-logs"):
        doc = json.loads((REPO / "config" / "buckets" / bucket / "versioning.json").read_text())
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == doc["Status"]


def test_objects_are_encrypted_at_rest_as_head_object_reports(env, tmp_path):
    """Seed criterion 5: `aws s3api head-object` shows every object encrypted at rest."""
    src = tmp_path / "report.pdf"
    src.write_bytes(b"%PDF-1.7 leadshop acceptance\n" * 1000)
    run(["aws", "s3", "cp", str(src), "s3://leadshop-assets/reports/encrypted.pdf"], env)
    head = json.loads(run(["aws", "s3api", "head-object", "--bucket", "leadshop-assets", "--key", "reports/encrypted.pdf"], env).stdout)
    assert head["ServerSideEncryption"] == "AES256"
    enc = json.loads(run(["aws", "s3api", "get-bucket-encryption", "--bucket", "leadshop-assets"], env).stdout)
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert rule["BucketKeyEnabled"] is True
