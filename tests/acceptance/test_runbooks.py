"""docs/OPERATIONS.md's runbooks, each block run as written (bash -euo pipefail, from the
repository's root, with the environment `leadshop env` prints) against a local server: the
security lockdown, data recovery from versions and the application fallback. The cost runbook
is test_lifecycle.py::test_the_cost_runbook_runs_as_written; the Terraform revert is
tests/terraform/test_apply.py::test_the_revert_runbook_runs_as_written."""

import json
import subprocess
import sys

from leadshop_proc import BIN, REPO, Leadshop
import time

from runbooks import record_recovery_time, runbook_blocks
from test_access import curl
from test_lifecycle import ASSETS, client


def shell(srv: Leadshop, extra: dict | None = None):
    env = srv.env()
    env["PATH"] = f"{BIN.parent}:{env['PATH']}"
    env.update(extra or {})

    def sh(block: str) -> str:
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, (block, out.stdout, out.stderr)
        return out.stdout

    return sh


def test_the_lockdown_runbook_runs_as_written(tmp_path):
    srv = Leadshop(tmp_path / "data").start()
    try:
        s3 = client(srv)
        env = srv.env()
        aws_cli, verb, _roles = runbook_blocks("## Security incident")
        for block in (aws_cli, verb):
            # Someone made the bucket public: lifted its Public Access Block, then a policy.
            s3.delete_public_access_block(Bucket=ASSETS)
            s3.put_object(Bucket=ASSETS, Key="public/leak.txt", Body=b"oops")
            s3.put_bucket_policy(Bucket=ASSETS, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{ASSETS}/public/*"}]}))
            url = f"{srv.endpoints['s3']}/{ASSETS}/public/leak.txt"
            assert curl("--cacert", env["AWS_CA_BUNDLE"], url)[0] == 200, "public before the runbook"
            started = time.monotonic()
            out = shell(srv)(block)
            assert curl("--cacert", env["AWS_CA_BUNDLE"], url)[0] == 403, (block, out)
            pab = s3.get_public_access_block(Bucket=ASSETS)["PublicAccessBlockConfiguration"]
            assert all(pab.values()) and len(pab) == 4, pab
            record_recovery_time("security lockdown (" + ("AWS CLI" if block is aws_cli else "leadshop lockdown") + ")",
                                 time.monotonic() - started)
    finally:
        srv.stop()


def test_the_role_session_revocation_runs_as_written(tmp_path):
    """The incident runbook's role block against moto's IAM: a role has no access keys, so its
    sessions issued before now are denied by aws:TokenIssueTime (moto stores the policy; AWS
    enforces it — what is checked here is that the command, as written, puts exactly that
    Deny, dated now, on the application's role)."""
    import datetime

    import boto3
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        url = f"http://{host}:{port}"
        iam = boto3.client("iam", region_name="us-east-1", endpoint_url=url, aws_access_key_id="x",
                           aws_secret_access_key="x")
        iam.create_role(RoleName="leadshop-app-prod", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "ec2.amazonaws.com"}}]}))
        _lockdown, _verb, roles = runbook_blocks("## Security incident")
        import os

        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
               "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL_IAM": url, "AWS_CONFIG_FILE": "/dev/null",
               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", roles], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        doc = iam.get_role_policy(RoleName="leadshop-app-prod", PolicyName="revoke-older-sessions")["PolicyDocument"]
        if isinstance(doc, str):
            doc = json.loads(doc)
        (st,) = doc["Statement"]
        assert st["Effect"] == "Deny" and st["Action"] == "*" and st["Resource"] == "*"
        issued = st["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        when = datetime.datetime.strptime(issued, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        assert before <= when <= datetime.datetime.now(datetime.timezone.utc), issued
        assert "aws:TokenIssueTime" in out.stdout  # the read-back
    finally:
        moto.stop()


def test_the_data_recovery_runbook_runs_as_written(tmp_path):
    srv = Leadshop(tmp_path / "data").start()
    try:
        s3 = client(srv)
        key = "reports/q1.pdf"
        s3.put_object(Bucket=ASSETS, Key=key, Body=b"first")
        s3.put_object(Bucket=ASSETS, Key=key, Body=b"second")
        s3.put_object(Bucket=ASSETS, Key=key + ".bak", Body=b"another key under the prefix")
        s3.delete_object(Bucket=ASSETS, Key=key)
        listing, undelete, unoverwrite = runbook_blocks("## Data recovery")
        sh = shell(srv)
        seen = json.loads(sh(listing))
        assert len(seen["versions"]) == 2 and len(seen["markers"]) == 1, seen
        assert [m[1] for m in seen["markers"]] == [True]

        started = time.monotonic()
        sh(listing + undelete)  # the first block sets KEY
        assert s3.get_object(Bucket=ASSETS, Key=key)["Body"].read() == b"second"
        record_recovery_time("object version recovery (undelete)", time.monotonic() - started)
        sh(listing + unoverwrite)
        assert s3.get_object(Bucket=ASSETS, Key=key)["Body"].read() == b"first"
        versions = [v for v in s3.list_object_versions(Bucket=ASSETS, Prefix=key)["Versions"] if v["Key"] == key]
        assert len(versions) == 3, "a recovery adds a version; history is never rewritten"
        assert s3.get_object(Bucket=ASSETS, Key=key + ".bak")["Body"].read() == b"another key under the prefix"
    finally:
        srv.stop()


APPLICATION = """
import sys
from leadshop_storage import S3Storage
s = S3Storage.from_env(sync_interval=0)
r = s.upload_file(sys.argv[1], "uploads/offline.pdf")
print("queued" if r.queued else "stored")
"""


def test_the_application_fallback_runbook_runs_as_written(tmp_path):
    srv = Leadshop(tmp_path / "data").start()
    try:
        s3 = client(srv)
        outbox = tmp_path / "outbox"
        sh = shell(srv, {"STORAGE_OUTBOX_DIR": str(outbox)})
        go_local, status, back = runbook_blocks("## Application fallback")
        doc = tmp_path / "report.pdf"
        doc.write_bytes(b"%PDF-1.7 written while the store was unreachable")
        # The application, started with the runbook's step 1 in its environment.
        out = sh(f"{go_local}\n{sys.executable} -c '{APPLICATION}' {doc}")
        assert out.strip() == "queued", out
        assert s3.list_objects_v2(Bucket=ASSETS, Prefix="uploads/offline.pdf").get("KeyCount") == 0
        assert "uploads/offline.pdf" in sh(status)

        started = time.monotonic()
        out = sh(back)
        got = s3.get_object(Bucket=ASSETS, Key="uploads/offline.pdf")["Body"].read()
        assert got == doc.read_bytes()
        assert "uploads/offline.pdf" not in sh(status), out
        assert not any((outbox / "blobs").iterdir())
        record_recovery_time("application fallback: outbox caught up", time.monotonic() - started)
    finally:
        srv.stop()
