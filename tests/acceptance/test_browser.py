"""Browser uploads from LeadFactory's page in headless Chromium (Debian's `chromium`, driven by
`playwright-core` from tests/browser): presigned POST and PUT of a 10 MB file from
http://localhost:3000 and https://staging.leadfactory.com (the origins of the bucket's CORS
document) succeed and read back; the same page from http://localhost:3001 is stopped by CORS
and stores nothing.

The page must be served on the exact origins the CORS rules name, so these servers take ports
3000, 3001 and 443 (on 127.0.0.1) instead of port 0."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from leadshop_proc import REPO

BROWSER = REPO / "tests" / "browser"
WEB = REPO / "examples" / "leadfactory" / "web"
SCREENSHOTS = REPO / "target" / "browser-screenshots"


def require_browser():
    missing = [what for what, ok in (
        ("/usr/bin/chromium (apt-get install chromium)", Path("/usr/bin/chromium").exists()),
        ("node", shutil.which("node") is not None),
        ("tests/browser/node_modules (npm install in tests/browser)",
         (BROWSER / "node_modules" / "playwright-core").exists()),
    ) if not ok]
    if missing:
        pytest.fail("browser tests need: " + ", ".join(missing) + " (scripts/test-all installs them)")


def browser_home(tmp: Path, *cas: Path) -> Path:
    """A fresh HOME whose NSS database (where Chromium on Linux reads the CAs it trusts) trusts
    exactly these CAs, as a user who added leadshop's dev CA to their browser would have."""
    if shutil.which("certutil") is None:
        pytest.fail("browser tests need certutil (apt-get install libnss3-tools; scripts/test-all installs it)")
    home = tmp / "browser-home"
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-d", f"sql:{db}", "-N", "--empty-password"], check=True, capture_output=True)
    for i, ca in enumerate(cas):
        subprocess.run(["certutil", "-d", f"sql:{db}", "-A", "-t", "C,,", "-n", f"test-ca-{i}", "-i", str(ca)],
                       check=True, capture_output=True)
    return home


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Page:
    """examples/leadfactory/web/server.py on one port, with the app key."""

    def __init__(self, env: dict, port: int, cert=None, key=None):
        if not port_free(port):
            pytest.fail(f"port {port} is taken: the browser test serves the page on the origin "
                        f"the CORS rules name")
        args = [sys.executable, str(WEB / "server.py"), "--port", str(port)]
        if cert:
            args += ["--cert", str(cert), "--key", str(key)]
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        assert "serving the upload page" in line, line

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def app_env(server):
    env = server.env("app")
    return env


@pytest.fixture(scope="module")
def ten_mb(tmp_path_factory):
    p = tmp_path_factory.mktemp("browser") / "report-10MB.bin"
    p.write_bytes(os.urandom(10 * 1024 * 1024))
    return p


def drive(page_url: str, file: Path, method: str, home: Path, host_rules: str = "",
          screenshot: str = "") -> dict:
    require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PAGE_URL": page_url, "FILE": str(file), "METHOD": method,
           "BROWSER_HOME": str(home), "HOST_RULES": host_rules}
    if screenshot:
        env["SCREENSHOT"] = str(SCREENSHOTS / screenshot)
    out = subprocess.run(["node", str(BROWSER / "upload.mjs")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_upload_from_localhost_3000_completes_and_reads_back(server, app_env, s3, ten_mb, method,
                                                            tmp_path):
    page = Page(app_env, 3000)
    try:
        report = drive("http://localhost:3000/", ten_mb, method,
                       browser_home(tmp_path, server.data_dir / "tls" / "ca.pem"),
                       screenshot=f"upload-localhost-3000-{method}.png")
    finally:
        page.stop()
    r = report["result"]
    assert r["ok"], report
    assert report["consoleErrors"] == [], report
    assert r["downloaded"] == ten_mb.stat().st_size
    assert r["sha256"] == hashlib.sha256(ten_mb.read_bytes()).hexdigest()
    head = s3.head_object(Bucket="leadshop-assets", Key=r["key"])
    assert head["ContentLength"] == ten_mb.stat().st_size
    assert head["ServerSideEncryption"] == "AES256"
    # The page could read the exposed headers, of the upload (POST too) and of the download.
    assert r["etag"] == head["ETag"] and r["versionId"] == head["VersionId"], r
    assert r["downloadEtag"] == head["ETag"]
    print(f"browser {method} of 10 MB from http://localhost:3000: upload {r['uploadMs']} ms, "
          f"whole flow {report['elapsedMs']} ms")


def test_upload_from_staging_origin_over_https_completes(server, app_env, s3, ten_mb, tmp_path):
    # staging.leadfactory.com resolves to this machine (Chromium's host rules) and serves the
    # page over HTTPS with a certificate from a CA of the test's own, trusted beside leadshop's.
    ca, ca_key = tmp_path / "staging-ca.pem", tmp_path / "staging-ca-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "1",
                    "-subj", "/CN=leadshop browser test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"], check=True, capture_output=True)
    cert, key, csr = tmp_path / "staging.pem", tmp_path / "staging-key.pem", tmp_path / "staging.csr"
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(csr), "-subj", "/CN=staging.leadfactory.com"],
                   check=True, capture_output=True)
    ext = tmp_path / "staging.ext"
    ext.write_text("subjectAltName=DNS:staging.leadfactory.com\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                    "-CAcreateserial", "-out", str(cert), "-days", "1", "-extfile", str(ext)],
                   check=True, capture_output=True)
    page = Page(app_env, 443, cert, key)
    try:
        report = drive("https://staging.leadfactory.com/", ten_mb, "POST",
                       browser_home(tmp_path, server.data_dir / "tls" / "ca.pem", ca),
                       host_rules="MAP staging.leadfactory.com 127.0.0.1",
                       screenshot="upload-staging.png")
    finally:
        page.stop()
    assert report["origin"] == "https://staging.leadfactory.com"
    assert report["result"]["ok"], report
    s3.head_object(Bucket="leadshop-assets", Key=report["result"]["key"])


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_another_origin_is_stopped_by_cors_and_stores_nothing(server, app_env, s3, ten_mb,
                                                              method, tmp_path):
    page = Page(app_env, 3001)
    try:
        report = drive("http://localhost:3001/", ten_mb, method,
                       browser_home(tmp_path, server.data_dir / "tls" / "ca.pem"),
                       screenshot=f"refused-localhost-3001-{method}.png")
    finally:
        page.stop()
    r = report["result"]
    assert not r["ok"] and "network error" in r["error"], report
    assert any("CORS policy" in e for e in report["consoleErrors"]), report
    with pytest.raises(s3.exceptions.ClientError) as e:
        s3.head_object(Bucket="leadshop-assets", Key=r["key"])
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchKey")


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_virtual_hosted_upload_from_localhost_3000(server, app_env, s3, ten_mb, method, tmp_path):
    # What the JavaScript SDK and most pages send: https://<bucket>.localhost:<port>. Chromium
    # resolves *.localhost itself; leadshop mints that host's certificate from its dev CA, which
    # the browser trusts (a wrong per-host certificate would fail the upload).
    port = server.endpoints["s3"].rsplit(":", 1)[1]
    env = {**app_env, "AWS_ENDPOINT_URL": f"https://localhost:{port}",
           "STORAGE_ADDRESSING_STYLE": "virtual"}
    page = Page(env, 3000)
    try:
        report = drive("http://localhost:3000/", ten_mb, method,
                       browser_home(tmp_path, server.data_dir / "tls" / "ca.pem"),
                       screenshot=f"upload-virtual-hosted-{method}.png")
    finally:
        page.stop()
    r = report["result"]
    assert r["ok"], report
    assert r["uploadUrl"].startswith(f"https://leadshop-assets.localhost:{port}/"), r
    assert r["sha256"] == hashlib.sha256(ten_mb.read_bytes()).hexdigest()
    assert s3.head_object(Bucket="leadshop-assets", Key=r["key"])["ContentLength"] == r["size"]

