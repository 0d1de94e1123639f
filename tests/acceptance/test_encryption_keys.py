"""Encryption keys with real clients. SSE-C with boto3 and the AWS CLI: blocked by default (AWS,
April 2026), round trips once the bucket allows it, wrong key 403, never over plain HTTP.
Master-key rotation: refused while the server runs; completes on a stopped one, and every
object and key still works after."""

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


def test_rotate_master_needs_a_stopped_server_and_keeps_everything_readable(server, tmp_path):
    from leadshop_proc import BIN, Leadshop

    res = subprocess.run([str(BIN), "kms", "rotate-master", "--data-dir", str(server.data_dir)],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "stop `leadshop serve` first" in res.stderr, res.stderr
    assert not (server.data_dir / "master.key.next").exists(), "a refused rotation leaves nothing pending"

    own = Leadshop(tmp_path / "data").start()
    try:
        env = own.env("admin")
        s3 = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                   region_name="us-east-1").client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])
        body = os.urandom(100_000)
        s3.put_object(Bucket="leadshop-assets", Key="before-rotation.bin", Body=body)
    finally:
        assert own.stop() == 0
    old_key = (own.data_dir / "master.key").read_text()
    out = subprocess.run([str(BIN), "kms", "rotate-master", "--data-dir", str(own.data_dir)],
                         check=True, capture_output=True, text=True).stdout
    assert "1 data keys re-wrapped" in out and "2 access-key secrets re-sealed" in out
    assert (own.data_dir / "master.key").read_text() != old_key
    own.start()
    try:
        env = own.env("app")
        app = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                    region_name="us-east-1").client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])
        assert app.get_object(Bucket="leadshop-assets", Key="before-rotation.bin")["Body"].read() == body
    finally:
        own.stop()
