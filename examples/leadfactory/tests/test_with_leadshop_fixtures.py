"""LeadFactory's storage code against a throwaway leadshop server, through the pytest fixtures
that come with `leadshop-storage` (`leadshop_server`, `s3_storage`, `s3_prefix`): no
environment to export, no server to start by hand. Run with
`python3 -m pytest examples/leadfactory/tests/test_with_leadshop_fixtures.py` where `leadshop`
is on PATH (or LEADSHOP_BIN names it)."""

import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.core.storage import s3_client  # noqa: E402


@pytest.fixture(autouse=True)
def app_storage(s3_storage, monkeypatch):
    """LeadFactory's client module uses the fixture's storage (the app key, as in production)."""
    monkeypatch.setattr(s3_client, "get_storage", lambda: s3_storage)
    return s3_storage


def test_a_screenshot_round_trips_through_leadfactorys_client(s3_prefix, tmp_path):
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400)
    key = s3_client.upload_file(shot, s3_prefix + s3_client.SCREENSHOTS + "shot.png")
    got = s3_client.download_file(key, tmp_path / "back.png")
    assert got.read_bytes() == shot.read_bytes()
    with pytest.raises(s3_client.NotFound):
        s3_client.download_file(s3_prefix + "screenshots/missing.png", tmp_path / "x.png")


def test_a_report_is_shared_by_presigned_url(s3_prefix, tmp_path, leadshop_server):
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.7\n" + b"lead " * 20000)
    key = s3_client.upload_file(report, s3_prefix + s3_client.REPORTS + "report.pdf")
    url = s3_client.generate_presigned_url(key, expires_in=300)
    r = requests.get(url, verify=leadshop_server.ca_bundle, timeout=30)
    assert r.status_code == 200 and r.content == report.read_bytes()
    # Unsigned, the same object is refused: the bucket is private.
    plain = requests.get(url.split("?")[0], verify=leadshop_server.ca_bundle, timeout=30)
    assert plain.status_code == 403


def test_the_browser_upload_form_takes_its_type_and_refuses_another(s3_prefix,
                                                                     leadshop_server):
    key = s3_prefix + s3_client.UPLOADS + "upload.png"
    form = s3_client.generate_presigned_post(key, content_type="image/png", max_size=1024)
    ok = requests.post(form["url"], data={**form["fields"], "Content-Type": "image/png"},
                       files={"file": ("upload.png", b"\x89PNG" + b"x" * 100)},
                       verify=leadshop_server.ca_bundle, timeout=30)
    assert ok.status_code in (200, 204), ok.text
    bad = requests.post(form["url"], data={**form["fields"], "Content-Type": "text/html"},
                        files={"file": ("upload.png", b"<script>")},
                        verify=leadshop_server.ca_bundle, timeout=30)
    assert bad.status_code == 403 and "AccessDenied" in bad.text
