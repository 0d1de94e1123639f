"""SIGHUP reloads the TLS certificate (issue 31): new connections get the new certificate,
connections already open keep theirs and keep working, and a certificate that cannot be read
leaves the one in use in place."""

import http.client
import os
import signal
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from leadshop_proc import Leadshop


def make_pair(dir: Path, name: str) -> tuple:
    """A self-signed certificate and key for 127.0.0.1 (openssl), as (cert, key) paths."""
    cert, key = dir / f"{name}.pem", dir / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", f"/CN={name}", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def der(pem: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.read_text())


def wait_for(what, check):
    """Polls `check` until it is true; fails after a minute (a guard, not a speed bound)."""
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_sighup_reloads_the_certificate_without_dropping_connections(tmp_path):
    a_cert, a_key = make_pair(tmp_path, "first")
    b_cert, b_key = make_pair(tmp_path, "second")
    live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    live_cert.write_bytes(a_cert.read_bytes())
    live_key.write_bytes(a_key.read_bytes())
    srv = Leadshop(tmp_path / "data",
                   config=f'tls_cert = "{live_cert}"\ntls_key = "{live_key}"\n').start()
    try:
        env = srv.env("admin")
        s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=str(a_cert),
                          region_name=env["AWS_DEFAULT_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                          config=Config(s3={"addressing_style": "path"}))
        bucket = env["AWS_S3_BUCKET_NAME"]
        s3.put_object(Bucket=bucket, Key="tls/reload.txt", Body=b"still here")
        url = urlsplit(s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "tls/reload.txt"}, ExpiresIn=600))
        path = f"{url.path}?{url.query}"
        trust = ssl.create_default_context(cadata=a_cert.read_text() + b_cert.read_text())

        def connect() -> http.client.HTTPSConnection:
            c = http.client.HTTPSConnection(url.hostname, url.port, context=trust, timeout=30)
            c.connect()
            return c

        def get(c: http.client.HTTPSConnection) -> bytes:
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            assert r.status == 200, body
            return body

        kept = connect()
        assert kept.sock.getpeercert(binary_form=True) == der(a_cert)
        assert get(kept) == b"still here"
        sock = kept.sock

        # The renewed pair lands; SIGHUP.
        live_key.write_bytes(b_key.read_bytes())
        live_cert.write_bytes(b_cert.read_bytes())
        os.kill(srv.proc.pid, signal.SIGHUP)

        def new_connections_get_the_second():
            c = connect()
            try:
                return c.sock.getpeercert(binary_form=True) == der(b_cert)
            finally:
                c.close()

        wait_for("the second certificate", new_connections_get_the_second)
        fresh = connect()
        assert get(fresh) == b"still here"
        # The connection opened before is the same one, on its first certificate, and serves.
        assert get(kept) == b"still here"
        assert kept.sock is sock and kept.sock.getpeercert(binary_form=True) == der(a_cert)

        # A certificate file that does not parse: refused, the second pair stays in use.
        live_cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
        os.kill(srv.proc.pid, signal.SIGHUP)
        wait_for("the refusal in the log",
                 lambda: "could not be read again" in srv.log.read_text(errors="replace"))
        assert srv.proc.poll() is None, "SIGHUP does not end the server"
        assert new_connections_get_the_second()
        assert get(connect()) == b"still here"
        kept.close()
        fresh.close()
    finally:
        srv.stop()
