"""Crash safety: writers put, overwrite, delete and complete multipart uploads while the server
is `kill -9`ed and restarted, forty times on a versioned bucket and forty on an unversioned one
(where overwrites and deletes remove the old data files).

Afterwards every key holds what its last acknowledged operation left, or what the operation
interrupted by a kill would have left (it may have committed without its reply getting out);
no partial object is visible (every listed version has the full content its writer meant); no
temp file and no orphan data file survives. Every error a writer met is counted by kind: only
a connection error around a kill is expected, anything else (a 500, a 507, a refusal) fails
the test. Which operation, and which phase of a multipart upload, each kill interrupted is
recorded, and the kills must have interrupted puts and multipart uploads alike.
"""

import collections
import hashlib
import random
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from crashkit import KilledWriters
from leadshop_proc import Leadshop

KILLS = 40
OPS_PER_KILL = 6
WRITERS = 4
SIZES = [1024, 64 * 1024, 1024 * 1024]
PART = 5 * 1024 * 1024
MPU_SIZE = PART + 4 * 1024 * 1024  # two parts
INLINE_MAX = 16 * 1024  # leadshop_store::data::INLINE_MAX


def content(key: str, size: int) -> bytes:
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def body_of(key: str, state) -> bytes | None:
    """What a key reads back in `state`: ("obj", size, generation), or None (deleted)."""
    return None if state is None else content(f"{key}#{state[2]}", state[1])


def client(srv: Leadshop):
    env = srv.env()
    return boto3.client(
        "s3", endpoint_url=srv.endpoints["s3"], verify=env["AWS_CA_BUNDLE"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        # One attempt per call: a write counts as acknowledged only when its own reply arrived.
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=20),
    )


class Writer:
    """One writer's keys: for each, the states it may be in (one after an acknowledged
    operation; two after an interrupted one), and what is in flight now."""

    def __init__(self, w: int, bucket: str):
        self.w, self.rng, self.i, self.bucket = w, random.Random(w), 0, bucket
        self.possible = {}  # key -> set of states
        self.generations = collections.Counter()  # key -> contents ever written
        self.in_flight = None  # (operation, phase)

    def step(self, s3):
        live = [k for k, p in self.possible.items() if any(st is not None for st in p)]
        op = self.rng.choice(["put", "put", "overwrite", "delete", "multipart"] if live else ["put"])
        key = (self.rng.choice(live) if op in ("overwrite", "delete")
               else f"crash/{self.w}/{self.i}" + ("-mpu" if op == "multipart" else ""))
        self.i += 1
        before = self.possible.get(key, {None})
        if op != "delete":
            self.generations[key] += 1
        gen = self.generations[key]
        new = None if op == "delete" else ("obj", MPU_SIZE if op == "multipart" else self.rng.choice(SIZES), gen)
        self.possible[key] = before | {new}  # until acknowledged, either may be the case
        if op == "delete":
            self.in_flight = ("delete", "request")
            s3.delete_object(Bucket=self.bucket, Key=key)
        elif op == "multipart":
            data = body_of(key, new)
            self.in_flight = ("multipart", "create")
            up = s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
            etags = []
            for n, chunk in ((1, data[:PART]), (2, data[PART:])):
                self.in_flight = ("multipart", f"part {n}")
                etags.append(s3.upload_part(Bucket=self.bucket, Key=key, UploadId=up, PartNumber=n, Body=chunk)["ETag"])
            self.in_flight = ("multipart", "complete")
            s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=up, MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags)]})
        else:
            self.in_flight = (op, "request")
            s3.put_object(Bucket=self.bucket, Key=key, Body=body_of(key, new))
        self.possible[key] = {new}
        self.in_flight = None
        return op


@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "unversioned"])
def test_acknowledged_writes_survive_kill_9(tmp_path, versioned):
    # Access logs of leadshop-assets are delivered at each restart (segments a kill left) and
    # then only after an hour, so the count of data files below is not raced by a delivery.
    srv = Leadshop(tmp_path / "data", config="[access_logs]\nflush_seconds = 3600\n").start()
    bucket = "leadshop-assets"
    if not versioned:
        bucket = "crash-unversioned"
        client(srv).create_bucket(Bucket=bucket)
    writers = [Writer(w, bucket) for w in range(WRITERS)]
    run = KilledWriters(srv, client, lambda w, s3: writers[w].step(s3), WRITERS,
                        in_flight=lambda w: writers[w].in_flight)
    rng = random.Random(7 if versioned else 11)
    interrupted = []
    for _ in range(KILLS):
        run.wait_for(OPS_PER_KILL)
        time.sleep(rng.uniform(0, 0.3))  # kill at an arbitrary point mid-stream

        left = set()

        def while_down():
            interrupted.append([wr.in_flight for wr in writers if wr.in_flight])
            left.update((srv.data_dir / "tmp").iterdir())

        def temp_files_removed():
            # Those the kill left (start-up's own log delivery may be writing new ones).
            assert not [p for p in left if p.exists()], "temp files are removed at start-up"

        run.kill_and_restart(while_down, temp_files_removed)
    run.wait_for(8)
    run.stop()
    acked, tally = run.acked, run.tally
    srv.stop()
    srv.start()

    s3 = client(srv)
    for wr in writers:
        for key, possible in wr.possible.items():
            try:
                got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                got = None
            allowed = [body_of(key, st) for st in possible]
            assert got in allowed, (f"{key}: read {None if got is None else len(got)} bytes, expected one of "
                                    f"{[None if a is None else len(a) for a in allowed]}")
    # Every version any listing shows is whole: its size and bytes are one its writer meant.
    meant = {key: range(1, n + 1) for wr in writers for key, n in wr.generations.items()}
    versions, markers = [], 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="crash/"):
        versions.extend(page.get("Versions", []))
        markers += len(page.get("DeleteMarkers", []))
    if not versioned:
        assert markers == 0 and all(v["VersionId"] == "null" for v in versions)
        assert len(versions) == len({v["Key"] for v in versions}), "one version per key"
    for v in versions:
        body = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
        assert len(body) == v["Size"]
        assert any(body == content(f"{v['Key']}#{g}", v["Size"]) for g in meant.get(v["Key"], ())), \
            f"{v['Key']} {v['VersionId']} is visible with partial or foreign content"
    # Every data file on disk belongs to a version or a part of an open upload (orphans of
    # interrupted writes, and the old data of overwritten or deleted keys, were removed):
    # multipart versions have two.
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix="crash/").get("Uploads", [])
    parts = sum(len(s3.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", []))
                for u in uploads)
    # The access-log segments the kills left are delivered at start-up: wait for them, then
    # count their log objects (in leadshop-security-logs) as data files too.
    deadline = time.monotonic() + 120
    while any((srv.data_dir / "access-logs").glob("*.ready")):
        assert time.monotonic() < deadline, "the access-log segments left by the kills are delivered"
        time.sleep(0.2)
    others = [v for b in {"leadshop-assets", bucket}
              for page in s3.get_paginator("list_object_versions").paginate(Bucket=b)
              for v in page.get("Versions", []) if not (b == bucket and v["Key"].startswith("crash/"))]
    others += [v for page in s3.get_paginator("list_object_versions").paginate(Bucket="leadshop-security-logs")
               for v in page.get("Versions", [])]
    # The orphan sweep runs beside serving after a start: wait until it is done.
    deadline = time.monotonic() + 120
    while srv.metrics().get("leadshop_orphan_sweep_state") != 1:
        assert time.monotonic() < deadline, "the orphan sweep finishes"
        time.sleep(0.2)
    files = [p for p in (srv.data_dir / "objects").rglob("*") if p.is_file()]
    # (Objects up to INLINE_MAX, 16 KiB, keep their data in the metadata: no file.)
    segments = sum(2 if v["Size"] == MPU_SIZE else 0 if v["Size"] <= INLINE_MAX else 1
                   for v in versions) + len(others)
    assert len(files) == segments + parts, (len(files), segments, parts)
    summary = collections.Counter(f"{op} ({phase})" for kill in interrupted for op, phase in kill)
    print(f"crash test ({'versioned' if versioned else 'unversioned'}): acknowledged {dict(acked)}; "
          f"{len(versions)} versions and {markers} delete markers visible; {KILLS} kills interrupted "
          f"{dict(summary)}; errors met: {tally}")
    # The kills landed mid-operation, of each kind of write.
    kinds = {op for kill in interrupted for op, _ in kill}
    assert "multipart" in kinds and kinds & {"put", "overwrite"}, summary
    srv.stop()


def test_kill_9_during_online_master_key_rotation_loses_nothing(tmp_path):
    """`leadshop kms rotate-master` hands the rotation to the running server; the server is
    `kill -9`ed at an arbitrary point of it (before the new key is installed, mid re-wrap or
    after), restarted, and finishes it. Writes go on throughout; every acknowledged object
    reads back, and the waiting command reports the finished rotation."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    from leadshop_proc import BIN

    srv = Leadshop(tmp_path / "data").start()
    acked = {}
    lock = threading.Lock()

    def put(key, size, s3):
        s3.put_object(Bucket="leadshop-assets", Key=key, Body=content(key, size))
        with lock:
            acked[key] = size

    # Enough versions that re-wrapping takes several batches.
    s3 = client(srv)
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: put(f"rot/pre/{i}", 1024 + i, s3), range(1200)))

    def put_live(w, c):
        put(f"rot/live/{next(counter)}", 4096 + len(acked), c)

    counter = iter(range(10**9))
    run = KilledWriters(srv, client, put_live, 1, in_flight=lambda w: ("put", "request"))
    rng = random.Random(3)
    master, nxt = srv.data_dir / "master.key", srv.data_dir / "master.key.next"
    for round_ in range(3):
        old = master.read_text()
        log_at = srv.log.stat().st_size
        cli = subprocess.Popen([str(BIN), "kms", "rotate-master", "--data-dir", str(srv.data_dir), "--wait-secs", "120"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not nxt.exists() and time.monotonic() < deadline:  # handed to the server
            time.sleep(0.005)
        assert nxt.exists(), cli.stderr.read() if cli.poll() is not None else "no master.key.next"
        if round_ == 0:
            time.sleep(rng.uniform(0, 0.8))  # anywhere: often before the server sees the new key
        else:
            # Once the server has installed the new key: mid re-wrap (about 30 ms here) or after.
            while "rotating the master key online" not in srv.log.read_bytes()[log_at:].decode(errors="replace"):
                assert time.monotonic() < deadline, "the server did not start rotating"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.03))
        run.kill_and_restart()
        out, err = cli.communicate(timeout=150)
        assert cli.returncode == 0, err
        assert "master key" in out and master.read_text() != old, out
        assert not nxt.exists()
    run.stop()
    srv.stop()
    # Only the newest key is loaded now; the retired ones are moved out of reach.
    for retired in srv.data_dir.glob("master.key.retired-*"):
        retired.rename(tmp_path / retired.name)
    srv.start()
    s3 = client(srv)
    assert len(acked) > 1200
    for key, size in sorted(acked.items()):
        body = s3.get_object(Bucket="leadshop-assets", Key=key)["Body"].read()
        assert body == content(key, size), f"acknowledged {key} did not survive the rotation intact"
    print(f"rotation crash test: {len(acked)} acknowledged objects, 3 rotations, 3 kills")
    srv.stop()


def test_kill_9_during_log_delivery_delivers_each_record_once(tmp_path):
    """Access-log segments close every two records and are delivered at once, while four
    writers keep making records faster than delivery writes log objects: the server is killed
    25 times with segments waiting, being written as log objects, or written and not yet
    removed. What the spool held at each kill (read while the server is down) and what was
    delivered before it, is delivered exactly once in the end; nothing is delivered twice."""
    import re

    from test_access_logs import log_lines

    config = "[access_logs]\nflush_seconds = 1\nmax_records = 2\n"
    srv = Leadshop(tmp_path / "data", config=config).start()
    spool = srv.data_dir / "access-logs"
    rid = re.compile(rb"\b([0-9A-F]{16})\b")
    def put(w, c):
        c.put_object(Bucket="leadshop-assets", Key=f"logged/{w}/{uuid.uuid4().hex}", Body=b"x")

    run = KilledWriters(srv, client, put, 4, in_flight=lambda w: ("put", "request"))
    rng = random.Random(5)
    spooled, pending_at_kill = set(), []
    assert spool.is_dir()
    for _ in range(25):
        run.wait_for(30)
        time.sleep(rng.uniform(0, 0.05))
        # Kill the moment a closed segment is waiting for (or in) delivery, if one shows soon.
        watch = time.monotonic() + 2
        while not any(spool.glob("*.ready")) and time.monotonic() < watch:
            pass

        def read_spool():
            # What the spool holds now, read while the server is down.
            ready = list(spool.glob("*.ready"))
            pending_at_kill.append(len(ready))
            for f in ready + list(spool.glob("*.open")):
                for line in f.read_bytes().splitlines()[1:]:
                    m = rid.search(line)
                    if m:
                        spooled.add(m.group(1).decode())

        run.kill_and_restart(read_spool)
    run.stop()
    tally = run.tally
    srv.stop()
    srv.start()
    s3 = client(srv)
    deadline = time.monotonic() + 120
    while True:
        lines = log_lines(s3)
        seen = collections.Counter(l["request_id"] for l in lines)
        if (spooled <= set(seen) and not any(spool.glob("*.ready"))) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    missing = spooled - set(seen)
    repeated = {i: n for i, n in seen.items() if n > 1}
    assert not missing and not repeated, (
        f"{len(missing)} of {len(spooled)} spooled records missing, e.g. {sorted(missing)[:5]}; "
        f"repeated {repeated}; spool now {sorted(p.name for p in spool.iterdir())[:10]}")
    # The kills did land while segments waited for delivery or were being delivered.
    assert sum(1 for n in pending_at_kill if n > 0) >= 5, pending_at_kill
    print(f"log delivery crash test: {len(seen)} records delivered once each ({len(spooled)} read from the "
          f"spool at the kills), 25 kills, ready segments at each kill: {pending_at_kill}; errors: {tally}")
    srv.stop()
