"""Lifecycle, as the seed asks for it: with the baseline configuration and one-second days, a
file uploaded with boto3 is STANDARD, then STANDARD_IA after 30 days; files under 128 KiB stay;
tmp/ objects expire after their day; incomplete uploads are aborted after 7 days; noncurrent
versions transition and expire. Also: the configuration through the AWS CLI (allowed and
refused), `leadshop lifecycle status`, and `kill -9` during a lifecycle pass.

Waits poll the server's answers; no duration is asserted except "not before day N", which a
slow machine can only make later, never earlier.
"""

import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from leadshop_proc import BIN, REPO, Leadshop
from runbooks import runbook_blocks

ASSETS = "leadshop-assets"
KIB = 1024


def client(srv):
    env = srv.env()
    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")


def aws(env, *args):
    out = subprocess.run(["aws", "s3api", *args], env=env, capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout, out.stderr


def wait_for(what, check, timeout=90.0, every=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def class_of(s3, key):
    return s3.head_object(Bucket=ASSETS, Key=key).get("StorageClass", "STANDARD")


def versions(s3, bucket, prefix):
    out = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return out.get("Versions", []), out.get("DeleteMarkers", [])


def status(srv):
    path = srv.data_dir / "lifecycle-status.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def test_the_seed_lifecycle_with_one_second_days(tmp_path):
    srv = Leadshop(tmp_path / "data", config="day_seconds = 1\n").start()
    try:
        s3 = client(srv)
        env = srv.env()
        # The baseline rules are the document Terraform applies.
        rc, out, err = aws(env, "get-bucket-lifecycle-configuration", "--bucket", ASSETS)
        assert rc == 0, err
        doc = json.loads((REPO / "config/buckets/leadshop-assets/lifecycle.json").read_text())
        got = json.loads(out)
        assert got["Rules"] == doc["Rules"]
        assert got["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"

        start = time.monotonic()
        big = tmp_path / "test-file.pdf"
        big.write_bytes(b"%PDF" + b"x" * (300 * KIB))
        s3.upload_file(str(big), ASSETS, "reports/test-file.pdf")
        s3.put_object(Bucket=ASSETS, Key="reports/small.txt", Body=b"small" * 100)
        old = s3.put_object(Bucket=ASSETS, Key="reports/versioned.pdf", Body=b"1" * (200 * KIB))
        s3.put_object(Bucket=ASSETS, Key="reports/versioned.pdf", Body=b"2" * (200 * KIB))
        tmp = s3.put_object(Bucket=ASSETS, Key="tmp/scratch.bin", Body=b"scratch")
        upload = s3.create_multipart_upload(Bucket=ASSETS, Key="uploads/partial.bin")["UploadId"]
        assert 'rule-id="expire-temporary-uploads"' in tmp["Expiration"]

        assert class_of(s3, "reports/test-file.pdf") == "STANDARD"
        listed = {o["Key"]: o["StorageClass"] for o in
                  s3.list_objects_v2(Bucket=ASSETS, Prefix="reports/")["Contents"]}
        assert listed["reports/test-file.pdf"] == "STANDARD"

        # tmp/: expired after its day (a delete marker), its old version a day later.
        wait_for("tmp/ to expire", lambda: versions(s3, ASSETS, "tmp/")[1])
        wait_for("tmp/ to be gone", lambda: versions(s3, ASSETS, "tmp/") == ([], []))
        # The incomplete upload: aborted after 7 days, not before.
        wait_for("the upload to be aborted",
                 lambda: not s3.list_multipart_uploads(Bucket=ASSETS).get("Uploads"))
        assert time.monotonic() - start >= 6, "aborted before its 7 days"
        with pytest.raises(s3.exceptions.NoSuchUpload):
            s3.list_parts(Bucket=ASSETS, Key="uploads/partial.bin", UploadId=upload)

        # Not before 30 days; STANDARD_IA after them, as HEAD and the listing say.
        # Both large objects, each on its own 30th day: versioned.pdf's current version was
        # written after test-file.pdf, so with one-second days a later pass may move it.
        wait_for("the 30-day transition", lambda: class_of(s3, "reports/test-file.pdf") == "STANDARD_IA"
                 and class_of(s3, "reports/versioned.pdf") == "STANDARD_IA")
        assert time.monotonic() - start >= 29, "transitioned before 30 days"
        listed = {o["Key"]: o["StorageClass"] for o in
                  s3.list_objects_v2(Bucket=ASSETS, Prefix="reports/")["Contents"]}
        assert listed == {"reports/test-file.pdf": "STANDARD_IA", "reports/small.txt": "STANDARD",
                          "reports/versioned.pdf": "STANDARD_IA"}
        assert class_of(s3, "reports/small.txt") == "STANDARD", "under 128 KiB stays STANDARD"
        # The noncurrent version moves 30 days after it became noncurrent.
        wait_for("the noncurrent transition", lambda: all(
            v.get("StorageClass") == "STANDARD_IA" for v in versions(s3, ASSETS, "reports/versioned.pdf")[0]))
        body = s3.get_object(Bucket=ASSETS, Key="reports/versioned.pdf", VersionId=old["VersionId"])["Body"].read()
        assert body == b"1" * (200 * KIB), "a transition keeps the bytes"

        # The operator's view.
        st = wait_for("a finished pass with the counts", lambda: (s := status(srv)) and s["last"]
                      and s["totals"].get(ASSETS, {}).get("standard-ia-after-30-days", {}).get("transitioned", 0) >= 3
                      and s)
        rules = st["totals"][ASSETS]
        assert rules["standard-ia-after-30-days"]["uploads_aborted"] == 1
        assert rules["expire-temporary-uploads"]["expired"] == 1
        assert rules["expire-temporary-uploads"]["noncurrent_deleted"] == 1
        out = subprocess.run([str(BIN), "lifecycle", "status", "--data-dir", str(srv.data_dir)],
                             capture_output=True, text=True, check=True).stdout
        assert "standard-ia-after-30-days" in out and "Next pass:" in out, out
        m = srv.metrics()
        key = f'leadshop_lifecycle_actions_total{{bucket="{ASSETS}",rule="standard-ia-after-30-days",action="transition"}}'
        assert m[key] >= 3
    finally:
        srv.stop()


def test_lifecycle_configuration_through_the_aws_cli(server, env):
    bucket = "lifecycle-cli"
    rc, _, err = aws(env, "create-bucket", "--bucket", bucket)
    assert rc == 0, err
    rc, _, err = aws(env, "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert rc != 0 and "NoSuchLifecycleConfiguration" in err
    refused = {
        "'Days' in Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'":
            {"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""},
             "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]},
        "'Date' must be at midnight GMT":
            {"ID": "b", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Date": "2030-01-01T10:00:00Z"}},
        "MalformedXML": {"ID": "c", "Status": "Enabled", "Filter": {"Prefix": ""},
                         "Transitions": [{"Days": 1, "StorageClass": "STANDARD"}]},
        "At least one action needs to be specified in a rule": {"ID": "d", "Status": "Enabled", "Filter": {}},
    }
    for message, rule in refused.items():
        rc, _, err = aws(env, "put-bucket-lifecycle-configuration", "--bucket", bucket,
                         "--lifecycle-configuration", json.dumps({"Rules": [rule]}))
        assert rc != 0 and message in err, (message, err)
    config = {"Rules": [
        {"ID": "logs", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "keep", "Value": "short"}],
                            "ObjectSizeGreaterThan": 10}},
         "Transitions": [{"Days": 0, "StorageClass": "GLACIER"}], "Expiration": {"Days": 30}},
        {"ID": "versions", "Status": "Disabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "STANDARD_IA",
                                           "NewerNoncurrentVersions": 3}],
         "NoncurrentVersionExpiration": {"NoncurrentDays": 60, "NewerNoncurrentVersions": 5},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "old/"},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]}
    rc, out, err = aws(env, "put-bucket-lifecycle-configuration", "--bucket", bucket,
                       "--lifecycle-configuration", json.dumps(config),
                       "--transition-default-minimum-object-size", "varies_by_storage_class")
    assert rc == 0, err
    assert json.loads(out)["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    rc, out, err = aws(env, "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert rc == 0, err
    got = json.loads(out)
    assert got["Rules"] == config["Rules"]
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    # The application's key may not change the rules.
    app = server.env("app")
    rc, _, err = aws(app, "put-bucket-lifecycle-configuration", "--bucket", ASSETS,
                     "--lifecycle-configuration", json.dumps(config))
    assert rc != 0 and "AccessDenied" in err
    rc, _, err = aws(env, "delete-bucket-lifecycle", "--bucket", bucket)
    assert rc == 0, err
    rc, _, err = aws(env, "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert "NoSuchLifecycleConfiguration" in err


def test_kill_9_during_a_lifecycle_pass_loses_and_repeats_nothing(tmp_path):
    """Six thousand objects expire and three thousand transition in passes that are killed
    (several times when they can be caught running); after restarts every expired object has
    exactly one delete marker over its one version, every transitioned one is present, in one
    version, in GLACIER_IR, with its bytes, and the counts say each action once."""
    n, m = 6000, 3000
    bucket = "lifecycle-crash"
    srv = Leadshop(tmp_path / "data", config="day_seconds = 1\n").start()
    try:
        s3 = client(srv)
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

        def put(i):
            s3.put_object(Bucket=bucket, Key=f"x/{i:05d}", Body=b"data")
            if i < m:
                s3.put_object(Bucket=bucket, Key=f"y/{i:05d}", Body=f"cold {i}".encode())

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, range(n)))
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "x/"}, "Expiration": {"Days": 1}},
            {"ID": "cold", "Status": "Enabled",
             "Filter": {"And": {"Prefix": "y/", "ObjectSizeGreaterThan": 0}},
             "Transitions": [{"Days": 0, "StorageClass": "GLACIER_IR"}]}]})
        kills_mid_pass = 0
        for _ in range(3):
            # Kill as soon as the status (written by this run of the server) shows a pass
            # part-way through this bucket.
            before = status(srv)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                st = status(srv)
                done = (st or {}).get("totals", {}).get(bucket, {}).get("expire", {}).get("expired", 0)
                if done >= n:
                    break
                if st and st != before and st["phase"] == "Versions" and 0 < done < n:
                    srv.kill9()
                    kills_mid_pass += 1
                    break
                time.sleep(0.002)
            if srv.proc.poll() is None:
                break
            srv.start()
            s3 = client(srv)
        print(f"kills during a pass: {kills_mid_pass}")
        totals = lambda: (status(srv) or {}).get("totals", {}).get(bucket, {})  # noqa: E731
        wait_for("every object to expire and transition",
                 lambda: totals().get("expire", {}).get("expired", 0) >= n
                 and totals().get("cold", {}).get("transitioned", 0) >= m, timeout=120)
        markers, objects = 0, 0
        paginator = s3.get_paginator("list_object_versions")
        per_key = {}
        for page in paginator.paginate(Bucket=bucket, Prefix="y/"):
            for v in page.get("Versions", []):
                assert v["StorageClass"] == "GLACIER_IR" and v["IsLatest"], v
                per_key[v["Key"]] = per_key.get(v["Key"], 0) + 1
            assert not page.get("DeleteMarkers")
        assert len(per_key) == m and set(per_key.values()) == {1}
        for i in (0, m // 2, m - 1):
            assert s3.get_object(Bucket=bucket, Key=f"y/{i:05d}")["Body"].read() == f"cold {i}".encode()
        per_key = {}
        for page in paginator.paginate(Bucket=bucket, Prefix="x/"):
            for v in page.get("Versions", []):
                per_key.setdefault(v["Key"], []).append("v")
                objects += 1
            for marker in page.get("DeleteMarkers", []):
                per_key.setdefault(marker["Key"], []).append("m")
                markers += 1
        assert (objects, markers) == (n, n)
        assert all(sorted(k) == ["m", "v"] for k in per_key.values())
        assert s3.list_objects_v2(Bucket=bucket, Prefix="x/").get("KeyCount") == 0
        assert totals()["expire"]["expired"] == n, "each counted once"
        assert totals()["cold"]["transitioned"] == m, "each counted once"
        assert kills_mid_pass >= 1, "no kill landed during a pass; the test proved nothing"
    finally:
        srv.stop()


def test_the_cost_runbook_runs_as_written(tmp_path):
    """docs/OPERATIONS.md "Cost overrun: emergency cleanup", every block verbatim, against a
    local server with one-second days."""
    srv = Leadshop(tmp_path / "data", config="day_seconds = 1\n").start()
    try:
        s3 = client(srv)
        env = srv.env()
        env["PATH"] = f"{BIN.parent}:{env['PATH']}"
        assert env["AWS_S3_BUCKET_NAME"] == ASSETS
        s3.put_object(Bucket=ASSETS, Key="reports/big.pdf", Body=b"r" * (200 * KIB))
        s3.put_object(Bucket=ASSETS, Key="tmp/a", Body=b"1")
        s3.put_object(Bucket=ASSETS, Key="tmp/a", Body=b"2")
        s3.put_object(Bucket=ASSETS, Key="tmp/b", Body=b"3")
        s3.create_multipart_upload(Bucket=ASSETS, Key="tmp/partial")
        listing, cloudwatch, put_rules, cleanup, restore = runbook_blocks("## Cost overrun")

        def sh(block):
            out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, cwd=REPO,
                                 capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, (block, out.stdout, out.stderr)
            return out.stdout

        seen = json.loads(sh(listing))
        assert seen["objects"] == 3 and seen["bytes"] == 200 * KIB + 2
        # CloudWatch's storage metric counts every version (tmp/a has two).
        # The newest datapoint of the last three days (AWS publishes a day late).
        wait_for("today's BucketSizeBytes", lambda: (json.loads(sh(cloudwatch)) or {}).get("Maximum")
                 == 200 * KIB + 3)
        # A key with history: the emergency rules keep its three newest noncurrent versions.
        for i in range(6):
            s3.put_object(Bucket=ASSETS, Key="reports/history.txt", Body=f"v{i}".encode())
        out = sh(put_rules)  # the PUT's answer, then the rule ids read back
        assert json.loads(out[out.rindex("["):]) == ["emergency", "emergency-tmp"], out
        out = sh(cleanup)
        assert "incomplete uploads aborted" in out, out
        assert versions(s3, ASSETS, "tmp/") == ([], []), "tmp/ is gone at once, history included"
        assert not s3.list_multipart_uploads(Bucket=ASSETS, Prefix="tmp/").get("Uploads")
        wait_for("the emergency transition", lambda: class_of(s3, "reports/big.pdf") == "GLACIER_IR",
                 timeout=30)
        assert s3.get_object(Bucket=ASSETS, Key="reports/big.pdf")["Body"].read() == b"r" * (200 * KIB)

        def noncurrent():
            vs = s3.list_object_versions(Bucket=ASSETS, Prefix="reports/history.txt")["Versions"]
            return [v["VersionId"] for v in vs if not v["IsLatest"]]

        # The lifecycle worker runs beside the test (one-second days): read the versions' bytes
        # only once the count has settled at the three it keeps for good.
        wait_for("noncurrent versions beyond the newest three expired", lambda: len(noncurrent()) == 3, timeout=30)
        kept = [s3.get_object(Bucket=ASSETS, Key="reports/history.txt", VersionId=v)["Body"].read()
                for v in noncurrent()]
        assert kept == [b"v4", b"v3", b"v2"], "the recovery runbook still has the recent history"
        sh(restore)
        doc = json.loads((REPO / "config/buckets/leadshop-assets/lifecycle.json").read_text())
        assert s3.get_bucket_lifecycle_configuration(Bucket=ASSETS)["Rules"] == doc["Rules"]
    finally:
        srv.stop()
