"""Access control with real clients: the AWS CLI, boto3 and curl. Every setting is shown by a
request it refuses and one it allows (seed criterion 4: HTTP rejected, unauthorized access 403,
public writes blocked)."""

import datetime
import json
import os
import re
import subprocess
import time
import uuid

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from leadshop_proc import BIN, REPO
from rawhttp import presign_v2, presign_v4

ASSETS = "leadshop-assets"
LOGS = "leadshop-security-logs"


def run(cmd, env, check=True):
    return subprocess.run(cmd, env=env, check=check, capture_output=True, text=True)


def client(env, **config):
    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
             config=botocore.config.Config(**config) if config else None)


def error_code(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"]


def curl(*args, env=None):
    """curl without credentials: status code last."""
    res = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True, text=True,
                         errors="replace", env={"PATH": os.environ["PATH"]})
    body, _, status = res.stdout.rpartition("\n")
    return int(status), body


@pytest.fixture(scope="module")
def app_env(server):
    return server.env("app")


@pytest.fixture()
def app(app_env):
    return client(app_env)


def test_cli_shows_the_baseline_policy_and_public_access_block(env):
    out = json.loads(run(["aws", "s3api", "get-bucket-policy", "--bucket", ASSETS], env).stdout)
    policy = json.loads(out["Policy"])
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sids["DenyOtherEncryption"]["Effect"] == "Deny"
    assert "${" not in out["Policy"]
    pab = json.loads(run(["aws", "s3api", "get-public-access-block", "--bucket", ASSETS], env).stdout)
    assert pab["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def test_the_app_key_has_least_privilege(app, app_env):
    key = f"reports/{uuid.uuid4()}.pdf"
    app.put_object(Bucket=ASSETS, Key=key, Body=b"%PDF")
    assert app.get_object(Bucket=ASSETS, Key=key)["Body"].read() == b"%PDF"
    assert any(o["Key"] == key for o in app.list_objects_v2(Bucket=ASSETS, Prefix="reports/")["Contents"])
    app.delete_object(Bucket=ASSETS, Key=key)

    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{ASSETS}/*"}]})
    assert error_code(app.put_bucket_policy, Bucket=ASSETS, Policy=public) == "AccessDenied"
    assert error_code(app.delete_bucket_policy, Bucket=ASSETS) == "AccessDenied"
    assert error_code(app.put_bucket_versioning, Bucket=ASSETS,
                      VersioningConfiguration={"Status": "Suspended"}) == "AccessDenied"
    assert error_code(app.list_objects_v2, Bucket=LOGS) == "AccessDenied"
    assert error_code(app.put_object, Bucket=LOGS, Key="s3-access/forged", Body=b"x") == "AccessDenied"
    # The AWS CLI with the app key, on the log bucket.
    res = run(["aws", "s3", "ls", f"s3://{LOGS}"], app_env, check=False)
    assert res.returncode != 0 and "AccessDenied" in res.stderr
    res = run(["aws", "s3api", "put-bucket-policy", "--bucket", ASSETS, "--policy", public], app_env, check=False)
    assert res.returncode != 0 and "AccessDenied" in res.stderr


def test_app_presigned_get_works_without_credentials_until_it_expires(app, app_env, tmp_path):
    key = f"screenshots/{uuid.uuid4()}.png"
    app.put_object(Bucket=ASSETS, Key=key, Body=b"\x89PNG")
    # SigV4 (boto3 with s3v4) and SigV2 (the AWS CLI's default presign in us-east-1).
    v4 = client(app_env, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": ASSETS, "Key": key}, ExpiresIn=300)
    v2 = run(["aws", "s3", "presign", f"s3://{ASSETS}/{key}", "--expires-in", "300"], app_env).stdout.strip()
    for url in (v4, v2):
        status, body = curl("--cacert", app_env["AWS_CA_BUNDLE"], url)
        assert status == 200, body
    # The same URLs, signed in the past so that they have expired: no waiting for the clock.
    ep, kid, secret = app_env["AWS_ENDPOINT_URL"], app_env["AWS_ACCESS_KEY_ID"], app_env["AWS_SECRET_ACCESS_KEY"]
    an_hour_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    expired = (presign_v4(ep, f"/{ASSETS}/{key}", kid, secret, expires=60, when=an_hour_ago),
               presign_v2(ep, f"/{ASSETS}/{key}", kid, secret, expires_at=int(time.time()) - 1))
    fresh = (presign_v4(ep, f"/{ASSETS}/{key}", kid, secret, expires=60),
             presign_v2(ep, f"/{ASSETS}/{key}", kid, secret, expires_at=int(time.time()) + 60))
    for url in fresh:
        status, body = curl("--cacert", app_env["AWS_CA_BUNDLE"], url)
        assert status == 200, body
    for url in expired:
        status, body = curl("--cacert", app_env["AWS_CA_BUNDLE"], url)
        assert status == 403 and "AccessDenied" in body and "expired" in body, body


def test_plain_http_writes_are_refused_and_write_nothing(server, env, s3):
    http = server.endpoints["http"]
    key = f"tmp/{uuid.uuid4()}"
    status, body = curl("-X", "PUT", "--data-binary", "payload", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                        f"{http}/{ASSETS}/{key}")
    assert status == 403 and "AccessDenied" in body, body
    # Signed by the admin key with boto3, but over HTTP: the baseline policy denies it.
    plain = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1").client("s3", endpoint_url=http)
    assert error_code(plain.put_object, Bucket=ASSETS, Key=key, Body=b"x") == "AccessDenied"
    assert error_code(s3.head_object, Bucket=ASSETS, Key=key) == "404"


def test_anonymous_public_writes_are_blocked(server, env):
    status, body = curl("--cacert", env["AWS_CA_BUNDLE"], "-X", "PUT", "--data-binary", "x",
                        f"{server.endpoints['s3']}/{ASSETS}/uploads/anon.txt")
    assert status == 403 and "AccessDenied" in body, body


def test_public_access_block_is_enforced_and_conditional(server, env, s3):
    bucket = f"pab-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>public</h1>")
    url = f"{server.endpoints['s3']}/{bucket}/index.html"
    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    all_on = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}

    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=all_on)
    assert error_code(s3.put_bucket_policy, Bucket=bucket, Policy=public) == "AccessDenied"
    # ACLs are disabled (BucketOwnerEnforced): that is checked first, as on AWS.
    assert error_code(s3.put_object, Bucket=bucket, Key="acl", Body=b"x",
                      ACL="public-read") == "AccessControlListNotSupported"
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    assert error_code(s3.put_object, Bucket=bucket, Key="acl", Body=b"x", ACL="public-read") == "AccessDenied"
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})

    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={**all_on, "BlockPublicPolicy": False})
    s3.put_bucket_policy(Bucket=bucket, Policy=public)
    status, _ = curl("--cacert", env["AWS_CA_BUNDLE"], url)
    assert status == 403, "RestrictPublicBuckets makes the public policy ineffective"

    s3.delete_public_access_block(Bucket=bucket)
    status, body = curl("--cacert", env["AWS_CA_BUNDLE"], url)
    assert status == 200 and body == "<h1>public</h1>"
    status, _ = curl("--cacert", env["AWS_CA_BUNDLE"], "-X", "PUT", "--data-binary", "x",
                     f"{server.endpoints['s3']}/{bucket}/defaced.html")
    assert status == 403, "public-read grants no writes"

    s3.delete_bucket_policy(Bucket=bucket)
    status, _ = curl("--cacert", env["AWS_CA_BUNDLE"], url)
    assert status == 403


def test_malformed_policy_is_refused_with_the_problem_named(s3):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=ASSETS, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}]}))
    err = e.value.response["Error"]
    assert err["Code"] == "MalformedPolicy" and "invalid resource" in err["Message"]


def test_keys_cli_create_rotate_delete_while_serving(server):
    data = ["--data-dir", str(server.data_dir)]
    policy = REPO / "config" / "iam" / "app-policy.json"
    out = subprocess.run([str(BIN), "keys", "create", "--name", "ci", "--policy", str(policy), *data],
                         check=True, capture_output=True, text=True).stdout
    fields = dict(line.split(" = ") for line in out.splitlines() if " = " in line)
    key_id, secret = fields["aws_access_key_id"], fields["aws_secret_access_key"]
    ci_env = {**server.env("admin"), "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
    ci = client(ci_env)
    ci.put_object(Bucket=ASSETS, Key="tmp/ci.txt", Body=b"ci")
    assert error_code(ci.list_objects_v2, Bucket=LOGS) == "AccessDenied"

    listing = subprocess.run([str(BIN), "keys", "list", *data], check=True, capture_output=True, text=True).stdout
    assert "ci" in listing and key_id in listing and secret not in listing
    assert secret not in (server.data_dir / "keys.json").read_text(), "secrets are sealed at rest"

    subprocess.run([str(BIN), "keys", "rotate", "--name", "ci", *data], check=True, capture_output=True)
    assert error_code(ci.get_object, Bucket=ASSETS, Key="tmp/ci.txt") == "InvalidAccessKeyId"
    subprocess.run([str(BIN), "keys", "delete", "--name", "ci", *data], check=True, capture_output=True)
    res = subprocess.run([str(BIN), "keys", "delete", "--name", "ci", *data], capture_output=True, text=True)
    assert res.returncode == 1 and "no key named" in res.stderr
    # Nothing of the server's log carries a secret.
    assert secret not in server.log.read_text(errors="replace")


def test_the_server_enforces_exactly_the_spec_documents_terraform_renders(env):
    """One test reads both: the policy and public-access-block the local server serves are the
    documents in config/buckets/, rendered as Terraform's templatefile() renders them."""
    spec = REPO / "config" / "buckets"
    values = {"account_id": "000000000000", "sse_algorithm": "AES256", "partition": "aws",
              "log_bucket": LOGS, "source_bucket": ASSETS}
    for bucket in (ASSETS, LOGS):
        text = (spec / bucket / "policy.json").read_text()
        rendered = re.sub(r"\$\{(\w+)\}", lambda m: {**values, "bucket": bucket}[m.group(1)], text)
        served = json.loads(run(["aws", "s3api", "get-bucket-policy", "--bucket", bucket], env).stdout)["Policy"]
        assert json.loads(served) == json.loads(rendered), bucket
        pab = json.loads(run(["aws", "s3api", "get-public-access-block", "--bucket", bucket], env).stdout)
        assert pab["PublicAccessBlockConfiguration"] == json.loads((spec / bucket / "public-access-block.json").read_text())


def test_lockdown_verb_blocks_public_access_on_the_endpoint(server, env, s3):
    """docs/OPERATIONS.md "block all public access now", as `leadshop lockdown`."""
    bucket = f"incident-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    # Someone made it public: lifted the Public Access Block new buckets have, then a policy.
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="leak.txt", Body=b"oops")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    url = f"{server.endpoints['s3']}/{bucket}/leak.txt"
    assert curl("--cacert", env["AWS_CA_BUNDLE"], url)[0] == 200, "publicly readable before"

    out = run([str(BIN), "lockdown", "--endpoint", env["AWS_ENDPOINT_URL"], "--bucket", bucket], env).stdout
    assert "BlockPublicAcls=true IgnorePublicAcls=true BlockPublicPolicy=true RestrictPublicBuckets=true" in out
    assert curl("--cacert", env["AWS_CA_BUNDLE"], url)[0] == 403, "RestrictPublicBuckets cut it off"
    # The app key may not change bucket settings: the verb reports the refusal and fails.
    app = {**env, **{k: server.env("app")[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}}
    res = run([str(BIN), "lockdown", "--bucket", bucket], app, check=False)
    assert res.returncode == 1 and "AccessDenied" in res.stderr


def test_recover_verb_restores_deleted_and_overwritten_objects(env, s3):
    key = f"reports/{uuid.uuid4()}.pdf"
    v1 = s3.put_object(Bucket=ASSETS, Key=key, Body=b"first")["VersionId"]
    s3.put_object(Bucket=ASSETS, Key=key, Body=b"second")
    s3.delete_object(Bucket=ASSETS, Key=key)
    assert error_code(s3.get_object, Bucket=ASSETS, Key=key) == "NoSuchKey"

    out = run([str(BIN), "recover", "--key", key], env).stdout
    assert "delete marker" in out
    assert s3.get_object(Bucket=ASSETS, Key=key)["Body"].read() == b"second"
    out = run([str(BIN), "recover", "--key", key], env).stdout  # undo the overwrite
    assert s3.get_object(Bucket=ASSETS, Key=key)["Body"].read() == b"first"
    s3.put_object(Bucket=ASSETS, Key=key, Body=b"third")
    run([str(BIN), "recover", "--key", key, "--version-id", v1], env)
    assert s3.get_object(Bucket=ASSETS, Key=key)["Body"].read() == b"first"
    res = run([str(BIN), "recover", "--key", "reports/never-existed.pdf"], env, check=False)
    assert res.returncode == 1 and "no earlier version" in res.stderr


def test_cleanup_verb_removes_a_prefix_and_its_history(env, s3):
    prefix = f"tmp/{uuid.uuid4().hex[:8]}/"
    for i in range(3):
        s3.put_object(Bucket=ASSETS, Key=f"{prefix}{i}", Body=b"x" * 100)
        s3.put_object(Bucket=ASSETS, Key=f"{prefix}{i}", Body=b"y" * 10)
    s3.put_object(Bucket=ASSETS, Key="reports/keep-me.pdf", Body=b"keep")
    s3.create_multipart_upload(Bucket=ASSETS, Key=f"{prefix}big.bin")

    dry = run([str(BIN), "cleanup", "--prefix", prefix, "--noncurrent", "--dry-run"], env).stdout
    assert "dry run" in dry and "3 current objects" in dry and "3 noncurrent" in dry and "300 bytes" in dry
    assert len(s3.list_objects_v2(Bucket=ASSETS, Prefix=prefix).get("Contents", [])) == 3

    out = run([str(BIN), "cleanup", "--prefix", prefix], env).stdout
    assert "3 current objects deleted" in out
    assert "Contents" not in s3.list_objects_v2(Bucket=ASSETS, Prefix=prefix)
    versions = s3.list_object_versions(Bucket=ASSETS, Prefix=prefix)
    assert len(versions["Versions"]) == 6, "without --noncurrent the history stays recoverable"

    out = run([str(BIN), "cleanup", "--prefix", prefix, "--noncurrent"], env).stdout
    assert "1 incomplete uploads aborted" in out
    versions = s3.list_object_versions(Bucket=ASSETS, Prefix=prefix)
    assert "Versions" not in versions and "DeleteMarkers" not in versions
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=ASSETS, Prefix=prefix)
    assert s3.get_object(Bucket=ASSETS, Key="reports/keep-me.pdf")["Body"].read() == b"keep"
    res = run([str(BIN), "cleanup", "--prefix", ""], env, check=False)
    assert res.returncode == 1 and "must not be empty" in res.stderr
