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
