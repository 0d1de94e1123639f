"""How leadshop is handed to its users (issue 31): the shipped binary is lean and says which
commit it is."""

import contextlib
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from leadshop_proc import BIN, REPO

MB = 1024 * 1024


@contextlib.contextmanager
def serving(argv: list, data: Path, log_path: Path, env=None):
    """Runs `leadshop serve` as `argv` (data in `data`, output to `log_path`) until it has
    written endpoints.json; stops it with SIGTERM afterwards (its exit code is then the
    process's `returncode`)."""
    with open(log_path, "wb") as log:
        server = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while not (data / "endpoints.json").exists():
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the server did not become ready"
                time.sleep(0.05)
            yield server
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


def test_version_names_the_commit_it_was_built_from():
    out = subprocess.run([str(BIN), "--version"], check=True, capture_output=True,
                         text=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True)
    if head.returncode != 0:
        # A source archive: the plain version.
        assert re.fullmatch(r"leadshop \d+\.\d+\.\d+", out), out
        return
    m = re.fullmatch(r"leadshop (\d+\.\d+\.\d+) \(([0-9a-f]{12})\)", out)
    assert m, out
    # The binary may be older than a commit made since; it names a commit of this history.
    ancestor = subprocess.run(["git", "-C", str(REPO), "merge-base", "--is-ancestor",
                               m.group(2), "HEAD"])
    assert ancestor.returncode == 0, f"{m.group(2)} is not in this checkout's history"


@pytest.mark.skipif("/release/" not in str(BIN), reason="the size is the shipped (release) build's")
def test_the_shipped_binary_is_stripped_and_under_30_mb():
    size = BIN.stat().st_size
    assert size <= 30 * MB, f"{size / MB:.1f} MB"
    # Stripped: no symbol table left (the dynamic symbols a loader needs stay).
    symbols = subprocess.run(["nm", str(BIN)], capture_output=True, text=True)
    assert "no symbols" in symbols.stderr, symbols.stdout[:200]


def test_the_wheel_puts_a_working_leadshop_on_a_fresh_virtualenvs_path(tmp_path):
    """The wheel scripts/test-all builds around the release binary (`maturin build`), installed
    into a fresh virtualenv without any index: `leadshop serve` and `leadshop env` work from
    its PATH, and a client reaches the bucket with what `env` printed."""
    import json
    import os

    import boto3

    wheels = sorted((REPO / "target" / "wheels").glob("leadshop-*.whl"),
                    key=lambda p: p.stat().st_mtime)
    if not wheels:
        pytest.fail("no wheel in target/wheels: scripts/test-all builds it with `maturin build "
                    "--release --locked --ignore-rust-version -m crates/cli/Cargo.toml "
                    "--out target/wheels`")
    venv = tmp_path / "venv"
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-index",
                    "--disable-pip-version-check", str(wheels[-1])], check=True)
    path_env = {**os.environ, "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    found = subprocess.run(["sh", "-c", "command -v leadshop"], env=path_env,
                           capture_output=True, text=True).stdout.strip()
    assert found == str(venv / "bin" / "leadshop")
    data = tmp_path / "data"
    argv = ["leadshop", "serve", "--data-dir", str(data), "--s3-addr", "127.0.0.1:0",
            "--http-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0"]
    with serving(argv, data, tmp_path / "serve.log", env=path_env):
        out = subprocess.run(["leadshop", "env", "--data-dir", str(data)], env=path_env,
                             check=True, capture_output=True, text=True).stdout
        env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
        env = {k: v.strip("'") for k, v in env.items()}
        assert env["AWS_ENDPOINT_URL"] == json.loads((data / "endpoints.json").read_text())["s3"]
        s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"],
                          verify=env["AWS_CA_BUNDLE"], region_name=env["AWS_DEFAULT_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        s3.head_bucket(Bucket=env["AWS_S3_BUCKET_NAME"])


def test_cargo_install_puts_the_same_binary_on_a_path(tmp_path):
    """The README's install line for Rust users (with --target-dir, it reuses this build)."""
    root = tmp_path / "root"
    subprocess.run(["cargo", "install", "--path", str(REPO / "crates" / "cli"), "--root",
                    str(root), "--target-dir", str(REPO / "target"), "--ignore-rust-version",
                    "--locked", "--quiet"], check=True, cwd=REPO)
    out = subprocess.run([str(root / "bin" / "leadshop"), "--version"], check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith("leadshop ")
    assert subprocess.run([str(root / "bin" / "leadshop"), "env", "--help"],
                          capture_output=True).returncode == 0


def test_the_systemd_unit_verifies_runs_as_written_and_is_hardened(tmp_path):
    """deploy/systemd/leadshop.service: systemd's own checker accepts it, its exposure score
    is at most 2.0 ("OK"; systemd-analyze security, offline), and its ExecStart line, with
    this build, a temporary data directory and port 0, starts a server that answers."""
    import os
    import shlex
    import shutil

    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is needed (Debian's systemd package)")
    unit = (REPO / "deploy" / "systemd" / "leadshop.service").read_text()
    local = tmp_path / "leadshop.service"
    local.write_text(unit.replace("/usr/local/bin/leadshop", str(BIN)))
    verify = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True,
                            text=True)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                               "--threshold=20", str(local)], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for leadshop\.service: ([0-9.]+)", security.stdout)
    assert m and float(m.group(1)) <= 2.0 and security.returncode == 0, security.stdout[-500:]

    exec_start = next(line.split("=", 1)[1] for line in unit.splitlines()
                      if line.startswith("ExecStart="))
    argv = shlex.split(exec_start)
    assert argv[:2] == ["/usr/local/bin/leadshop", "serve"]
    data = tmp_path / "var-lib-leadshop"
    argv = [str(BIN)] + [str(data) if a == "/var/lib/leadshop" else a for a in argv[1:]]
    argv += ["--s3-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
             "--console-addr", "127.0.0.1:0"]
    with serving(argv, data, tmp_path / "serve.log") as server:
        # ExecReload's signal: the server reads its certificate again and keeps serving.
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while "TLS certificate was read again" not in (tmp_path / "serve.log").read_text():
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert oct(os.stat(data).st_mode & 0o777) == "0o700"
    assert server.returncode == 0


def test_bash_completes_subcommands_and_flags_from_the_cli_definition():
    script = subprocess.run([str(BIN), "completions", "bash"], check=True,
                            capture_output=True, text=True).stdout

    def complete(*words: str) -> set:
        line = " ".join(["leadshop", *words])
        probe = (f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words)}; "
                 f"COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _leadshop leadshop "
                 f"'{words[-1]}' '{([ 'leadshop', *words])[-2]}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        out = subprocess.run(["bash", "-c", probe], check=True, capture_output=True, text=True)
        return set(out.stdout.split())

    assert {"serve", "scrub"} <= complete("s")
    assert "--data-dir" in complete("serve", "--data")
    assert {"create", "list", "rotate"} <= complete("keys", "")


def test_the_manual_page_is_roff_with_every_subcommand():
    page = subprocess.run([str(BIN), "man"], check=True, capture_output=True,
                          text=True).stdout
    assert ".TH leadshop 1" in page
    for sub in ["serve", "env", "keys", "backup", "restore", "completions", "man"]:
        assert f"leadshop\\-{sub}(1)" in page, sub
    # groff renders it without complaint where it is installed.
    if subprocess.run(["sh", "-c", "command -v groff"], capture_output=True).returncode == 0:
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=page,
                           capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", r.stderr


def test_the_banner_names_a_command_that_works_from_another_shell(tmp_path):
    """`leadshop serve` prints the `eval "$(… env …)"` line to try: with a binary that is not
    on PATH it names the binary by its full path and the data directory absolutely, so the
    line works as printed from another shell and directory."""
    from leadshop_proc import Leadshop

    srv = Leadshop(tmp_path / "data").start()
    try:
        # endpoints.json (what start() waits for) is written just before the banner.
        deadline = time.monotonic() + 60
        while "eval " not in srv.log.read_text():
            assert time.monotonic() < deadline, srv.log.read_text()
            time.sleep(0.02)
        line = next(l.strip() for l in srv.log.read_text().splitlines()
                    if l.strip().startswith("eval "))
        command = line.split(";")[0]
        assert str(BIN.resolve()) in command and str((tmp_path / "data").resolve()) in command
        other = tmp_path / "elsewhere"
        other.mkdir()
        out = subprocess.run(["bash", "-c", f'set -e; {command}; echo "$AWS_ENDPOINT_URL"'],
                             cwd=other, env={"PATH": "/usr/bin:/bin"}, capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == srv.endpoints["s3"]
    finally:
        srv.stop()
