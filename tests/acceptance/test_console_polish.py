"""The console at 1280 and 390 px wide, as a newcomer found it (issue 31), in headless Chromium
(tests/browser/polish.mjs): "Sign out" on one line, timestamps that do not break inside
themselves, every setting shown as pretty JSON (the spec documents' shape), no upload area on
a bucket that does not exist, and a sign-in hint that reads right and names `leadshop env`.
Screenshots of each page at each width go to target/browser-screenshots/polish/."""

import json
import os
import subprocess
import uuid

from test_browser import BROWSER, SCREENSHOTS, require_browser
from test_console import keys_of


def test_console_reads_right_at_1280_and_390_px(server, s3):
    require_browser()
    prefix = f"polish-{uuid.uuid4().hex[:8]}/"
    for name in ["screenshot-2026-12-07T10-15-42.png", "report.pdf"]:
        s3.put_object(Bucket="leadshop-assets", Key=prefix + name, Body=b"x" * 2048)
    admin = keys_of(server)["admin"]
    env = {**os.environ, "CONSOLE_URL": server.endpoints["console"] + "/",
           "ADMIN_KEY": admin[0], "ADMIN_SECRET": admin[1], "PREFIX": prefix,
           "SHOTS": str(SCREENSHOTS / "polish")}
    out = subprocess.run(["node", str(BROWSER / "polish.mjs")], env=env, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert "failure" not in report, report.get("failure")
    # No script error; what Chromium logs are the answers it was meant to get (401 before
    # signing in, 404 for the bucket that does not exist).
    assert all(e.startswith("Failed to load resource: the server responded with a status of 40")
               for e in report["consoleErrors"]), report["consoleErrors"]
    print(json.dumps(report["widths"], indent=1))
    for width, seen in report["widths"].items():
        assert seen["signOutLines"] == 1 and seen["signOutLinesOnBucket"] == 1, (width, seen)
        assert seen["brokenTimes"] == 0, (width, seen)
        assert not seen["pageOverflowsSideways"], (width, seen)
        kinds = seen["settings"]
        assert kinds["versioning"] == "word", (width, kinds)
        assert all(k == "pretty-json" for s, k in kinds.items() if s != "versioning"), (width, kinds)
        assert {"policy", "publicAccessBlock", "encryption", "cors", "lifecycle",
                "logging"} <= set(kinds), kinds
        missing = seen["missingBucket"]
        assert "does not exist" in missing["error"], missing
        assert not missing["uploadArea"] and not missing["versionsSwitch"], (width, missing)
        assert "the credentials file" in seen["hint"] and "leadshop env" in seen["hint"], seen["hint"]
        assert "the`" not in seen["hint"] and "thecredentials" not in seen["hint"]
