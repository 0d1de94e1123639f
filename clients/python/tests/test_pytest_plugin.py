"""The pytest plugin (`leadshop_storage.pytest_plugin`, entry point `pytest11`): a test
session in a subprocess, as a LeadFactory test suite would run, asks for the fixtures by name
only (this package being installed registers them)."""

import json
import os
import signal
import time
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def gone(pid: int) -> bool:
    """Whether process `pid` has ended (exited, or a zombie nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_gone(pid: int) -> bool:
    """Waits for `pid` to end; False if it is still there after a minute (a guard against a
    server left running, not a bound on how fast it stops)."""
    deadline = time.monotonic() + 60
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_fixtures_give_a_real_server_and_a_prefix_removed_afterwards(pytester, tmp_path):
    out = tmp_path / "seen.json"
    pytester.makepyfile(f'''
        import json
        import botocore.exceptions
        import pytest

        seen = {{}}

        def test_upload_and_delete(s3_storage, s3_prefix, tmp_path):
            assert s3_prefix.startswith("integration-tests/")
            report = tmp_path / "report.pdf"
            report.write_bytes(b"%PDF-1.7" * 1000)
            r = s3_storage.upload_file(report, s3_prefix + "report.pdf")
            assert r.version_id and r.etag
            s3_storage.delete(s3_prefix + "report.pdf")  # a delete marker over it
            seen["prefix"] = s3_prefix

        def test_the_last_prefix_is_gone_every_version(leadshop_server):
            admin = leadshop_server.client("admin")
            left = admin.list_object_versions(Bucket=leadshop_server.bucket,
                                              Prefix=seen["prefix"])
            assert not left.get("Versions") and not left.get("DeleteMarkers")

        def test_the_app_key_has_the_production_policy(leadshop_server):
            app = leadshop_server.client("app")
            with pytest.raises(botocore.exceptions.ClientError) as e:
                app.get_bucket_policy(Bucket=leadshop_server.bucket)
            assert e.value.response["Error"]["Code"] == "AccessDenied"
            app.head_bucket(Bucket=leadshop_server.bucket)
            with open({str(out)!r}, "w") as f:
                json.dump({{"pid": leadshop_server.pid}}, f)
    ''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    pid = json.loads(out.read_text())["pid"]
    assert wait_gone(pid), "the server stops with the session"


def test_a_missing_binary_is_said_plainly(pytester, monkeypatch):
    monkeypatch.delenv("LEADSHOP_BIN", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    pytester.makepyfile('''
        def test_needs_a_server(leadshop_server):
            pass
    ''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert "need the `leadshop` binary" in text and "pip install leadshop" in text
    assert "Traceback" not in text
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider",
                                           "--leadshop-bin", "/nonexistent/leadshop")
    result.assert_outcomes(errors=1)
    assert "'/nonexistent/leadshop' is not an executable file" in result.stdout.str()


def test_each_xdist_worker_gets_its_own_server(pytester, tmp_path):
    pytester.makepyfile(f'''
        import json, os

        def test_record(leadshop_server):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            with open(os.path.join({str(tmp_path)!r}, worker + ".json"), "w") as f:
                json.dump({{"endpoint": leadshop_server.endpoint,
                           "pid": leadshop_server.pid}}, f)
            leadshop_server.client("app").head_bucket(Bucket=leadshop_server.bucket)
    ''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-n", "2",
                                           "--dist", "each")
    result.assert_outcomes(passed=2)
    seen = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("gw*.json"))]
    assert len(seen) == 2 and seen[0]["endpoint"] != seen[1]["endpoint"], seen
    assert all(wait_gone(s["pid"]) for s in seen)


def test_the_server_stops_when_pytest_is_killed(pytester, tmp_path):
    out = tmp_path / "pid"
    pytester.makepyfile(f'''
        import os, signal

        def test_killed(leadshop_server):
            with open({str(out)!r}, "w") as f:
                f.write(str(leadshop_server.pid))
            os.kill(os.getpid(), signal.SIGKILL)
    ''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret == -signal.SIGKILL
    assert wait_gone(int(out.read_text())), "PR_SET_PDEATHSIG stops the orphaned server"
