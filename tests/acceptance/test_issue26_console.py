"""Issue 26, item 3: the console could be steered into the audit bucket. The app key uploads
`../leadshop-security-logs/s3-access/secret.txt` (twice) to leadshop-assets; an admin browses to
it in the console and clicks Restore and Delete (tests/browser/console-dot-keys.mjs, headless
Chromium). Before the fix, the browser resolved the `..` of the request URL: Restore wrote the
attacker's bytes into leadshop-security-logs and Delete put a delete marker on its log object.
Now the key travels outside the path, and both actions stay in leadshop-assets."""

import json
import os
import subprocess

import boto3

from leadshop_proc import Leadshop
from test_browser import BROWSER, SCREENSHOTS, require_browser
from test_console import keys_of

ASSETS, LOGS = "leadshop-assets", "leadshop-security-logs"
KEY = "../leadshop-security-logs/s3-access/secret.txt"
LOG_KEY = "s3-access/secret.txt"


def client(env):
    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    ).client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])


def versions(s3, bucket, key):
    out = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return ([v["VersionId"] for v in out.get("Versions", []) if v["Key"] == key],
            [m["VersionId"] for m in out.get("DeleteMarkers", []) if m["Key"] == key])


def test_dot_segment_keys_stay_in_their_bucket_in_chromium(tmp_path):
    require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    srv = Leadshop(tmp_path / "data").start()
    try:
        admin, app = client(srv.env("admin")), client(srv.env("app"))
        # The log object an attacker would like to overwrite or hide.
        admin.put_object(Bucket=LOGS, Key=LOG_KEY, Body=b"the real log object")
        logs_before = versions(admin, LOGS, LOG_KEY)
        # The attacker's uploads, with the least-privileged key.
        app.put_object(Bucket=ASSETS, Key=KEY, Body=b"attacker v1")
        app.put_object(Bucket=ASSETS, Key=KEY, Body=b"attacker v2")
        app.put_object(Bucket=ASSETS, Key="..", Body=b"a key that is exactly two dots")
        keys = keys_of(srv)
        env = {**os.environ, "CONSOLE_URL": srv.endpoints["console"] + "/", "ADMIN_KEY": keys["admin"][0],
               "ADMIN_SECRET": keys["admin"][1], "SHOTS": str(SCREENSHOTS)}
        out = subprocess.run(["node", str(BROWSER / "console-dot-keys.mjs")], env=env, capture_output=True,
                             text=True, timeout=240)
        assert out.returncode == 0, out.stdout + out.stderr
        report = json.loads(out.stdout.strip().splitlines()[-1])
        # First, whatever the page managed: the audit bucket is exactly as it was, no attacker
        # version and no delete marker (before the fix: one of each).
        assert versions(admin, LOGS, LOG_KEY) == logs_before, versions(admin, LOGS, LOG_KEY)
        assert admin.get_object(Bucket=LOGS, Key=LOG_KEY)["Body"].read() == b"the real log object"
        assert "failure" not in report, report.get("failure")
        # No script error (the page's signed-out session check before sign-in logs a 401).
        errors = [e for e in report["consoleErrors"] if not e.startswith("Failed to load resource")]
        assert not errors, errors
        # Restore and Delete acted on the key of leadshop-assets, as the admin meant.
        kept, markers = versions(admin, ASSETS, KEY)
        assert len(kept) == 3 and len(markers) == 1, (kept, markers)
        assert report["restoreMessage"].startswith(f"Restored {KEY}")
        assert report["deleteMessage"] == f"Deleted {KEY}"
        restored = admin.get_object(Bucket=ASSETS, Key=KEY, VersionId=kept[0])["Body"].read()
        assert restored == b"attacker v1"
        # The page showed the key for what it is: folders of leadshop-assets.
        assert ASSETS in report["notice"] and ".." in report["crumbs"]
        assert report["dotDotDownload"] == "a key that is exactly two dots"
        # No request the browser sent named another bucket, or a key in its path.
        for r in report["requests"]:
            path = r.split(" ", 1)[1].split("?", 1)[0]
            assert path in ("/s3/", f"/s3/{ASSETS}"), r
    finally:
        srv.stop()
