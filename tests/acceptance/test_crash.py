"""Crash safety: writers upload while the server is `kill -9`ed and restarted several times.

Afterwards every acknowledged object reads back byte-identical, no partial object is visible
(every listed object has the full content its writer meant), and no temp file survives.
"""

import hashlib
import random
import threading
import time

import boto3
from botocore.config import Config

from leadshop_proc import Leadshop

KILLS = 4
WRITERS = 4
SIZES = [1024, 64 * 1024, 1024 * 1024, 9 * 1024 * 1024]  # the last goes multipart


def content(key: str, size: int) -> bytes:
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def client(srv: Leadshop):
    env = srv.env()
    return boto3.client(
        "s3", endpoint_url=srv.endpoints["s3"], verify=env["AWS_CA_BUNDLE"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        # One attempt per call: a write counts as acknowledged only when its own reply arrived.
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=20),
    )


def test_acknowledged_writes_survive_kill_9(tmp_path):
    srv = Leadshop(tmp_path / "data").start()
    acked = {}  # key -> size
    attempted = {}
    lock = threading.Lock()
    stop = threading.Event()
    up = threading.Event()
    up.set()

    def writer(w: int):
        rng = random.Random(w)
        i = 0
        while not stop.is_set():
            up.wait()
            try:
                s3 = client(srv)
            except Exception:
                continue
            while not stop.is_set() and up.is_set():
                key = f"crash/{w}/{i}"
                size = rng.choice(SIZES)
                with lock:
                    attempted[key] = size
                i += 1
                try:
                    if size > 8 * 1024 * 1024:
                        import io
                        s3.upload_fileobj(io.BytesIO(content(key, size)), "leadshop-assets", key)
                    else:
                        s3.put_object(Bucket="leadshop-assets", Key=key, Body=content(key, size))
                except Exception:
                    break  # server went away: reconnect after restart
                with lock:
                    acked[key] = size

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
    for t in threads:
        t.start()
    rng = random.Random(7)
    for _ in range(KILLS):
        target = len(acked) + 8
        deadline = time.monotonic() + 60
        while len(acked) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))  # kill at an arbitrary point mid-stream
        up.clear()
        srv.kill9()
        srv.start()
        assert not any((srv.data_dir / "tmp").iterdir()), "temp files are removed at start-up"
        up.set()
    target = len(acked) + 4
    deadline = time.monotonic() + 60
    while len(acked) < target and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    srv.stop()
    srv.start()

    s3 = client(srv)
    assert len(acked) >= KILLS * 8, f"too few writes got through: {len(acked)}"
    for key, size in sorted(acked.items()):
        body = s3.get_object(Bucket="leadshop-assets", Key=key)["Body"].read()
        assert body == content(key, size), f"acknowledged {key} did not survive intact"
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="leadshop-assets", Prefix="crash/"):
        listed.extend(o for o in page.get("Contents", []))
    for o in listed:
        key = o["Key"]
        assert key in attempted, f"{key} was never written"
        assert o["Size"] == attempted[key], f"{key} is visible with a partial size"
        body = s3.get_object(Bucket="leadshop-assets", Key=key)["Body"].read()
        assert body == content(key, attempted[key]), f"{key} is visible with partial content"
    assert set(acked) <= {o["Key"] for o in listed}
    # Every data file on disk belongs to a listed object or part (orphans were removed).
    uploads = s3.list_multipart_uploads(Bucket="leadshop-assets").get("Uploads", [])
    parts = sum(len(s3.list_parts(Bucket="leadshop-assets", Key=u["Key"], UploadId=u["UploadId"]).get("Parts", [])) for u in uploads)
    files = [p for p in (srv.data_dir / "objects").rglob("*") if p.is_file()]
    multipart_segments = sum(2 for o in listed if o["Size"] > 8 * 1024 * 1024)
    assert len(files) == len(listed) - sum(1 for o in listed if o["Size"] > 8 * 1024 * 1024) + multipart_segments + parts
    print(f"crash test: {len(acked)} acknowledged, {len(listed)} visible, {len(attempted)} attempted, {KILLS} kills")
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

    stop, up = threading.Event(), threading.Event()
    up.set()

    def writer():
        i = 0
        while not stop.is_set():
            up.wait()
            try:
                c = client(srv)
                while not stop.is_set() and up.is_set():
                    put(f"rot/live/{i}", 4096 + i, c)
                    i += 1
            except Exception:
                time.sleep(0.05)  # the server went away: reconnect after the restart
                i += 1

    t = threading.Thread(target=writer, daemon=True)
    t.start()
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
        up.clear()
        srv.kill9()
        srv.start()
        up.set()
        out, err = cli.communicate(timeout=150)
        assert cli.returncode == 0, err
        assert "master key" in out and master.read_text() != old, out
        assert not nxt.exists()
    stop.set()
    t.join(timeout=30)
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
