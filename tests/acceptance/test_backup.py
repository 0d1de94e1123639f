"""Backup and restore of a whole server (issue 28): `leadshop backup` takes a consistent copy
of a running server's metadata and object data, and, kept apart, its keys, while writers keep
writing; `leadshop restore` rebuilds it on a "fresh machine" (a new directory, the original
gone) from those two directories alone; every object is byte-identical and readable through
boto3 at its defaults afterwards. A damaged, unfinished or mismatched backup is refused before
anything is written, and the keys are never let into the data side.

The restore's time from its first command to the verified end state is recorded
(target/recovery-times.json); nothing asserts a bound on it.
"""

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from leadshop_proc import BIN, Leadshop
from runbooks import record_recovery_time, runbook_blocks

ASSETS = "leadshop-assets"
VAULT = "backup-vault"


def s3_client(srv):
    env = srv.env()
    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}))


def sh(block: str, env: dict, **extra) -> str:
    """A runbook block run as written, with `leadshop` on PATH."""
    env = {**env, **{k: str(v) for k, v in extra.items()}, "PATH": f"{BIN.parent}:{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, (block, out.stdout, out.stderr)
    return out.stdout


def leadshop(*args, check=True):
    out = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=600)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


MARKER = b"plaintext-marker-7c1d0b"


def populate(s3):
    """A bit of everything: small objects, versions, a delete marker, multipart, SSE-KMS,
    SSE-C. Returns {(key, version_id): sha256} and the SSE-C key."""
    expect = {}
    for n in range(40):
        body = MARKER + os.urandom(1000 + n)
        r = s3.put_object(Bucket=ASSETS, Key=f"small/{n}", Body=body)
        expect[(f"small/{n}", r["VersionId"])] = sha(body)
    for n in range(3):
        body = f"version {n}".encode() + os.urandom(100)
        r = s3.put_object(Bucket=ASSETS, Key="versioned/doc", Body=body)
        expect[("versioned/doc", r["VersionId"])] = sha(body)
    body = os.urandom(500)
    r = s3.put_object(Bucket=ASSETS, Key="deleted/doc", Body=body)
    expect[("deleted/doc", r["VersionId"])] = sha(body)
    s3.delete_object(Bucket=ASSETS, Key="deleted/doc")
    up = s3.create_multipart_upload(Bucket=ASSETS, Key="multi/big")
    parts, whole = [], b""
    for i, size in enumerate([5 * 2**20, 5 * 2**20, 2**20 + 7], start=1):
        chunk = os.urandom(size)
        whole += chunk
        p = s3.upload_part(Bucket=ASSETS, Key="multi/big", UploadId=up["UploadId"], PartNumber=i, Body=chunk)
        parts.append({"PartNumber": i, "ETag": p["ETag"]})
    r = s3.complete_multipart_upload(Bucket=ASSETS, Key="multi/big", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts})
    expect[("multi/big", r["VersionId"])] = sha(whole)
    # SSE-KMS (the keyring's alias/aws/s3) and SSE-C, in a bucket that allows SSE-C (the
    # assets bucket's policy allows neither).
    s3.create_bucket(Bucket=VAULT)
    s3.put_bucket_encryption(Bucket=VAULT, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                   "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})
    body = os.urandom(3000)
    s3.put_object(Bucket=VAULT, Key="kms/doc", Body=body, ServerSideEncryption="aws:kms")
    expect[("kms/doc", "null")] = sha(body)
    customer_key = os.urandom(32)
    body = os.urandom(2000)
    s3.put_object(Bucket=VAULT, Key="ssec/doc", Body=body, SSECustomerAlgorithm="AES256",
                  SSECustomerKey=customer_key)
    expect[("ssec/doc", "null")] = sha(body)
    return expect, customer_key


def check_restored(s3, expect, customer_key):
    for (key, version), digest in expect.items():
        extra = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": customer_key} if key == "ssec/doc" else {}
        bucket = VAULT if key.startswith(("kms/", "ssec/")) else ASSETS
        got = s3.get_object(Bucket=bucket, Key=key, VersionId=version, **extra)
        assert sha(got["Body"].read()) == digest, (key, version)
        if key == "kms/doc":
            assert got["ServerSideEncryption"] == "aws:kms"
    # The versions of one key, and the delete marker, as they were.
    versions = s3.list_object_versions(Bucket=ASSETS, Prefix="versioned/doc")["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted(v for (k, v) in expect if k == "versioned/doc")
    markers = s3.list_object_versions(Bucket=ASSETS, Prefix="deleted/doc").get("DeleteMarkers", [])
    assert len(markers) == 1 and markers[0]["IsLatest"]


def test_an_online_backup_restores_on_a_fresh_machine_byte_identical(tmp_path):
    machine = tmp_path / "machine"
    srv = Leadshop(machine / "data").start()
    s3 = s3_client(srv)
    expect, customer_key = populate(s3)
    ca_before = (machine / "data" / "tls" / "ca.pem").read_bytes()

    # Writers keep writing while the backup is taken; each remembers what it was acknowledged.
    stop, acked, errors = threading.Event(), {}, []

    def writer(w):
        c = s3_client(srv)
        while not stop.is_set():
            key, body = f"during/{w}/{uuid.uuid4().hex}", os.urandom(4096 + w)
            try:
                c.put_object(Bucket=ASSETS, Key=key, Body=body)
            except Exception as e:  # noqa: BLE001 - any error fails the test below
                errors.append(repr(e))
                return
            acked[key] = sha(body)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(3)]
    for t in threads:
        t.start()
    while len(acked) < 30:
        assert not errors, errors
        time.sleep(0.01)
    before_backup = dict(acked)
    take, restore, check = runbook_blocks("## Loss of the server's disk")
    backup_root, keys_root = tmp_path / "offsite", tmp_path / "vault"
    out = sh(take, srv.env(), LEADSHOP_DATA_DIR=machine / "data", BACKUP_ROOT=backup_root, KEYS_ROOT=keys_root)
    after_backup = len(acked)
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert "taken by the running server" in out, out
    assert len(acked) > after_backup or after_backup > len(before_backup), "writes went on during the backup"
    [backup] = backup_root.iterdir()
    [keys] = keys_root.iterdir()

    # The keys are apart from the data, and the data side holds no plaintext and no key.
    data_files = {p.relative_to(backup).as_posix() for p in backup.rglob("*") if p.is_file()}
    key_files = {p.relative_to(keys).as_posix() for p in keys.rglob("*") if p.is_file()}
    assert {"BACKUP.json", "meta.redb"} <= data_files
    assert {"KEYS.json", "master.key", "keys.json", "kms.json", "credentials", "tls/ca.pem", "tls/ca-key.pem"} <= key_files
    assert not any(name.startswith(("master.key", "keys.json", "kms.json", "credentials", "tls/")) for name in data_files)
    for p in backup.rglob("*"):
        if p.is_file():
            assert MARKER not in p.read_bytes(), f"{p} holds object plaintext"
    assert "keep the two apart" in out

    # The machine is lost: nothing of it is left.
    srv.kill9()
    shutil.rmtree(machine)

    started = time.monotonic()
    fresh = tmp_path / "fresh" / "data"
    out = sh(restore, dict(os.environ), BACKUP_DIR=backup, KEYS_DIR=keys, LEADSHOP_DATA_DIR=fresh)
    assert "checked against the manifests" in out
    restored = Leadshop(fresh).start()
    try:
        out = sh(check, dict(os.environ), LEADSHOP_DATA_DIR=fresh)
        assert "no drift: 9 settings match" in out, out
        listing = json.loads(out[out.index("\n{") + 1:])
        assert listing["Versions"], listing
        s3 = s3_client(restored)
        check_restored(s3, expect, customer_key)
        # Everything acknowledged before the backup began is there, byte-identical.
        for key, digest in before_backup.items():
            assert sha(s3.get_object(Bucket=ASSETS, Key=key)["Body"].read()) == digest, key
        record_recovery_time("restore of a whole server from its backup", time.monotonic() - started)
        # What was written during the backup is there whole or not at all: never partial.
        during = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ASSETS, Prefix="during/")
                  for o in page.get("Contents", [])]
        assert set(before_backup) <= set(during)
        for key in during:
            assert sha(s3.get_object(Bucket=ASSETS, Key=key)["Body"].read()) == acked[key], key
        # The same CA (clients keep trusting it), the same keys (the app key works), and the
        # restored server takes new writes.
        assert (fresh / "tls" / "ca.pem").read_bytes() == ca_before
        app = restored.env("app")
        app_s3 = boto3.client("s3", endpoint_url=app["AWS_ENDPOINT_URL"], verify=app["AWS_CA_BUNDLE"],
                              aws_access_key_id=app["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=app["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
        app_s3.put_object(Bucket=ASSETS, Key="after/restore", Body=b"new")
        assert app_s3.get_object(Bucket=ASSETS, Key="small/0")["Body"].read().startswith(MARKER)
    finally:
        restored.stop()


def test_a_damaged_unfinished_or_mismatched_backup_is_refused(tmp_path):
    srv = Leadshop(tmp_path / "data").start()
    s3 = s3_client(srv)
    # Over 16 KiB (INLINE_MAX): the object's data is a file of the backup, flipped below.
    body = os.urandom(100_000)
    s3.put_object(Bucket=ASSETS, Key="one", Body=body)
    srv.stop()
    data = tmp_path / "data"

    # Where a backup may go: apart from each other and from the data directory, new.
    for to, keys_to, says in [
        (tmp_path / "b", tmp_path / "b" / "keys", "kept apart"),
        (tmp_path / "k" / "data", tmp_path / "k", "kept apart"),
        (data / "backup", tmp_path / "k", "overlaps the data directory"),
    ]:
        out = leadshop("backup", "--data-dir", data, "--to", to, "--keys-to", keys_to, check=False)
        assert out.returncode == 1 and says in out.stderr, out.stderr
        assert not to.exists() and not keys_to.exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    out = leadshop("backup", "--data-dir", data, "--to", tmp_path / "full", "--keys-to", tmp_path / "k", check=False)
    assert out.returncode == 1 and "not empty" in out.stderr

    # Offline backups (the server is stopped), two of them.
    b1, k1 = tmp_path / "b1", tmp_path / "k1"
    b2, k2 = tmp_path / "b2", tmp_path / "k2"
    assert "offline" in leadshop("backup", "--data-dir", data, "--to", b1, "--keys-to", k1).stdout
    leadshop("backup", "--data-dir", data, "--to", b2, "--keys-to", k2)

    def restore(b, k, into):
        return leadshop("restore", "--from", b, "--keys-from", k, "--data-dir", into, check=False)

    # Keys of another backup.
    out = restore(b1, k2, tmp_path / "r")
    assert out.returncode == 1 and "belong to backup" in out.stderr, out.stderr
    # One flipped byte in an object file: named, and nothing written.
    [obj] = [p for p in (b1 / "objects").rglob("*") if p.is_file()]
    original = obj.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    obj.write_bytes(bytes(flipped))
    out = restore(b1, k1, tmp_path / "r")
    assert out.returncode == 1 and "is damaged" in out.stderr and obj.name in out.stderr, out.stderr
    assert not (tmp_path / "r").exists()
    obj.write_bytes(original)
    # An unfinished backup (no BACKUP.json).
    (b2 / "BACKUP.json").unlink()
    out = restore(b2, k2, tmp_path / "r")
    assert out.returncode == 1 and "did not finish" in out.stderr, out.stderr
    # A data directory that is not empty.
    out = restore(b1, k1, data)
    assert out.returncode == 1 and "not empty" in out.stderr
    # The allowed restore, and its object.
    restore_out = restore(b1, k1, tmp_path / "r")
    assert restore_out.returncode == 0, restore_out.stderr
    srv = Leadshop(tmp_path / "r").start()
    try:
        assert s3_client(srv).get_object(Bucket=ASSETS, Key="one")["Body"].read() == body
    finally:
        srv.stop()


def test_a_backup_refuses_an_unfinished_master_key_rotation(tmp_path):
    """The keys it copies must open every envelope of the snapshot: with `master.key.next`
    present (a rotation under way) it refuses; once the rotation is done it is taken."""
    data = tmp_path / "data"
    srv = Leadshop(data).start()
    s3_client(srv).put_object(Bucket=ASSETS, Key="one", Body=b"1")
    srv.stop()
    (data / "master.key.next").write_text((data / "master.key").read_text())
    (data / "master.key.next").chmod(0o600)
    out = leadshop("backup", "--data-dir", data, "--to", tmp_path / "b", "--keys-to", tmp_path / "k", check=False)
    assert out.returncode == 1 and "rotation is unfinished" in out.stderr, out.stderr
    (data / "master.key.next").unlink()
    leadshop("kms", "rotate-master", "--data-dir", data)
    out = leadshop("backup", "--data-dir", data, "--to", tmp_path / "b", "--keys-to", tmp_path / "k")
    restored = tmp_path / "r"
    leadshop("restore", "--from", tmp_path / "b", "--keys-from", tmp_path / "k", "--data-dir", restored)
    assert (restored / "master.key").read_text() == (data / "master.key").read_text()
