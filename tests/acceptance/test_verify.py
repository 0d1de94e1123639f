"""`leadshop verify` against a local server: the bootstrapped buckets match their documents;
each kind of drift is named with a diff and exit 1; an endpoint it cannot read is exit 2."""

import json
import subprocess

from leadshop_proc import BIN, REPO, Leadshop
from test_lifecycle import ASSETS, client

LOGS = "leadshop-security-logs"


def verify(env, *args):
    return subprocess.run([str(BIN), "verify", *args], env=env, capture_output=True, text=True, timeout=60)


def test_verify_reports_no_drift_then_each_drift(tmp_path):
    srv = Leadshop(tmp_path / "data").start()
    try:
        env = srv.env()
        s3 = client(srv)
        for bucket in (ASSETS, LOGS):
            out = verify(env, "--bucket", bucket)
            assert out.returncode == 0, out.stdout + out.stderr
            assert "no drift: 9 settings match" in out.stdout
        # The same from the checkout's documents instead of the built-in copy.
        out = verify(env, "--bucket", ASSETS, "--spec-dir", str(REPO / "config" / "buckets"))
        assert out.returncode == 0 and "config/buckets/leadshop-assets" in out.stdout, out.stdout + out.stderr

        s3.put_bucket_versioning(Bucket=ASSETS, VersioningConfiguration={"Status": "Suspended"})
        s3.delete_bucket_lifecycle(Bucket=ASSETS)
        s3.put_bucket_logging(Bucket=ASSETS, BucketLoggingStatus={})
        s3.delete_bucket_metrics_configuration(Bucket=ASSETS, Id="EntireBucket")
        policy = json.loads(s3.get_bucket_policy(Bucket=ASSETS)["Policy"])
        policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "DenyInsecureTransport"]
        s3.put_bucket_policy(Bucket=ASSETS, Policy=json.dumps(policy))
        out = verify(env, "--bucket", ASSETS)
        assert out.returncode == 1, out.stdout + out.stderr
        drifted = out.stdout.splitlines()[-1]
        assert drifted == "DRIFT in 5 of 9 settings: policy, versioning, lifecycle, logging, metrics", out.stdout
        assert '-       "Status": "Enabled"' in out.stdout or '- "Enabled"' in out.stdout or '"Suspended"' in out.stdout
        assert "DenyInsecureTransport" in out.stdout
        doc = json.loads(verify(env, "--bucket", ASSETS, "--json").stdout)
        assert doc["versioning"] == {"expected": {"Status": "Enabled"}, "live": {"Status": "Suspended"}, "drift": True}
        assert doc["lifecycle"]["live"] is None and doc["cors"]["drift"] is False

        # Expected CORS origins can be given per environment, as Terraform's cors_origins.
        out = verify(env, "--bucket", ASSETS, "--cors-origin", "https://app.leadfactory.com", "--json")
        assert json.loads(out.stdout)["cors"]["drift"] is True

        bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong")
        out = verify(bad, "--bucket", ASSETS)
        assert out.returncode == 2 and "SignatureDoesNotMatch" in out.stderr, out.stderr
        out = verify(env, "--bucket", ASSETS, "--spec", "no-such-spec")
        assert out.returncode == 2 and "no spec documents" in out.stderr, out.stderr
    finally:
        srv.stop()


def test_a_setting_that_cannot_be_read_is_a_row_and_the_exit_code_says_not_verified(server, tmp_path):
    """An auditor key that may not read the bucket policy: every other setting is still
    compared (all match), the policy row says why it was not read, and the exit code is 2."""

    data = ["--data-dir", str(server.data_dir)]
    policy = tmp_path / "auditor.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetBucketPolicy", "Resource": "*"}]}))
    out = subprocess.run([str(BIN), "keys", "create", "--name", "auditor", "--policy", str(policy), *data],
                         check=True, capture_output=True, text=True).stdout
    fields = dict(line.split(" = ") for line in out.splitlines() if " = " in line)
    env = {**server.env("admin"), "AWS_ACCESS_KEY_ID": fields["aws_access_key_id"],
           "AWS_SECRET_ACCESS_KEY": fields["aws_secret_access_key"]}
    try:
        out = verify(env, "--bucket", ASSETS)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "  ?      policy: GetBucketPolicy: AccessDenied" in out.stdout, out.stdout
        assert "NOT VERIFIED: 1 of 9 settings could not be read: policy" in out.stdout
        assert "no drift in the 8 settings read" in out.stdout
        doc = json.loads(verify(env, "--bucket", ASSETS, "--json").stdout)
        assert "AccessDenied" in doc["policy"]["unverified"] and doc["cors"]["drift"] is False
        # The admin key reads all nine: exit 0.
        assert verify(server.env("admin"), "--bucket", ASSETS).returncode == 0
    finally:
        subprocess.run([str(BIN), "keys", "delete", "--name", "auditor", *data], check=True,
                       capture_output=True)


def test_an_endpoint_without_some_apis_gets_a_row_each(tmp_path):
    """moto's server answers ?versioning and ?metrics with other documents: those two rows
    say "unsupported by this endpoint", the seven others are still compared (here: not
    configured, so drift, exit 1), and no SDK debug dump is printed."""
    import boto3
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        url = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket="leadshop-assets-dev")
        env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": url}
        # leadshop-assets-dev: the documents of leadshop-assets (the environments' suffix rule).
        out = verify(env, "--bucket", "leadshop-assets-dev")
        assert out.returncode == 1, out.stdout + out.stderr
        assert "against the built-in config/buckets/leadshop-assets" in out.stdout
        for row in ("versioning", "metrics"):
            assert f"  ?      {row}: unsupported by this endpoint" in out.stdout, out.stdout
        assert "NOT VERIFIED: 2 of 9 settings could not be read: versioning, metrics" in out.stdout
        assert "DRIFT  cors" in out.stdout and "DRIFT  policy" in out.stdout
        assert "ServiceError(" not in out.stdout + out.stderr
    finally:
        moto.stop()


def test_an_untrusted_certificate_or_a_closed_port_is_said_in_words(server):
    env = server.env("admin")
    no_ca = {k: v for k, v in env.items() if k != "AWS_CA_BUNDLE"}
    out = verify(no_ca, "--bucket", ASSETS)
    assert out.returncode == 2
    assert "TLS certificate is not trusted" in out.stderr and "AWS_CA_BUNDLE" in out.stderr, out.stderr
    assert "DispatchFailure" not in out.stderr and "{" not in out.stderr, out.stderr
    assert len(out.stderr.splitlines()) == 1 and out.stderr.rstrip().endswith("(cause: UnknownIssuer)")
    closed = dict(env, AWS_ENDPOINT_URL="https://127.0.0.1:1")
    out = verify(closed, "--bucket", ASSETS)
    assert out.returncode == 2
    assert "nothing answered at the endpoint" in out.stderr and "AWS_ENDPOINT_URL" in out.stderr, out.stderr
