"""The console on the console listener (127.0.0.1, port 0 here; 9001 by default).

In headless Chromium (tests/browser/console.mjs): a wrong secret cannot sign in; the admin key
signs in, drops two versions of a file on the upload area (a presigned POST), sees it listed
with AES256, downloads it, deletes it and restores the first version; the app key sees the
bucket's settings read-only. Screenshots of each page go to target/browser-screenshots/.

Over plain HTTP (requests): the session cookie's attributes, CSRF and cross-site refusals, and
that what the page hides is also refused by the S3 layer when asked directly."""

import configparser
import json
import os
import subprocess
import time
import uuid

import pytest
import requests

from leadshop_proc import BIN, REPO, Leadshop
from test_browser import BROWSER, SCREENSHOTS, require_browser

BUCKET = "leadshop-assets"
FIRST = "first version of the report\n"
SECOND = "second version of the report, a little longer\n"


def keys_of(server) -> dict:
    c = configparser.ConfigParser()
    c.read(server.data_dir / "credentials")
    return {name: (c[name]["aws_access_key_id"], c[name]["aws_secret_access_key"])
            for name in ("admin", "app")}


def sign_in(console: str, key: tuple, **headers) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{console}/api/session", json={"accessKeyId": key[0], "secretAccessKey": key[1]},
               headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf"]
    return s


@pytest.fixture(scope="module")
def console(server):
    return server.endpoints["console"]


def test_console_in_chromium_upload_download_delete_restore(server, s3, console):
    require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    keys = keys_of(server)
    name = f"console-{uuid.uuid4().hex[:8]}.txt"
    paging = f"console-paging-{uuid.uuid4().hex[:8]}/"
    for i in range(103):
        s3.put_object(Bucket=BUCKET, Key=f"{paging}{i:03d}.txt", Body=b"x")
    # A replication rule (only for a prefix the page does not write under) and one version
    # it replicated: the settings page shows the rule and the backlog.
    replica = f"console-replica-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=replica)
    s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=BUCKET, ReplicationConfiguration={
        "Role": "arn:aws:iam::000000000000:role/leadshop-replication",
        "Rules": [{"ID": "console-shown", "Priority": 1, "Status": "Enabled",
                   "Filter": {"Prefix": "console-replicated/"},
                   "DeleteMarkerReplication": {"Status": "Disabled"},
                   "Destination": {"Bucket": f"arn:aws:s3:::{replica}"}}]})
    s3.put_object(Bucket=BUCKET, Key="console-replicated/one", Body=b"replicated")
    # The worker's count (replication-status.json, what the console's backlog reads too).
    def counted():
        status = json.loads((server.data_dir / "replication-status.json").read_text())
        return any(r["rule"] == "console-shown" and r["completed"] >= 1 for r in status["rules"])

    deadline = time.monotonic() + 60
    while not counted():
        assert time.monotonic() < deadline, "the replication worker did not count the version"
        time.sleep(0.05)
    env = {**os.environ, "CONSOLE_URL": console + "/", "OBJECT_NAME": name, "PAGING_PREFIX": paging,
           "ADMIN_KEY": keys["admin"][0], "ADMIN_SECRET": keys["admin"][1],
           "APP_KEY": keys["app"][0], "APP_SECRET": keys["app"][1], "SHOTS": str(SCREENSHOTS)}
    try:
        out = subprocess.run(["node", str(BROWSER / "console.mjs")], env=env, capture_output=True,
                             text=True, timeout=240)
    finally:
        s3.delete_bucket_replication(Bucket=BUCKET)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert "failure" not in report, report.get("failure")

    # A wrong secret: refused, not signed in.
    assert report["wrongSecret"] == {
        "error": "The access key id or the secret access key is wrong.", "signedIn": False}
    # The admin key: its buckets, and a cookie scripts cannot read nor other sites send.
    assert report["admin"]["user"] == "admin"
    assert {BUCKET, "leadshop-security-logs"} <= set(report["admin"]["buckets"])
    [cookie] = report["admin"]["cookies"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    assert report["withoutCsrf"] == 403
    # Dropped, uploaded, listed with AES256, downloaded as it was uploaded.
    [listed] = report["listed"]
    assert listed["current"] and listed["encryption"] == "AES256", listed
    assert report["download"] == {"name": name, "content": SECOND}
    # Deleted (a delete marker on this versioned bucket), then the first version restored.
    assert [v["encryption"] for v in report["versions"]] == ["—", "AES256", "AES256"]
    restored = report["restored"]["versions"]
    assert len(restored) == 4 and restored[0]["current"] and restored[0]["encryption"] == "AES256"
    assert s3.get_object(Bucket=BUCKET, Key=name)["Body"].read().decode() == FIRST
    head = s3.head_object(Bucket=BUCKET, Key=name)
    assert head["ServerSideEncryption"] == "AES256"
    listing = s3.list_object_versions(Bucket=BUCKET, Prefix=name)
    assert len(listing["Versions"]) == 3 and len(listing["DeleteMarkers"]) == 1
    # A listing is walked a page (100 keys) at a time.
    assert report["paging"] == {"firstPage": 100, "secondPage": 3, "nextEnabled": False,
                                "previousEnabled": True}
    # Settings: the admin key may edit them, the app key sees them read-only.
    admin = report["adminSettings"]
    assert admin["corsEditor"] and admin["policyEditor"] and admin["versioningControls"]
    assert not admin["readOnlyNote"] and "AES256" in admin["encryption"]
    # The CORS editor holds the bucket's document, the one Terraform applies.
    assert json.loads(admin["cors"]) == json.loads(
        (REPO / "config" / "buckets" / BUCKET / "cors.json").read_text())
    # The replication rule and its backlog (replicated 1, nothing pending).
    shown = admin["replication"]
    assert "console-shown" in shown and f"arn:aws:s3:::{replica}" in shown, shown
    assert "Replicated" in shown and "Pending" in shown, shown
    app = report["appSettings"]
    assert not app["corsEditor"] and not app["policyEditor"] and not app["versioningControls"]
    assert app["readOnlyNote"] and "AccessDenied" in app["policy"]
    assert "s3:ListAllMyBuckets" in report["app"]["bucketsError"]
    assert report["app"]["policyBuckets"] == [BUCKET]  # offered from the app key's policy
    assert report["app"]["listed"] >= 1
    for shot in ("sign-in-refused", "buckets", "objects", "versions", "restored",
                 "settings-admin", "settings-app"):
        assert (SCREENSHOTS / f"console-{shot}.png").stat().st_size > 10_000, shot


def test_sign_in_refuses_wrong_secrets_forms_and_other_sites(server, console):
    keys = keys_of(server)
    r = requests.post(f"{console}/api/session",
                      json={"accessKeyId": keys["admin"][0], "secretAccessKey": "wrong"}, timeout=10)
    assert r.status_code == 401 and "set-cookie" not in r.headers
    r = requests.post(f"{console}/api/session",
                      json={"accessKeyId": "AKIANOTAKEY000000000", "secretAccessKey": "x"}, timeout=10)
    assert r.status_code == 401 and r.json() == {
        "error": "The access key id or the secret access key is wrong."}
    # A form can be posted cross-site without a preflight: only JSON is read.
    r = requests.post(f"{console}/api/session",
                      data={"accessKeyId": keys["admin"][0], "secretAccessKey": keys["admin"][1]},
                      timeout=10)
    assert r.status_code == 415
    # Another site's page.
    r = requests.post(f"{console}/api/session",
                      json={"accessKeyId": keys["admin"][0], "secretAccessKey": keys["admin"][1]},
                      headers={"Origin": "http://localhost:3000"}, timeout=10)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    s = sign_in(console, keys["admin"])
    cookie = s.cookies.get("leadshop_console")
    raw = requests.post(f"{console}/api/session",
                        json={"accessKeyId": keys["admin"][0], "secretAccessKey": keys["admin"][1]},
                        timeout=10).headers["set-cookie"]
    assert cookie and "HttpOnly" in raw and "SameSite=Strict" in raw and "Max-Age=3600" in raw
    # The console's pages forbid framing and foreign scripts.
    page = requests.get(console + "/", timeout=10)
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_gateway_needs_the_session_and_its_csrf_token(server, console):
    keys = keys_of(server)
    s = sign_in(console, keys["admin"])
    url = f"{console}/s3/{BUCKET}?list-type=2"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, cookies=s.cookies, timeout=10).status_code == 403
    r = s.get(url, timeout=10)
    assert r.status_code == 200 and "<ListBucketResult" in r.text
    # A request from another site's page is refused even with the cookie and token.
    assert s.get(url, headers={"Origin": "http://localhost:3000"}, timeout=10).status_code == 403
    # Signing out ends the session.
    assert s.delete(f"{console}/api/session", timeout=10).status_code == 200
    assert s.get(url, timeout=10).status_code == 401


def test_what_the_page_hides_the_s3_layer_refuses(server, console):
    keys = keys_of(server)
    app = sign_in(console, keys["app"])
    perms = app.get(f"{console}/api/permissions?bucket={BUCKET}", timeout=10).json()
    assert perms == {"ListObjectVersions": False, "PutBucketCors": False,
                     "PutBucketPolicy": False, "PutBucketVersioning": False}
    admin = sign_in(console, keys["admin"])
    assert all(admin.get(f"{console}/api/permissions?bucket={BUCKET}", timeout=10).json().values())
    # The app key asks anyway: AccessDenied from the S3 layer, and nothing changes.
    r = app.put(f"{console}/s3/{BUCKET}?versioning",
                data='<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                     '<Status>Suspended</Status></VersioningConfiguration>', timeout=10)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    status = admin.get(f"{console}/s3/{BUCKET}?versioning", timeout=10).text
    assert "<Status>Enabled</Status>" in status


def test_upload_form_and_download_url_work_and_stay_downloads(server, s3, console):
    keys = keys_of(server)
    app = sign_in(console, keys["app"])
    key = f"console/{uuid.uuid4().hex[:8]} <b>.html"
    form = app.post(f"{console}/api/upload-form",
                    json={"bucket": BUCKET, "key": key, "contentType": "text/html"}, timeout=10).json()
    assert form["url"] == f"/s3/{BUCKET}" and form["fields"]["key"] == key
    body = b"<script>document.title='owned'</script>"
    # The form is a presigned POST: it needs no cookie.
    r = requests.post(console + form["url"], data=form["fields"],
                      files={"file": ("x.html", body, "text/html")}, timeout=10)
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
    # A second key under the same form is refused by the policy's exact-key condition.
    other = dict(form["fields"], key="console/other.html")
    r = requests.post(console + form["url"], data=other,
                      files={"file": ("x.html", body, "text/html")}, timeout=10)
    assert r.status_code == 403 and "Policy Condition failed" in r.text
    url = app.post(f"{console}/api/download-url", json={"bucket": BUCKET, "key": key},
                   timeout=10).json()["url"]
    r = requests.get(console + url, timeout=10)
    assert r.status_code == 200 and r.content == body
    # An uploaded page never runs as a page of the console.
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["content-security-policy"].startswith("sandbox")
    assert r.headers["x-content-type-options"] == "nosniff"


def test_rotating_a_key_ends_its_console_sessions(tmp_path):
    srv = Leadshop(tmp_path / "data").start()
    try:
        console = srv.endpoints["console"]
        s = sign_in(console, keys_of(srv)["app"])
        assert s.get(f"{console}/s3/{BUCKET}?list-type=2", timeout=10).status_code == 200
        subprocess.run([str(BIN), "keys", "rotate", "--name", "app", "--data-dir", str(srv.data_dir)],
                       check=True, capture_output=True)
        assert s.get(f"{console}/s3/{BUCKET}?list-type=2", timeout=10).status_code == 401
    finally:
        srv.stop()


def test_behind_a_trusted_https_proxy_the_cookie_is_https_only(tmp_path):
    """A reverse proxy on this machine that terminates HTTPS: its `X-Forwarded-Proto: https`
    makes the session cookie `Secure`; its `X-Forwarded-Proto: http` (a browser on plain HTTP
    somewhere) cannot sign in at all."""
    srv = Leadshop(tmp_path / "data", config='trusted_proxies = ["127.0.0.1/32"]\n').start()
    try:
        console = srv.endpoints["console"]
        admin = keys_of(srv)["admin"]
        body = {"accessKeyId": admin[0], "secretAccessKey": admin[1]}
        r = requests.post(f"{console}/api/session", json=body,
                          headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.7"},
                          timeout=10)
        assert r.status_code == 200 and "; Secure" in r.headers["set-cookie"]
        r = requests.post(f"{console}/api/session", json=body,
                          headers={"X-Forwarded-Proto": "http", "X-Forwarded-For": "192.0.2.7"},
                          timeout=10)
        assert r.status_code == 403 and "set-cookie" not in r.headers
        assert "Signing in sends a secret" in r.json()["error"]
    finally:
        srv.stop()


def test_the_console_answers_only_to_its_own_names(server, console):
    """DNS rebinding: a page whose own name was made to resolve to 127.0.0.1 reaches the
    console with that name in Host, and gets nothing; /metrics stays open to scrapers."""
    port = console.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", "127.0.0.1", f"localhost:{int(port) + 1}"):
        r = requests.get(console + "/", headers={"Host": host}, timeout=10)
        assert r.status_code == 421, host
        r = requests.post(f"{console}/api/session", json={}, headers={"Host": host}, timeout=10)
        assert r.status_code == 421, host
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert requests.get(console + "/", headers={"Host": host}, timeout=10).status_code == 200
    r = requests.get(console + "/metrics", headers={"Host": "prometheus.internal"}, timeout=10)
    assert r.status_code == 200 and "leadshop_connections_open" in r.text


def test_health_and_readiness_for_probes(server, console):
    """Liveness and readiness for an orchestrator's probes, under any Host name."""
    for path, want in (("/health", {"status": "ok"}), ("/ready", {"status": "ready"})):
        r = requests.get(console + path, headers={"Host": "kubelet.internal"}, timeout=10)
        assert r.status_code == 200 and r.json() == want, path
