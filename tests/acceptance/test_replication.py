"""Bucket replication (issue 32), driven with boto3 at its defaults against real servers.

- Same-server replication: what AWS refuses is refused; PUT, multipart, copy, overwrite,
  delete-marker reach the destination bucket with the same bytes, metadata, tags and storage
  class, PENDING -> COMPLETED on the source, REPLICA on the replica; deleting a specific version
  does not replicate.
- Two leadshop servers (each its own data directory and CA): a destination that is down is
  caught up when it returns (the backlog visible meanwhile); `kill -9` of the source mid-backlog
  and of the destination mid-write lose nothing and duplicate nothing; a refused destination
  (wrong key, no versioning) gives FAILED and a metric, not an endless loop.
- moto's server as a destination that is not leadshop.
"""

import datetime
import hashlib
import json
import os
import socket
import subprocess
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from leadshop_proc import BIN, Leadshop

ROLE = "arn:aws:iam::000000000000:role/leadshop-replication"


def client(env: dict):
    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])


def rule(dest_bucket: str, rule_id="all", priority=1, prefix="", **extra) -> dict:
    r = {"ID": rule_id, "Priority": priority, "Status": "Enabled", "Filter": {"Prefix": prefix},
         "DeleteMarkerReplication": {"Status": "Enabled"},
         "Destination": {"Bucket": f"arn:aws:s3:::{dest_bucket}"}}
    r.update(extra)
    return r


def config(*rules) -> dict:
    return {"Role": ROLE, "Rules": list(rules)}


def code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def refused(call, **kw) -> tuple[str, str]:
    with pytest.raises(ClientError) as e:
        call(**kw)
    return code(e.value), e.value.response["Error"].get("Message", "")


def versions(s3, bucket: str) -> list[dict]:
    """Every version and delete marker, oldest first per key."""
    out = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        out += [dict(v, Marker=False) for v in page.get("Versions", [])]
        out += [dict(m, Marker=True) for m in page.get("DeleteMarkers", [])]
    return sorted(out, key=lambda v: (v["Key"], v["LastModified"], v["VersionId"]))


def wait_for(predicate, what: str, timeout: float = 120.0):
    """Polls `predicate` until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def status_of(s3, bucket: str, key: str, version_id: str) -> str | None:
    return s3.head_object(Bucket=bucket, Key=key, VersionId=version_id).get("ReplicationStatus")


def all_completed(s3, bucket: str, skip=("before",)) -> bool:
    """Every version (but those of keys in `skip`) COMPLETED."""
    return all(status_of(s3, bucket, v["Key"], v["VersionId"]) == "COMPLETED"
               for v in versions(s3, bucket) if not v["Marker"] and v["Key"] not in skip)


def contents(s3, bucket: str, v: dict, *, marker_meta=False) -> tuple:
    """What a version holds: bytes, metadata, content type, storage class, tags (and, with
    `marker_meta`, the source version its metadata names, taken out of the metadata)."""
    got = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    meta = dict(got["Metadata"])
    source = meta.pop("leadshop-replica-of", None) if marker_meta else None
    tags = s3.get_object_tagging(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["TagSet"]
    # A store that is not leadshop answers AWS's default type for an object stored without one.
    held = (hashlib.sha256(got["Body"].read()).hexdigest(), sorted(meta.items()),
            got.get("ContentType", "binary/octet-stream"),
            got.get("StorageClass", "STANDARD"), sorted((t["Key"], t["Value"]) for t in tags))
    return held, source, got.get("ReplicationStatus")


def write_mix(s3, bucket: str, tag: str) -> None:
    """PUT (metadata, tags, a storage class), multipart, copy, overwrite, delete marker."""
    s3.put_object(Bucket=bucket, Key=f"{tag}/a", Body=b"first " + tag.encode(), ContentType="text/plain",
                  Metadata={"origin": "seed"}, Tagging="keep=yes&team=growth", StorageClass="STANDARD_IA")
    up = s3.create_multipart_upload(Bucket=bucket, Key=f"{tag}/big", Metadata={"kind": "pdf"},
                                    ContentType="application/pdf")
    parts = []
    for n, body in enumerate([os.urandom(5 * 1024 * 1024), os.urandom(1024 * 1024)], start=1):
        r = s3.upload_part(Bucket=bucket, Key=f"{tag}/big", UploadId=up["UploadId"], PartNumber=n, Body=body)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=f"{tag}/big", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": parts})
    s3.copy_object(Bucket=bucket, Key=f"{tag}/c", CopySource={"Bucket": bucket, "Key": f"{tag}/a"})
    s3.put_object(Bucket=bucket, Key=f"{tag}/a", Body=b"second " + tag.encode(), Metadata={"origin": "again"})
    s3.delete_object(Bucket=bucket, Key=f"{tag}/c")


def check_replicated(src, src_bucket, dst, dst_bucket, *, marker_meta=False, keys=None) -> None:
    """Each source version has exactly one replica with the same contents, each delete marker
    one marker, and each key's current state is the source's (versions listed within one
    second of each other have no order to compare, so contents are compared per key)."""
    def per_key(s3, bucket, replica):
        out = {}
        for v in versions(s3, bucket):
            if keys is not None and v["Key"] not in keys:
                continue
            k = out.setdefault(v["Key"], {"held": [], "markers": 0, "sources": [], "latest_marker": False})
            if v["Marker"]:
                k["markers"] += 1
                k["latest_marker"] |= v["IsLatest"]
                continue
            held, source, status = contents(s3, bucket, v, marker_meta=replica and marker_meta)
            k["held"].append(held)
            if replica:
                k["sources"].append(source)
                if not marker_meta:
                    assert status == "REPLICA", v
            else:
                k["sources"].append(f"{bucket}/{v['VersionId']}")
        for k in out.values():
            k["held"].sort()
            k["sources"].sort(key=str)
        return out

    want, got = per_key(src, src_bucket, False), per_key(dst, dst_bucket, True)
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert (g["held"], g["markers"], g["latest_marker"]) == (w["held"], w["markers"], w["latest_marker"]), key
        if marker_meta:
            assert g["sources"] == w["sources"], key


def test_same_server_replication_refuses_what_aws_refuses_and_replicates_every_change(server, s3):
    src, dst = f"repl-src-{uuid.uuid4().hex[:8]}", f"repl-dst-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=src)
    put = s3.put_bucket_replication
    c, m = refused(put, Bucket=src, ReplicationConfiguration=config(rule(dst)))
    assert (c, m) == ("InvalidRequest", "Versioning must be 'Enabled' on the bucket to apply a replication configuration")
    s3.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": "Enabled"})
    assert refused(put, Bucket=src, ReplicationConfiguration=config(rule(dst))) == (
        "InvalidRequest", "Destination bucket must exist.")
    s3.create_bucket(Bucket=dst)
    assert refused(put, Bucket=src, ReplicationConfiguration=config(rule(dst))) == (
        "InvalidRequest", "Destination bucket must have versioning enabled.")
    s3.put_bucket_versioning(Bucket=dst, VersioningConfiguration={"Status": "Enabled"})
    assert refused(put, Bucket=src, ReplicationConfiguration=config(rule(src)))[0] == "InvalidRequest"
    bad_role = {"Role": "arn:aws:iam::123:role/x", "Rules": [rule(dst)]}
    assert refused(put, Bucket=src, ReplicationConfiguration=bad_role)[0] == "InvalidArgument"
    twice = config(rule(dst, "a", 1, "a/"), rule(dst, "b", 1, "b/"))
    assert refused(put, Bucket=src, ReplicationConfiguration=twice)[0] == "InvalidRequest"
    no_markers = rule(dst)
    del no_markers["DeleteMarkerReplication"]
    assert refused(put, Bucket=src, ReplicationConfiguration=config(no_markers))[0] == "InvalidRequest"
    rtc = rule(dst, Destination={"Bucket": f"arn:aws:s3:::{dst}",
                                 "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}}})
    assert refused(put, Bucket=src, ReplicationConfiguration=config(rtc))[0] == "InvalidRequest"
    assert code(pytest.raises(ClientError, s3.get_bucket_replication, Bucket=src).value) == \
        "ReplicationConfigurationNotFoundError"

    # Written before the configuration: not replicated (no ExistingObjectReplication).
    s3.put_object(Bucket=src, Key="before", Body=b"old")
    wanted = config(rule(dst, Destination={"Bucket": f"arn:aws:s3:::{dst}", "Metrics": {
        "Status": "Enabled", "EventThreshold": {"Minutes": 15}}}))
    put(Bucket=src, ReplicationConfiguration=wanted)
    got = s3.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]
    assert got["Role"] == ROLE and got["Rules"][0]["ID"] == "all"
    assert got["Rules"][0]["Destination"]["Bucket"] == f"arn:aws:s3:::{dst}"
    assert refused(s3.put_bucket_versioning, Bucket=src,
                   VersioningConfiguration={"Status": "Suspended"})[0] == "InvalidBucketState"

    write_mix(s3, src, "mix")
    # A deleted specific version is not replicated as a deletion (as on AWS).
    d = s3.put_object(Bucket=src, Key="mix/d", Body=b"kept at the destination")
    wait_for(lambda: all_completed(s3, src), "every version COMPLETED")
    assert status_of(s3, src, "before", versions(s3, src)[0]["VersionId"]) is None
    s3.delete_object(Bucket=src, Key="mix/d", VersionId=d["VersionId"])
    assert s3.head_object(Bucket=src, Key="before").get("ReplicationStatus") is None

    sv = [v for v in versions(s3, src) if v["Key"] != "before" and v["Key"] != "mix/d"]
    check_replicated(s3, src, s3, dst, keys={"mix/a", "mix/big", "mix/c"})
    assert s3.get_object(Bucket=dst, Key="mix/d")["Body"].read() == b"kept at the destination"
    assert s3.head_object(Bucket=dst, Key="mix/big")["ContentLength"] == 6 * 1024 * 1024
    with pytest.raises(ClientError):
        s3.head_object(Bucket=dst, Key="before")

    # The status is counted once a second; /metrics has the totals (per-bucket series only with
    # [metrics] bucket_labels: the two-server test's).
    replicated = len([v for v in sv if not v["Marker"]]) + 1
    wait_for(lambda: server.metrics().get("leadshop_replication_completed_total", 0) >= replicated,
             "the counter")
    assert not [k for k in server.metrics() if src in k], "no bucket names without bucket_labels"
    # CloudWatch, as AWS publishes replication metrics for a rule with Metrics enabled.
    env = server.env("admin")
    cw = boto3.client("cloudwatch", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
    dims = [{"Name": "SourceBucket", "Value": src}, {"Name": "DestinationBucket", "Value": dst},
            {"Name": "RuleId", "Value": "all"}]

    def stat(name, statistic):
        now = datetime.datetime.now(datetime.timezone.utc)
        points = cw.get_metric_statistics(
            Namespace="AWS/S3", MetricName=name, Dimensions=dims, Period=60, Statistics=[statistic],
            StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=1),
        )["Datapoints"]
        return points

    latency = wait_for(lambda: stat("ReplicationLatency", "SampleCount"), "ReplicationLatency datapoints")
    assert sum(p["SampleCount"] for p in latency) >= replicated and latency[0]["Unit"] == "Seconds"
    pending = wait_for(lambda: stat("OperationsPendingReplication", "Maximum"), "the pending gauge")
    assert pending[0]["Unit"] == "Count"
    assert wait_for(lambda: stat("BytesPendingReplication", "Maximum"), "the pending bytes")[0]["Unit"] == "Bytes"
    listed = cw.list_metrics(Namespace="AWS/S3", MetricName="ReplicationLatency")["Metrics"]
    assert any(sorted(m["Dimensions"], key=lambda d: d["Name"]) == sorted(dims, key=lambda d: d["Name"])
               for m in listed)

    # ExistingObjectReplication: the batch queues what was written before (resumable, in the
    # store); versions already replicated are not sent again.
    before = len(versions(s3, dst))
    put(Bucket=src, ReplicationConfiguration=config(rule(dst, ExistingObjectReplication={"Status": "Enabled"})))
    wait_for(lambda: s3.head_object(Bucket=src, Key="before").get("ReplicationStatus") == "COMPLETED",
             "the existing object replicated")
    assert s3.get_object(Bucket=dst, Key="before")["Body"].read() == b"old"
    assert len(versions(s3, dst)) == before + 1

    s3.delete_bucket_replication(Bucket=src)
    assert code(pytest.raises(ClientError, s3.get_bucket_replication, Bucket=src).value) == \
        "ReplicationConfigurationNotFoundError"
    s3.put_object(Bucket=src, Key="after", Body=b"x")
    assert s3.head_object(Bucket=src, Key="after").get("ReplicationStatus") is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leadshop(*args, stdin: str | None = None) -> str:
    out = subprocess.run([str(BIN), *args], input=stdin, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def status_json(srv: Leadshop) -> dict:
    return json.loads(leadshop("replication", "status", "--json", "--data-dir", str(srv.data_dir),
                               "--config", str(srv.config)))


@pytest.fixture()
def pair(tmp_path):
    """A destination leadshop on a fixed port and a source configured to replicate to it."""
    port = free_port()
    dst = Leadshop(tmp_path / "dst", s3_addr=f"127.0.0.1:{port}").start()
    dst_env = dst.env("admin")
    endpoint = f"https://127.0.0.1:{port}"
    src = Leadshop(tmp_path / "src", config=f"""
[metrics]
bucket_labels = true

[replication]
poll_ms = 20
max_backoff_seconds = 1

[replication.destinations.backup]
bucket = "arn:aws:s3:::replica"
endpoint = "{endpoint}"
ca_bundle = "{dst_env['AWS_CA_BUNDLE']}"
leadshop = true

[replication.destinations.unversioned]
bucket = "arn:aws:s3:::plain"
endpoint = "{endpoint}"
ca_bundle = "{dst_env['AWS_CA_BUNDLE']}"
leadshop = true
""")
    # The key is stored sealed before the server starts (and could be while it runs).
    for name in ("backup", "unversioned"):
        leadshop("replication", "credentials", "set", name, "--access-key-id", dst_env["AWS_ACCESS_KEY_ID"],
                 "--data-dir", str(src.data_dir), "--config", str(src.config),
                 stdin=dst_env["AWS_SECRET_ACCESS_KEY"] + "\n")
    src.start()
    yield src, dst, dst_env
    src.stop()
    dst.stop()


def test_a_second_leadshop_is_caught_up_and_crashes_lose_and_duplicate_nothing(pair):
    src, dst, dst_env = pair
    listed = json.loads(leadshop("replication", "credentials", "list", "--json", "--data-dir", str(src.data_dir)))
    assert {k["Destination"] for k in listed} == {"backup", "unversioned"}
    assert dst_env["AWS_SECRET_ACCESS_KEY"] not in (src.data_dir / "replication-keys.json").read_text()
    s3, r3 = client(src.env("admin")), client(dst_env)
    r3.create_bucket(Bucket="replica")
    r3.put_bucket_versioning(Bucket="replica", VersioningConfiguration={"Status": "Enabled"})
    r3.create_bucket(Bucket="plain")
    s3.create_bucket(Bucket="assets")
    s3.put_bucket_versioning(Bucket="assets", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket="assets", ReplicationConfiguration=config(
        rule("replica"), rule("plain", "unversioned", 2, "plain/")))

    # Over the wire: the mix, each version once, REPLICA at the destination.
    write_mix(s3, "assets", "mix")
    wait_for(lambda: all_completed(s3, "assets"), "the mix COMPLETED")
    check_replicated(s3, "assets", r3, "replica")

    # The destination is down: the backlog waits (PENDING, visible), a kill -9 of the source
    # loses none of it, and all of it arrives once the destination is back.
    dst.stop()
    for i in range(30):
        s3.put_object(Bucket="assets", Key=f"down/{i:02}", Body=f"written while down {i}".encode())
    v0 = [v for v in versions(s3, "assets") if v["Key"] == "down/00"][0]
    assert status_of(s3, "assets", "down/00", v0["VersionId"]) == "PENDING"
    st = wait_for(lambda: (s := status_json(src))["pending_operations"] == 30 and s, "the backlog counted")
    assert st["pending_bytes"] == sum(len(f"written while down {i}") for i in range(30))
    assert st["oldest_pending_ms"] is not None and "unreachable" in (st["last_error"] or "")
    assert src.metrics()["leadshop_replication_pending_operations"] == 30
    src.kill9()
    src.start()
    dst.start()
    s3 = client(src.env("admin"))
    wait_for(lambda: all_completed(s3, "assets"), "the backlog COMPLETED after the restart")
    check_replicated(s3, "assets", r3, "replica")

    # kill -9 of the destination in the middle of writing replicas: afterwards each version is
    # there exactly once (a delivery whose answer was lost is recognised, not stored again).
    big = [os.urandom(4 * 1024 * 1024) for _ in range(6)]
    for i, body in enumerate(big):
        s3.put_object(Bucket="assets", Key=f"crash/{i}", Body=body)
    wait_for(lambda: any(v["Key"].startswith("crash/") for v in versions(r3, "replica")), "a first replica")
    dst.kill9()
    dst.start()
    wait_for(lambda: all_completed(s3, "assets"), "the big ones COMPLETED after the destination's crash")
    check_replicated(s3, "assets", r3, "replica")

    # Refused for good: a bucket without versioning, then a wrong key. FAILED, counted, no loop.
    s3.put_object(Bucket="assets", Key="plain/x", Body=b"to an unversioned bucket")
    vid = [v for v in versions(s3, "assets") if v["Key"] == "plain/x"][0]["VersionId"]
    wait_for(lambda: status_of(s3, "assets", "plain/x", vid) == "FAILED", "FAILED (no versioning)")
    leadshop("replication", "credentials", "set", "backup", "--access-key-id", "AKIAWRONGWRONGWRONG1",
             "--data-dir", str(src.data_dir), "--config", str(src.config), stdin="not-the-secret\n")
    s3.put_object(Bucket="assets", Key="wrong-key", Body=b"refused")
    vid = [v for v in versions(s3, "assets") if v["Key"] == "wrong-key"][0]["VersionId"]
    wait_for(lambda: status_of(s3, "assets", "wrong-key", vid) == "FAILED", "FAILED (wrong key)")
    st = wait_for(lambda: (s := status_json(src))["pending_operations"] == 0 and len(s["failed_by_reason"]) == 2 and s,
                  "the failures counted by reason")
    assert set(st["failed_by_reason"]) == {
        "InvalidAccessKeyId", "InvalidRequest: the destination bucket's versioning is not enabled"}
    m = src.metrics()
    assert m['leadshop_replication_failed_total{bucket="assets",rule="all"}'] == 1
    assert m['leadshop_replication_failed_total{bucket="assets",rule="unversioned"}'] == 1
    text = leadshop("replication", "status", "--data-dir", str(src.data_dir), "--config", str(src.config))
    assert "InvalidAccessKeyId" in text and "backlog: 0 versions" in text
    with pytest.raises(ClientError):
        r3.head_object(Bucket="replica", Key="wrong-key")


def test_moto_as_a_destination_that_is_not_leadshop(tmp_path):
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        creds = tmp_path / "moto.credentials"
        creds.write_text("[replication]\naws_access_key_id = motokey\naws_secret_access_key = motosecret\n")
        src = Leadshop(tmp_path / "src", config=f"""
[replication]
poll_ms = 20
max_backoff_seconds = 1

[replication.destinations.moto]
bucket = "arn:aws:s3:::offsite"
endpoint = "http://{host}:{port}"
credentials_file = "{creds}"
profile = "replication"
""").start()
        try:
            m3 = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://{host}:{port}",
                              aws_access_key_id="motokey", aws_secret_access_key="motosecret")
            m3.create_bucket(Bucket="offsite")
            m3.put_bucket_versioning(Bucket="offsite", VersioningConfiguration={"Status": "Enabled"})
            s3 = client(src.env("admin"))
            s3.create_bucket(Bucket="assets")
            s3.put_bucket_versioning(Bucket="assets", VersioningConfiguration={"Status": "Enabled"})
            s3.put_bucket_replication(Bucket="assets", ReplicationConfiguration=config(rule("offsite")))
            write_mix(s3, "assets", "mix")
            wait_for(lambda: all_completed(s3, "assets"), "every version COMPLETED at moto")
            check_replicated(s3, "assets", m3, "offsite", marker_meta=True)
        finally:
            src.stop()
    finally:
        moto.stop()


def test_a_replica_header_needs_s3_replicate_object_and_is_stored_once(server, env):
    """`x-leadshop-replica-of` asks for s3:ReplicateObject: the least-privileged key that may
    put objects is refused it, the admin key is allowed, and a second delivery of the same
    source version answers the first replica instead of storing another."""
    def with_header(c, value):
        def add(request, **_):
            request.headers["x-leadshop-replica-of"] = value
        c.meta.events.register("before-sign.s3.PutObject", add)
        c.meta.events.register("before-sign.s3.DeleteObject", add)
        return c

    app = client(server.env("app"))
    key = f"replica-header/{uuid.uuid4().hex}"
    app.put_object(Bucket="leadshop-assets", Key=key, Body=b"plain write allowed")
    refused_app = with_header(client(server.env("app")), "source-bucket/v1")
    assert code(pytest.raises(ClientError, refused_app.put_object, Bucket="leadshop-assets", Key=key,
                              Body=b"replica").value) == "AccessDenied"
    admin = with_header(client(env), "source-bucket/v1")
    first = admin.put_object(Bucket="leadshop-assets", Key=key, Body=b"replica")
    again = admin.put_object(Bucket="leadshop-assets", Key=key, Body=b"replica")
    assert again["VersionId"] == first["VersionId"]
    head = admin.head_object(Bucket="leadshop-assets", Key=key)
    assert head["ReplicationStatus"] == "REPLICA" and head["VersionId"] == first["VersionId"]
    bad = with_header(client(env), "no-slash")
    assert code(pytest.raises(ClientError, bad.put_object, Bucket="leadshop-assets", Key=key,
                              Body=b"x").value) == "InvalidArgument"
    marker = with_header(client(env), "source-bucket/m1")
    m1 = marker.delete_object(Bucket="leadshop-assets", Key=key)
    m2 = marker.delete_object(Bucket="leadshop-assets", Key=key)
    assert m1["DeleteMarker"] and m1["VersionId"] == m2["VersionId"]


def test_the_replica_runbook_rebuilds_a_lost_source(tmp_path):
    """docs/OPERATIONS.md "Data recovery from the replica", each block as written: the source
    is lost (kill -9, its data directory gone); a new source is filled from the replica, every
    key's current object with its bytes, metadata and tags, and its history."""
    import shutil

    from runbooks import record_recovery_time, runbook_blocks

    replica_toml = tmp_path / "replica.toml"
    replica = Leadshop(tmp_path / "replica").start()
    r_env = replica.env("admin")
    r3 = client(r_env)
    r3.create_bucket(Bucket="leadshop-assets-replica")
    r3.put_bucket_versioning(Bucket="leadshop-assets-replica", VersioningConfiguration={"Status": "Enabled"})
    source = Leadshop(tmp_path / "source", config=f"""
[replication]
poll_ms = 20
max_backoff_seconds = 1

[replication.destinations.replica]
bucket = "arn:aws:s3:::leadshop-assets-replica"
endpoint = "{r_env['AWS_ENDPOINT_URL']}"
ca_bundle = "{r_env['AWS_CA_BUNDLE']}"
leadshop = true
""")
    leadshop("replication", "credentials", "set", "replica", "--access-key-id", r_env["AWS_ACCESS_KEY_ID"],
             "--data-dir", str(source.data_dir), "--config", str(source.config),
             stdin=r_env["AWS_SECRET_ACCESS_KEY"])
    source.start()
    new_source = None
    try:
        s3 = client(source.env("admin"))
        s3.put_bucket_replication(Bucket="leadshop-assets", ReplicationConfiguration=config(
            rule("leadshop-assets-replica")))
        write_mix(s3, "leadshop-assets", "reports")
        s3.put_object(Bucket="leadshop-assets", Key="screenshots/home.png", Body=os.urandom(300_000),
                      ContentType="image/png", Metadata={"page": "home"})
        wait_for(lambda: all_completed(s3, "leadshop-assets"), "the source replicated")
        want = {}
        for v in versions(s3, "leadshop-assets"):
            if v["IsLatest"] and not v["Marker"]:
                want[v["Key"]] = contents(s3, "leadshop-assets", v)[0]
        assert len(want) == 3, want  # reports/a, reports/big, screenshots/home.png (reports/c deleted)

        # The machine is lost.
        source.kill9()
        shutil.rmtree(source.data_dir)
        started = time.monotonic()
        port = free_port()
        new_source = Leadshop(tmp_path / "new-source", s3_addr=f"127.0.0.1:{port}").start()
        n_env = new_source.env("admin")
        # Step 3's configuration of the replica's server, and its restart.
        replica.stop()
        replica_toml.write_text(f"""
[replication]
poll_ms = 20
max_backoff_seconds = 1

[replication.destinations.rebuild]
bucket = "arn:aws:s3:::leadshop-assets"
endpoint = "{n_env['AWS_ENDPOINT_URL']}"
ca_bundle = "{n_env['AWS_CA_BUNDLE']}"
leadshop = true
""")
        replica.config = replica_toml
        replica.start()
        holds, back, done = runbook_blocks("## Data recovery from the replica")
        env = replica.env("admin")
        env.update({"PATH": f"{BIN.parent}:{env['PATH']}", "LEADSHOP_CONFIG": str(replica_toml),
                    "LEADSHOP_DATA_DIR": str(replica.data_dir), "REPLICA_BUCKET": "leadshop-assets-replica",
                    "SOURCE_ACCESS_KEY_ID": n_env["AWS_ACCESS_KEY_ID"],
                    "SOURCE_SECRET_ACCESS_KEY": n_env["AWS_SECRET_ACCESS_KEY"]})

        def sh(block: str) -> str:
            out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, capture_output=True,
                                 text=True, timeout=300)
            assert out.returncode == 0, (block, out.stdout, out.stderr)
            return out.stdout

        held = json.loads(sh(holds))
        # The three current objects; five versions (reports/a twice, reports/c under its marker).
        assert held == {"current": 3, "versions": 5}, held
        report = sh(back)
        assert "backlog: 0 versions" in report and "failed: none" in report, report
        sh(done)
        n3 = client(n_env)
        got = {}
        for v in versions(n3, "leadshop-assets"):
            if v["IsLatest"] and not v["Marker"]:
                got[v["Key"]] = contents(n3, "leadshop-assets", v)[0]
        assert got == want
        # The history came back too: reports/a's two versions, reports/c under its marker.
        history = [(v["Key"], v["Marker"]) for v in versions(n3, "leadshop-assets")]
        assert history.count(("reports/a", False)) == 2 and ("reports/c", True) in history, history
        record_recovery_time("Rebuild of a lost source from its replica (4 keys, 6 versions)",
                             time.monotonic() - started)
        with pytest.raises(ClientError):
            r3 = client(replica.env("admin"))
            r3.get_bucket_replication(Bucket="leadshop-assets-replica")
    finally:
        source.stop()
        replica.stop()
        if new_source is not None:
            new_source.stop()


def test_sse_kms_objects_replicate_only_when_selected_and_under_the_replica_key(server, s3):
    """SourceSelectionCriteria: an SSE-KMS object replicates only with SseKmsEncryptedObjects,
    and its replica is encrypted under the rule's ReplicaKmsKeyID (the source's key stays
    where it is). (SSE-C objects never replicate: spec::replication's unit tests.)"""
    keys = []
    for name in ("source", "replica"):
        alias = f"repl-{name}-{uuid.uuid4().hex[:8]}"
        out = subprocess.run([str(BIN), "kms", "create-key", "--alias", alias, "--data-dir", str(server.data_dir)],
                             check=True, capture_output=True, text=True).stdout
        keys.append((alias, out.split("KeyId: ")[1].split()[0]))
    (src_alias, _), (replica_alias, replica_id) = keys
    src, dst = f"kms-src-{uuid.uuid4().hex[:8]}", f"kms-dst-{uuid.uuid4().hex[:8]}"
    for b in (src, dst):
        s3.create_bucket(Bucket=b)
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration=config(rule(dst)))
    kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": f"alias/{src_alias}"}
    s3.put_object(Bucket=src, Key="plain", Body=b"sse-s3")
    s3.put_object(Bucket=src, Key="kms-unselected", Body=b"kms", **kms)
    wait_for(lambda: s3.head_object(Bucket=src, Key="plain").get("ReplicationStatus") == "COMPLETED", "plain")
    assert s3.head_object(Bucket=src, Key="kms-unselected").get("ReplicationStatus") is None

    selected = rule(dst, SourceSelectionCriteria={"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                    Destination={"Bucket": f"arn:aws:s3:::{dst}",
                                 "EncryptionConfiguration": {"ReplicaKmsKeyID": f"alias/{replica_alias}"}})
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration=config(selected))
    s3.put_object(Bucket=src, Key="kms-selected", Body=b"kms, selected", **kms)
    wait_for(lambda: s3.head_object(Bucket=src, Key="kms-selected").get("ReplicationStatus") == "COMPLETED",
             "the selected SSE-KMS object")
    head = s3.head_object(Bucket=dst, Key="kms-selected")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(f"key/{replica_id}")
    assert head["ReplicationStatus"] == "REPLICA"
    assert s3.get_object(Bucket=dst, Key="kms-selected")["Body"].read() == b"kms, selected"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=dst, Key="kms-unselected")
