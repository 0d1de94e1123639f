"""Every read verb of the CLI has `--json` (issue 31): keys and KMS keys of a data directory,
the runbook verbs' reports, the lifecycle and scrub status; the JSON is a document a program
can read, and never carries a secret."""

import json
import subprocess

import boto3

from leadshop_proc import BIN


def run(*args, env=None):
    out = subprocess.run([str(BIN), *args], env=env, check=True, capture_output=True,
                         text=True)
    assert out.stderr == "", out.stderr
    return out.stdout


def test_read_verbs_print_json_documents(server, env):
    data = ["--data-dir", str(server.data_dir)]
    keys = json.loads(run("keys", "list", "--json", *data))["AccessKeys"]
    by_name = {k["UserName"]: k for k in keys}
    assert {"admin", "app"} <= set(by_name)
    assert by_name["admin"]["AccessKeyId"] == env["AWS_ACCESS_KEY_ID"]
    assert by_name["app"]["Policy"]["Statement"], "the identity policy, as a document"
    listing = run("keys", "list", "--json", *data)
    assert env["AWS_SECRET_ACCESS_KEY"] not in listing
    assert server.env("app")["AWS_SECRET_ACCESS_KEY"] not in listing

    created = run("kms", "create-key", "--alias", "cli-json", *data)
    kms = json.loads(run("kms", "list-keys", "--json", *data))["Keys"]
    mine = [k for k in kms if "alias/cli-json" in k["Aliases"]]
    assert len(mine) == 1 and mine[0]["KeyState"] == "Enabled"
    assert mine[0]["KeyId"] in created

    for verb in (["lifecycle", "status"], ["scrub", "status"]):
        doc = subprocess.run([str(BIN), *verb, "--json", *data], capture_output=True, text=True)
        assert doc.returncode in (0, 1), doc.stderr  # scrub status exits 1 on damage
        assert isinstance(json.loads(doc.stdout), dict)

    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                      region_name=env["AWS_DEFAULT_REGION"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    bucket = env["AWS_S3_BUCKET_NAME"]
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"tmp/cli-json/{i}", Body=b"x" * 10)
    dry = json.loads(run("cleanup", "--prefix", "tmp/cli-json/", "--noncurrent", "--dry-run",
                         "--json", env=env))
    assert dry["DryRun"] is True and dry["Prefix"] == "tmp/cli-json/"
    assert dry["CurrentDeleted"] == 3 and dry["NoncurrentRemoved"] == 0
    assert dry["Bucket"] == bucket
    assert len(s3.list_objects_v2(Bucket=bucket, Prefix="tmp/cli-json/")["Contents"]) == 3
    gone = json.loads(run("cleanup", "--prefix", "tmp/cli-json/", "--noncurrent", "--json",
                          env=env))
    assert gone["DryRun"] is False and gone["CurrentDeleted"] == 3
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="tmp/cli-json/")

    locked = json.loads(run("lockdown", "--json", env=env))
    assert locked["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}


def run_on_terminal(args, env=None):
    """Runs the CLI with its standard error on a pseudo-terminal (stdout a pipe); returns
    (stdout, what the terminal showed)."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN), *args], env=env, stdout=subprocess.PIPE,
                            stderr=slave, text=True)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        shown += chunk
    out = proc.stdout.read()
    assert proc.wait() == 0, shown
    os.close(master)
    return out, shown.decode(errors="replace")


def test_long_work_shows_progress_on_a_terminal_only(env, tmp_path):
    from leadshop_proc import Leadshop

    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                      region_name=env["AWS_DEFAULT_REGION"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    for i in range(3):
        s3.put_object(Bucket=env["AWS_S3_BUCKET_NAME"], Key=f"tmp/progress/{i}", Body=b"x")
    args = ["cleanup", "--prefix", "tmp/progress/", "--noncurrent", "--dry-run"]
    out, shown = run_on_terminal(args, env=env)
    assert "\r\x1b[2Kcounting \"tmp/progress/\": 3 current" in shown, shown
    assert shown.endswith("\r\x1b[2K"), "the line is cleared before the report"
    assert "dry run" in out and "\x1b" not in out
    piped = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stderr == "", "no progress into a pipe"

    # Master-key rotation handed to a running server: the wait is shown, then cleared.
    srv = Leadshop(tmp_path / "data").start()
    try:
        out, shown = run_on_terminal(["kms", "rotate-master", "--data-dir",
                                      str(srv.data_dir)])
        assert "the running server rotates the key" in shown, shown
        assert "rotated master key" in out
    finally:
        srv.stop()
