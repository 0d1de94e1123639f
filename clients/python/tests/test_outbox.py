"""Graceful degradation: the store dies (kill -9) mid-batch and mid-upload, uploads land in
the outbox, the store comes back, and every file is delivered exactly once, in order, with
its checksum; a deliverer killed mid-sync is restarted and still delivers exactly once."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_file, storage_for
from leadshop_proc import Leadshop
from leadshop_storage import NotFound, Outbox, S3Storage, StorageUnavailable


@pytest.fixture
def restartable(tmp_path):
    """A server that can be killed and restarted on the same port."""
    srv = Leadshop(tmp_path / "data").start()
    port = srv.endpoints["s3"].rsplit(":", 1)[1]
    srv.stop()
    srv = Leadshop(tmp_path / "data", s3_addr=f"127.0.0.1:{port}").start()
    yield srv
    srv.stop()


def versions(srv: Leadshop, key: str) -> list:
    """The versions of `key`, read with the admin key: the app's policy does not list versions
    (s3:ListBucketVersions), the check does."""
    import boto3

    env = srv.env("admin")
    admin = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                  region_name=env["AWS_DEFAULT_REGION"]).client(
        "s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])
    out = admin.list_object_versions(Bucket="leadshop-assets", Prefix=key)
    return [v for v in out.get("Versions", []) if v["Key"] == key]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("how", ["kill -9", "stop"])
def test_uploads_fail_over_to_the_outbox_and_are_delivered_once_when_the_store_returns(
        restartable, tmp_path, how):
    env = restartable.env("app")
    outbox = tmp_path / "outbox"
    s = storage_for(env, outbox_dir=outbox, sync_interval=0, down_cooldown=2.0)
    files = [(make_file(tmp_path / f"f{i}.bin", 200_000, seed=i), f"pytest/fail/{i:02}.bin")
             for i in range(24)]
    s.upload_file(*files[0])  # the store is up: straight in

    # The store is killed (or stopped) in the middle of a batch: nothing fails, the rest is
    # queued.
    killed_at = []
    finished = []

    def track(item):
        finished.append(item)
        if len(finished) >= 6 and not killed_at:
            killed_at.append(time.monotonic())
            restartable.kill9() if how == "kill -9" else restartable.stop()

    batch = s.upload_many(files[1:], max_concurrency=3, progress=track)
    assert killed_at, "the server was killed during the batch"
    assert all(b.error is None for b in batch), [b.error for b in batch if b.error]
    queued = [b for b in batch if b.result.queued]
    assert len(queued) >= 12, "most of the batch went to the outbox"
    assert len(Outbox(outbox)) == len(queued)

    # Once the outbox holds writes, later ones queue behind them (order), without waiting.
    probe = make_file(tmp_path / "probe.bin", 1000, seed=99)
    assert s.upload_file(probe, "pytest/fail/probe.bin").queued

    # Reads of queued files are served locally; the store is still down.
    got = s.download_file(queued[0].key, tmp_path / "local.bin")
    assert got.source == "outbox" and sha(got.path) == sha(queued[0].path)
    assert s.exists("pytest/fail/probe.bin")
    report = s.sync()
    assert isinstance(report.error, StorageUnavailable) and not report.delivered
    assert len(Outbox(outbox)) == len(queued) + 1

    restartable.start()
    report = s.sync()
    assert report.error is None and report.remaining == 0
    assert len(report.delivered) == len(queued) + 1
    # Every file exactly once (one version each, in a versioned bucket), with its bytes.
    for path, key in files + [(probe, "pytest/fail/probe.bin")]:
        assert len(versions(restartable, key)) == 1, key
        assert s.download_file(key, tmp_path / "check.bin").sha256 == sha(path)
        assert s.download_file(key, tmp_path / "check.bin").source == "store"
    assert not any((outbox / "blobs").iterdir())


def test_an_upload_fails_over_to_the_outbox_when_the_store_dies(restartable, tmp_path):
    s = storage_for(restartable.env("app"), outbox_dir=tmp_path / "outbox", sync_interval=0)
    f = make_file(tmp_path / "f.bin", 1000)
    s.upload_file(f, "pytest/failover/before.bin")
    restartable.kill9()
    t = time.monotonic()
    r = s.upload_file(f, "pytest/failover/after.bin")
    failover = time.monotonic() - t
    # How long it takes is measured by benchmarks/failover.py (docs/BENCHMARKS.md), not here.
    assert r.queued
    print(f"failover to the outbox with the default retries: {failover:.2f} s")
    restartable.start()
    assert s.sync().remaining == 0 and s.exists("pytest/failover/after.bin")


def test_kill_mid_upload_queues_the_file_and_a_lost_answer_is_not_delivered_twice(
        restartable, tmp_path):
    env = restartable.env("app")
    s = storage_for(env, outbox_dir=tmp_path / "outbox", sync_interval=0)
    big = make_file(tmp_path / "big.bin", 40 * 1024 * 1024, seed=7)
    sent = [0]

    def progress(n):
        sent[0] += n
        if sent[0] >= 12 * 1024 * 1024 and restartable.proc.poll() is None:
            restartable.kill9()

    r = s.upload_file(big, "pytest/kill/big.bin", progress=progress)
    assert r.queued, "the upload was cut by the kill"
    restartable.start()
    assert s.sync().remaining == 0
    assert len(versions(restartable, "pytest/kill/big.bin")) == 1
    assert s.download_file("pytest/kill/big.bin", tmp_path / "b").sha256 == sha(big)
    # No multipart upload is left half done where the delivery is concerned (the cut one
    # may remain until lifecycle aborts it).
    assert s.exists("pytest/kill/big.bin")

    # An upload the store committed but whose answer never came back (simulated: its object
    # is there with the upload id) is marked delivered, not uploaded again.
    small = make_file(tmp_path / "small.bin", 1000, seed=8)
    entry = s.outbox.put(small, "pytest/kill/answered.bin")
    s.client.put_object(Bucket=s.bucket, Key="pytest/kill/answered.bin", Body=small.read_bytes(),
                        Metadata={"sha256": entry.sha256, "leadshop-upload-id": entry.id})
    assert len(s.sync().delivered) == 1
    assert len(versions(restartable, "pytest/kill/answered.bin")) == 1


def test_a_deliverer_killed_mid_sync_delivers_exactly_once_after_restart(server, app_env,
                                                                         tmp_path):
    outbox = tmp_path / "outbox"
    # LOCAL_ONLY: the application runs with the store switched off; everything is queued.
    local = S3Storage.from_env(environ={**app_env, "LOCAL_ONLY": "1",
                                        "STORAGE_OUTBOX_DIR": str(outbox)})
    files = [(make_file(tmp_path / f"s{i}.bin", 3 * 1024 * 1024, seed=100 + i),
              f"pytest/sync/{i:02}.bin") for i in range(12)]
    for path, key in files:
        assert local.upload_file(path, key).queued
    local.delete("pytest/sync/03.bin")  # queued behind the upload it deletes
    assert local.exists("pytest/sync/00.bin") and not local.exists("pytest/sync/03.bin")
    with pytest.raises(NotFound):
        local.download_file("pytest/sync/03.bin", tmp_path / "x")
    assert local.download_file("pytest/sync/05.bin", tmp_path / "x").source == "outbox"

    env = {**app_env, "STORAGE_OUTBOX_DIR": str(outbox), "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    env.pop("LOCAL_ONLY", None)
    check = storage_for(app_env, sync_interval=0)
    proc = subprocess.Popen([sys.executable, "-m", "leadshop_storage", "sync"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        n = len(list(check.list_objects("pytest/sync/")))
        if n >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    delivered_before = len(list(check.list_objects("pytest/sync/")))
    assert 3 <= delivered_before < 12, delivered_before
    remaining = len(Outbox(outbox))
    assert remaining > 0

    out = subprocess.run([sys.executable, "-m", "leadshop_storage", "sync"], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(Outbox(outbox)) == 0
    for i, (path, key) in enumerate(files):
        vs = versions(server, key)
        if i == 3:
            # Uploaded once, then deleted once: one version and one delete marker.
            assert len(vs) == 1 and not check.exists(key)
            continue
        assert len(vs) == 1, (key, vs)
        assert check.download_file(key, tmp_path / "y").sha256 == sha(path)


def test_a_torn_journal_line_is_cut_and_nothing_before_it_is_lost(tmp_path):
    box = Outbox(tmp_path / "box")
    a = make_file(tmp_path / "a", 10)
    e = box.put(a, "k/a")
    with open(box.journal, "ab") as f:
        f.write(b'{"op":"put","id":"999","key":"k/torn"')  # a crash mid-append
    assert [p.key for p in box.pending()] == ["k/a"]
    e2 = box.put(a, "k/b")
    assert [p.id for p in box.pending()] == [e.id, e2.id]
    box.mark_done(e)
    box.mark_done(e2)
    assert box.pending() == [] and box.journal.read_bytes() == b""
    assert list(box.blobs.iterdir()) == []


def test_the_background_thread_delivers_once_the_store_is_back(restartable, tmp_path):
    s = storage_for(restartable.env("app"), outbox_dir=tmp_path / "outbox", sync_interval=0.2,
                    down_cooldown=0.5)
    try:
        restartable.kill9()
        f = make_file(tmp_path / "f.bin", 5000, seed=3)
        assert s.upload_file(f, "pytest/bg/f.bin").queued
        restartable.start()
        deadline = time.monotonic() + 20
        while len(s.outbox) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(s.outbox) == 0, "delivered without anyone calling sync()"
        assert len(versions(restartable, "pytest/bg/f.bin")) == 1
    finally:
        s.close()
