"""Encryption keys with real clients. SSE-C with boto3 and the AWS CLI: blocked by default (AWS,
April 2026), round trips once the bucket allows it, wrong key 403, never over plain HTTP.
Master-key rotation: online while boto3 reads and writes, or on a stopped server; every
object and key still works after, with only the new key."""

import base64
import json
import os
import subprocess
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

KEY = os.urandom(32)
ALLOW_SSE_C = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                          "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]}


def code(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"]


def files_containing(data_dir, needle: bytes):
    return [p for p in data_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]


def assert_nothing_in_the_clear(s3, data_dir, secrets: dict):
    """The "no plaintext on disk" scan with its positive control: an object named with a fresh
    marker is written first, and object names are kept in the clear in meta.redb, so the scan
    must find that marker there (a scan that reads nothing fails), and none of `secrets`."""
    control = f"scan-control-{uuid.uuid4().hex}"
    s3.put_object(Bucket="leadshop-assets", Key=control, Body=b"c")
    found = files_containing(data_dir, control.encode())
    assert any(p.name == "meta.redb" for p in found), f"positive control not found: {found}"
    for what, needle in secrets.items():
        assert not files_containing(data_dir, needle), f"{what} is on disk in the clear"


def key_forms(what: str, key: bytes) -> dict:
    """A customer key as bytes, as it travels in headers (base64) and as a log might print it."""
    return {f"{what} (raw)": key, f"{what} (base64)": base64.b64encode(key), f"{what} (hex)": key.hex().encode()}


@pytest.fixture(scope="module")
def bucket(env):
    s3 = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                               region_name="us-east-1").client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])
    name = f"ssec-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def test_sse_c_is_blocked_until_the_bucket_allows_it(s3, bucket):
    assert code(s3.put_object, Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                SSECustomerKey=KEY) == "AccessDenied"
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ALLOW_SSE_C)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["NONE"]}


def test_boto3_sse_c_round_trip_and_wrong_key(s3, bucket):
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ALLOW_SSE_C)
    body = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="report.pdf", Body=body, SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
    assert put["SSECustomerAlgorithm"] == "AES256" and "ServerSideEncryption" not in put
    got = s3.get_object(Bucket=bucket, Key="report.pdf", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
    assert got["Body"].read() == body
    head = s3.head_object(Bucket=bucket, Key="report.pdf", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
    assert head["SSECustomerKeyMD5"] == put["SSECustomerKeyMD5"]
    assert code(s3.get_object, Bucket=bucket, Key="report.pdf", SSECustomerAlgorithm="AES256",
                SSECustomerKey=os.urandom(32)) == "AccessDenied"
    assert code(s3.get_object, Bucket=bucket, Key="report.pdf") == "InvalidRequest"


def test_aws_cli_sse_c_round_trip(env, s3, bucket, tmp_path):
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ALLOW_SSE_C)
    src, back = tmp_path / "in.bin", tmp_path / "out.bin"
    src.write_bytes(os.urandom(50_000))
    key = "k" * 32  # the CLI takes the raw key
    run = lambda *a: subprocess.run(["aws", "s3api", *a], env=env, check=True, capture_output=True, text=True)
    run("put-object", "--bucket", bucket, "--key", "cli.bin", "--body", str(src),
        "--sse-customer-algorithm", "AES256", "--sse-customer-key", key)
    run("get-object", "--bucket", bucket, "--key", "cli.bin", "--sse-customer-algorithm", "AES256",
        "--sse-customer-key", key, str(back))
    assert back.read_bytes() == src.read_bytes()


def test_sse_c_is_refused_over_plain_http(server, env, bucket):
    plain = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                  region_name="us-east-1").client("s3", endpoint_url=server.endpoints["http"])
    assert code(plain.put_object, Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                SSECustomerKey=KEY) == "InvalidRequest"


def _client(env):
    return boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                 region_name="us-east-1").client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])


def test_rotate_master_while_the_server_runs_under_load(tmp_path):
    """The CLI hands the rotation to the running server; boto3 writes and reads go on during it,
    and every acknowledged object reads back, before and after a restart with only the new key."""
    import threading

    from leadshop_proc import BIN, Leadshop

    own = Leadshop(tmp_path / "data").start()
    written, errors, stop = {}, [], threading.Event()
    try:
        s3 = _client(own.env("admin"))
        for i in range(20):
            written[f"pre/{i}"] = os.urandom(50_000 + i)
            s3.put_object(Bucket="leadshop-assets", Key=f"pre/{i}", Body=written[f"pre/{i}"])

        def load(t):
            c = _client(own.env("app"))
            n = 0
            try:
                while not stop.is_set() or n < 5:
                    key, body = f"load/{t}/{n}", os.urandom(100_000)
                    c.put_object(Bucket="leadshop-assets", Key=key, Body=body)
                    written[key] = body
                    assert c.get_object(Bucket="leadshop-assets", Key=f"pre/{n % 20}")["Body"].read() == written[f"pre/{n % 20}"]
                    n += 1
            except Exception as e:  # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=load, args=(t,)) for t in range(3)]
        for t in threads:
            t.start()
        old_key = (own.data_dir / "master.key").read_text()
        out = subprocess.run([str(BIN), "kms", "rotate-master", "--data-dir", str(own.data_dir)],
                             check=True, capture_output=True, text=True).stdout
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors
        assert "the running server rotated master key" in out, out
        assert "2 access-key secrets and 0 keyring keys re-sealed" in out, out
        assert (own.data_dir / "master.key").read_text() != old_key
        assert not (own.data_dir / "master.key.next").exists()
        report = json.loads((own.data_dir / "rotation.json").read_text())
        assert report["online"] and report["data_keys"]["rewrapped"] >= 20, report
        for key, body in written.items():
            assert s3.get_object(Bucket="leadshop-assets", Key=key)["Body"].read() == body, key
    finally:
        assert own.stop() == 0
    # Without the retired key in the data directory, the restarted server reads everything.
    for retired in own.data_dir.glob("master.key.retired-*"):
        retired.rename(tmp_path / retired.name)
    own.start()
    try:
        app = _client(own.env("app"))
        for key, body in written.items():
            assert app.get_object(Bucket="leadshop-assets", Key=key)["Body"].read() == body, key
    finally:
        own.stop()


def test_rotate_master_on_a_stopped_server(tmp_path):
    from leadshop_proc import BIN, Leadshop

    own = Leadshop(tmp_path / "data").start()
    try:
        body = os.urandom(100_000)
        _client(own.env("admin")).put_object(Bucket="leadshop-assets", Key="before-rotation.bin", Body=body)
    finally:
        assert own.stop() == 0
    old_key = (own.data_dir / "master.key").read_text()
    out = subprocess.run([str(BIN), "kms", "rotate-master", "--data-dir", str(own.data_dir)],
                         check=True, capture_output=True, text=True).stdout
    assert out.startswith("rotated master key"), out
    assert "1 data keys re-wrapped" in out and "2 access-key secrets and 0 keyring keys re-sealed" in out
    assert (own.data_dir / "master.key").read_text() != old_key
    own.start()
    try:
        app = _client(own.env("app"))
        assert app.get_object(Bucket="leadshop-assets", Key="before-rotation.bin")["Body"].read() == body
    finally:
        own.stop()


def _key_and_bucket(server, s3, alias_prefix, bucket_prefix):
    """A new keyring key (made with `leadshop kms create-key`) and a new bucket."""
    from leadshop_proc import BIN

    alias = f"{alias_prefix}-{uuid.uuid4().hex[:8]}"
    out = subprocess.run([str(BIN), "kms", "create-key", "--alias", alias, "--data-dir", str(server.data_dir)],
                         check=True, capture_output=True, text=True).stdout
    bucket = f"{bucket_prefix}-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    return alias, out.split("KeyId: ")[1].split()[0], bucket


def test_sse_kms_with_the_local_keyring(server, env, s3, tmp_path):
    from boto3.s3.transfer import TransferConfig
    from leadshop_proc import BIN

    data = ["--data-dir", str(server.data_dir)]
    alias, key_id, bucket = _key_and_bucket(server, s3, "reports", "kms")
    marker = b"SSE-KMS-PLAINTEXT-MARKER-41d2"
    body = (marker + os.urandom(4000)) * 30
    src = tmp_path / "report.bin"
    src.write_bytes(body)

    # The AWS CLI names the key by alias; boto3 by id and by ARN.
    subprocess.run(["aws", "s3api", "put-object", "--bucket", bucket, "--key", "by-alias", "--body", str(src),
                    "--server-side-encryption", "aws:kms", "--ssekms-key-id", f"alias/{alias}"],
                   env=env, check=True, capture_output=True)
    head = json.loads(subprocess.run(["aws", "s3api", "head-object", "--bucket", bucket, "--key", "by-alias"],
                                     env=env, check=True, capture_output=True, text=True).stdout)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(f"key/{key_id}")
    arn = head["SSEKMSKeyId"]
    s3.put_object(Bucket=bucket, Key="by-id", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    s3.put_object(Bucket=bucket, Key="by-arn", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=arn,
                  SSEKMSEncryptionContext=base64.b64encode(json.dumps({"team": "reports"}).encode()).decode())
    # Multipart (boto3's managed transfer above 5 MiB) under the same key.
    big = os.urandom(12 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(big)
    s3.upload_file(str(tmp_path / "big.bin"), bucket, "big", ExtraArgs={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id},
                   Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
    for key, want in (("by-alias", body), ("by-id", body), ("by-arn", body), ("big", big)):
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == arn, key
        assert got["Body"].read() == want, key

    # Disabled: neither reads nor writes, until enabled again.
    subprocess.run([str(BIN), "kms", "disable-key", "--key-id", f"alias/{alias}", *data], check=True, capture_output=True)
    assert code(s3.get_object, Bucket=bucket, Key="by-id") == "KMS.DisabledException"
    assert code(s3.put_object, Bucket=bucket, Key="new", Body=b"x", ServerSideEncryption="aws:kms",
                SSEKMSKeyId=key_id) == "KMS.DisabledException"
    listing = subprocess.run([str(BIN), "kms", "list-keys", *data], check=True, capture_output=True, text=True).stdout
    assert f"{key_id} Disabled" in " ".join(listing.split())
    subprocess.run([str(BIN), "kms", "enable-key", "--key-id", key_id, *data], check=True, capture_output=True)
    assert s3.get_object(Bucket=bucket, Key="by-id")["Body"].read() == body

    assert code(s3.put_object, Bucket=bucket, Key="x", Body=b"x", ServerSideEncryption="aws:kms",
                SSEKMSKeyId="alias/no-such-key") == "KMS.NotFoundException"
    # aws:kms without a key uses alias/aws/s3, made on first use, as AWS's managed key.
    s3.put_object(Bucket=bucket, Key="default-key", Body=b"d", ServerSideEncryption="aws:kms")
    assert "alias/aws/s3" in subprocess.run([str(BIN), "kms", "list-keys", *data], check=True,
                                            capture_output=True, text=True).stdout
    # A bucket default of aws:kms applies to uploads that ask for nothing.
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]})
    put = s3.put_object(Bucket=bucket, Key="by-default", Body=b"x")
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == arn
    # No plaintext on disk.
    assert_nothing_in_the_clear(s3, server.data_dir, {"the plaintext marker": marker})


def test_sse_c_multipart_and_copy(s3, bucket, tmp_path):
    from boto3.s3.transfer import TransferConfig

    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ALLOW_SSE_C)
    big = os.urandom(11 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(big)
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
    # boto3's managed transfer sends the key with CreateMultipartUpload and every UploadPart.
    s3.upload_file(str(tmp_path / "big.bin"), bucket, "big-ssec", ExtraArgs=sse_c,
                   Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
    assert s3.get_object(Bucket=bucket, Key="big-ssec", **sse_c)["Body"].read() == big
    assert code(s3.get_object, Bucket=bucket, Key="big-ssec") == "InvalidRequest"

    # A part sent with another key is refused.
    up = s3.create_multipart_upload(Bucket=bucket, Key="mixed", **sse_c)
    assert code(s3.upload_part, Bucket=bucket, Key="mixed", UploadId=up["UploadId"], PartNumber=1, Body=b"x",
                SSECustomerAlgorithm="AES256", SSECustomerKey=os.urandom(32)) == "InvalidArgument"
    assert code(s3.upload_part, Bucket=bucket, Key="mixed", UploadId=up["UploadId"], PartNumber=1,
                Body=b"x") == "InvalidRequest"
    s3.abort_multipart_upload(Bucket=bucket, Key="mixed", UploadId=up["UploadId"])

    # Copy: the source opens with its key; the copy gets a new key, or SSE-S3.
    other = os.urandom(32)
    src = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY}
    s3.copy_object(Bucket=bucket, Key="copy-ssec", CopySource={"Bucket": bucket, "Key": "big-ssec"}, **src,
                   SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert s3.get_object(Bucket=bucket, Key="copy-ssec", SSECustomerAlgorithm="AES256",
                         SSECustomerKey=other)["Body"].read() == big
    out = s3.copy_object(Bucket=bucket, Key="copy-plain", CopySource={"Bucket": bucket, "Key": "big-ssec"}, **src)
    assert out["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="copy-plain")["Body"].read() == big
    assert code(s3.copy_object, Bucket=bucket, Key="copy-nokey",
                CopySource={"Bucket": bucket, "Key": "big-ssec"}) == "InvalidRequest"


def test_customer_keys_and_their_data_never_reach_the_disk(server, s3, bucket):
    """After every SSE-C test above: neither the customer key, in any form it travelled or could
    be logged in, nor the plaintext of an SSE-C object is on disk; the scan sees what is."""
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ALLOW_SSE_C)
    marker = b"SSE-C-PLAINTEXT-MARKER-" + uuid.uuid4().hex.encode()
    s3.put_object(Bucket=bucket, Key="marked", Body=(marker + os.urandom(1000)) * 20,
                  SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
    assert_nothing_in_the_clear(s3, server.data_dir, {**key_forms("the customer key", KEY),
                                                      "the plaintext marker": marker})

def test_copy_in_place_re_encrypts_under_a_kms_key(server, env, s3):
    from leadshop_proc import BIN

    out = subprocess.run([str(BIN), "kms", "create-key", "--data-dir", str(server.data_dir)], check=True,
                         capture_output=True, text=True).stdout
    key_id = out.split("KeyId: ")[1].split()[0]
    bucket = f"reenc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc", Body=b"content")
    assert code(s3.copy_object, Bucket=bucket, Key="doc", CopySource={"Bucket": bucket, "Key": "doc"}) == "InvalidRequest"
    out = s3.copy_object(Bucket=bucket, Key="doc", CopySource={"Bucket": bucket, "Key": "doc"},
                         ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    assert out["ServerSideEncryption"] == "aws:kms"
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert got["SSEKMSKeyId"].endswith(key_id) and got["Body"].read() == b"content"


def test_dsse_kms_with_boto3_and_the_aws_cli(server, env, s3, tmp_path):
    """aws:kms:dsse (two independent layers, both keys wrapped by the keyring key): the AWS CLI
    and boto3 round trips, multipart, a bucket default, a disabled key, no plaintext on disk."""
    from boto3.s3.transfer import TransferConfig
    from leadshop_proc import BIN

    data = ["--data-dir", str(server.data_dir)]
    alias, key_id, bucket = _key_and_bucket(server, s3, "dual", "dsse")
    marker = b"DSSE-KMS-PLAINTEXT-MARKER-7e0a"
    body = (marker + os.urandom(3000)) * 40
    src = tmp_path / "dual.bin"
    src.write_bytes(body)

    subprocess.run(["aws", "s3api", "put-object", "--bucket", bucket, "--key", "cli", "--body", str(src),
                    "--server-side-encryption", "aws:kms:dsse", "--ssekms-key-id", f"alias/{alias}"],
                   env=env, check=True, capture_output=True)
    head = json.loads(subprocess.run(["aws", "s3api", "head-object", "--bucket", bucket, "--key", "cli"],
                                     env=env, check=True, capture_output=True, text=True).stdout)
    assert head["ServerSideEncryption"] == "aws:kms:dsse" and head["SSEKMSKeyId"].endswith(f"key/{key_id}")
    s3.put_object(Bucket=bucket, Key="boto3", Body=body, ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=key_id,
                  SSEKMSEncryptionContext=base64.b64encode(json.dumps({"team": "reports"}).encode()).decode())
    big = os.urandom(11 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(big)
    s3.upload_file(str(tmp_path / "big.bin"), bucket, "big",
                   ExtraArgs={"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": key_id},
                   Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": key_id}}]})
    put = s3.put_object(Bucket=bucket, Key="by-default", Body=body)
    assert put["ServerSideEncryption"] == "aws:kms:dsse"
    for key, want in (("cli", body), ("boto3", body), ("big", big), ("by-default", body)):
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ServerSideEncryption"] == "aws:kms:dsse" and got["SSEKMSKeyId"] == head["SSEKMSKeyId"], key
        assert got["Body"].read() == want, key
    assert s3.get_object(Bucket=bucket, Key="big", Range="bytes=5242870-5242889")["Body"].read() == big[5242870:5242890]

    subprocess.run([str(BIN), "kms", "disable-key", "--key-id", key_id, *data], check=True, capture_output=True)
    assert code(s3.get_object, Bucket=bucket, Key="boto3") == "KMS.DisabledException"
    subprocess.run([str(BIN), "kms", "enable-key", "--key-id", key_id, *data], check=True, capture_output=True)
    assert s3.get_object(Bucket=bucket, Key="boto3")["Body"].read() == body
    assert_nothing_in_the_clear(s3, server.data_dir, {"the plaintext marker": marker})
