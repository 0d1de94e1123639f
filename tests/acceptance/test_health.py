"""Integrity over time and free space (issue 28): the scrubber reads every object's data back
and finds a flipped byte within one pass, names the object and version, and the GET of that
version answers an error, not bad bytes, while the others are served; repaired, the version is
served again. The disk watcher measures the data directory's file system, warns and raises an
alarm at the budget alarm's webhook below its thresholds, and stays quiet above them.

Waits poll the status file, `/metrics` and the webhook; nothing asserts a duration."""

import http.server
import json
import math
import os
import subprocess
import threading
import time

import boto3
import botocore.exceptions
from botocore.config import Config

from leadshop_proc import BIN, Leadshop

ASSETS = "leadshop-assets"
FAST_SCRUB = "[scrub]\ninterval_seconds = 1\nbytes_per_second = 200000000\n"


def client(srv):
    env = srv.env()
    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}))


def data_files(srv):
    return {p for p in (srv.data_dir / "objects").rglob("*") if p.is_file()}


def put_and_find_file(srv, s3, key, body, **kw):
    """Writes an object and returns its version id and its one data file."""
    before = data_files(srv)
    version = s3.put_object(Bucket=ASSETS, Key=key, Body=body, **kw)["VersionId"]
    [new] = data_files(srv) - before
    return version, new


def pass_after(srv, t_ms: int, deadline_s: float = 120) -> dict:
    """The first scrub pass that started at or after `t_ms` and finished."""
    path = srv.data_dir / "scrub-status.json"
    end = time.monotonic() + deadline_s
    while True:
        try:
            status = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            status = {}
        last = status.get("last")
        if last and last["started_ms"] >= t_ms and last.get("finished_ms"):
            return status
        assert time.monotonic() < end, f"no scrub pass finished after {t_ms}: {status}"
        time.sleep(0.1)


def test_the_scrubber_finds_a_flipped_byte_and_its_get_answers_an_error(tmp_path):
    srv = Leadshop(tmp_path / "data", config=FAST_SCRUB).start()
    try:
        s3 = client(srv)
        good_body = os.urandom(200_000)
        s3.put_object(Bucket=ASSETS, Key="reports/good.pdf", Body=good_body)
        body = os.urandom(300_000)
        version, file = put_and_find_file(srv, s3, "reports/q3.pdf", body)
        # A multipart object with a checksum per part is checked part by part.
        up = s3.create_multipart_upload(Bucket=ASSETS, Key="reports/big.bin", ChecksumAlgorithm="SHA256")
        parts = []
        for n in (1, 2):
            p = s3.upload_part(Bucket=ASSETS, Key="reports/big.bin", UploadId=up["UploadId"], PartNumber=n,
                               Body=os.urandom(5 * 2**20), ChecksumAlgorithm="SHA256")
            parts.append({"PartNumber": n, "ETag": p["ETag"], "ChecksumSHA256": p["ChecksumSHA256"]})
        s3.complete_multipart_upload(Bucket=ASSETS, Key="reports/big.bin", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts})
        clean = pass_after(srv, int(time.time() * 1000))
        assert clean["last"]["damaged_count"] == 0 and clean["last"]["versions_checked"] >= 3, clean

        # One byte of the object's data flips on disk.
        original = file.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x04
        file.write_bytes(bytes(flipped))
        status = pass_after(srv, int(time.time() * 1000))
        [damaged] = status["last"]["damaged"]
        assert (damaged["bucket"], damaged["key"], damaged["version_id"]) == (ASSETS, "reports/q3.pdf", version)
        assert "authentication failed" in damaged["error"], damaged

        # The GET answers an error before a byte is sent; the other objects are served.
        try:
            s3.get_object(Bucket=ASSETS, Key="reports/q3.pdf")
            raise AssertionError("a damaged version was served")
        except botocore.exceptions.ClientError as e:
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            assert e.response["Error"]["Code"] == "InternalError"
            assert "damaged" in e.response["Error"]["Message"]
        assert s3.get_object(Bucket=ASSETS, Key="reports/good.pdf")["Body"].read() == good_body
        assert len(s3.get_object(Bucket=ASSETS, Key="reports/big.bin")["Body"].read()) == 10 * 2**20

        # Reported everywhere: `leadshop scrub status` (exit 1), /metrics, the server's log.
        out = subprocess.run([str(BIN), "scrub", "status", "--data-dir", str(srv.data_dir)],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 1, out
        assert f"DAMAGED {ASSETS}/reports/q3.pdf version {version}" in out.stdout, out.stdout
        m = srv.metrics()
        assert m["leadshop_scrub_damaged_versions"] == 1 and m["leadshop_scrub_damaged_found_total"] >= 1
        assert "scrub: a damaged object version" in srv.log.read_text()

        # Repaired (its file restored), the next pass finds it good and it is served again.
        file.write_bytes(original)
        status = pass_after(srv, int(time.time() * 1000))
        assert status["last"]["damaged_count"] == 0, status
        assert s3.get_object(Bucket=ASSETS, Key="reports/q3.pdf")["Body"].read() == body
        assert srv.metrics()["leadshop_scrub_damaged_versions"] == 0
        out = subprocess.run([str(BIN), "scrub", "status", "--data-dir", str(srv.data_dir)],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "0 damaged" in out.stdout, out
    finally:
        srv.stop()


def test_a_disabled_scrubber_reads_nothing_and_says_so(tmp_path):
    srv = Leadshop(tmp_path / "data", config="[scrub]\nenabled = false\n").start()
    try:
        path = srv.data_dir / "scrub-status.json"
        end = time.monotonic() + 30
        while not path.exists():
            assert time.monotonic() < end
            time.sleep(0.05)
        out = subprocess.run([str(BIN), "scrub", "status", "--data-dir", str(srv.data_dir)],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "the scrubber is off" in out.stdout, out
        assert json.loads(path.read_text())["last"] is None
    finally:
        srv.stop()


class Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_low_disk_space_warns_and_alarms_at_the_webhook(tmp_path):
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{hook.server_address[1]}/sns"
    st = os.statvfs(tmp_path)
    free_percent = st.f_bavail * 100 / st.f_blocks
    # Allowed: thresholds below what is free — no warning, no alarm.
    quiet = Leadshop(tmp_path / "quiet", config=f"[disk]\ncheck_seconds = 1\nwarn_free_percent = 1\n"
                     f"alarm_free_percent = 0\n[budget]\nwebhook_url = \"{url}\"\n").start()
    try:
        end = time.monotonic() + 30
        while "leadshop_disk_free_level" not in quiet.metrics():
            assert time.monotonic() < end
            time.sleep(0.1)
        m = quiet.metrics()
        assert m["leadshop_disk_free_level"] == 0 and m["leadshop_disk_alarms_total"] == 0
        assert 0 < m["leadshop_disk_free_bytes"] <= m["leadshop_disk_total_bytes"]
    finally:
        quiet.stop()
    assert not Hook.received
    # Refused: thresholds above what is free (this machine's disk, as it is) — the alarm.
    alarm_at = min(100, math.floor(free_percent) + 2)
    srv = Leadshop(tmp_path / "data", config=f"[disk]\ncheck_seconds = 1\nwarn_free_percent = {alarm_at}\n"
                   f"alarm_free_percent = {alarm_at}\n[budget]\nwebhook_url = \"{url}\"\n").start()
    try:
        end = time.monotonic() + 60
        while not Hook.received:
            assert time.monotonic() < end, "no disk alarm reached the webhook"
            time.sleep(0.1)
        [note] = Hook.received
        message = json.loads(note["Message"])
        assert (message["AlarmName"], message["NewStateValue"]) == ("leadshop-disk-free-space", "ALARM")
        assert "% free" in message["NewStateReason"] and note["Subject"].startswith("ALARM")
        m = srv.metrics()
        assert m["leadshop_disk_free_level"] == 2 and m["leadshop_disk_alarms_total"] == 1
        assert "disk alarm" in srv.log.read_text()
        # Once per crossing: three later checks below the line send nothing more.
        checks = m["leadshop_disk_checks_total"]
        while srv.metrics()["leadshop_disk_checks_total"] < checks + 3:
            assert time.monotonic() < end + 60
            time.sleep(0.2)
        m = srv.metrics()
        assert m["leadshop_disk_free_level"] == 2 and m["leadshop_disk_alarms_total"] == 1
        assert len(Hook.received) == 1 and srv.log.read_text().count("disk alarm") == 1
    finally:
        srv.stop()
        hook.shutdown()
