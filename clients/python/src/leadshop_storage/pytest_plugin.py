"""pytest fixtures that give a test a real S3: a throwaway `leadshop serve`.

Registered by installing this package (the `pytest11` entry point `leadshop`), so a test asks
for a fixture by name and nothing else:

    def test_report_upload(s3_storage, s3_prefix, tmp_path):
        report = tmp_path / "report.pdf"; report.write_bytes(b"%PDF-1.7 ...")
        assert s3_storage.upload_file(report, s3_prefix + "report.pdf").version_id

- `leadshop_server` (session): one `leadshop serve` per test session (per pytest-xdist worker:
  each worker is its own session), on 127.0.0.1 port 0 with a fresh data directory, so the
  spec's buckets (`leadshop-assets`, `leadshop-security-logs`) exist with their whole
  baseline. It yields a `LeadshopServer`: endpoint, CA bundle, region, bucket, the admin and
  app keys, `env(key)` (what `leadshop env` exports) and `client(key)` (a boto3 S3 client).
  The server stops at the end of the session, on Ctrl-C, and when the pytest process dies
  however it dies (the kernel sends it SIGTERM: `PR_SET_PDEATHSIG`).
- `s3_prefix` (function): a unique prefix under `integration-tests/` (where the application's
  policy lets its key list and remove versions, as in production).
- `s3_storage` (function): an `S3Storage` on the app key (exactly the production policy), no
  outbox; everything under `s3_prefix` is removed afterwards, every version of it.

The binary is `--leadshop-bin`, else `LEADSHOP_BIN`, else `leadshop` on PATH (`pip install
leadshop`, or `cargo install --path crates/cli` in leadshop's repository); without one the
fixture fails with that sentence, not a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest

from .client import S3Storage
from .config import StorageConfig

#: How long the server may take to write endpoints.json before the fixture gives up (a guard
#: against a server that hangs at start, not a performance bound).
START_TIMEOUT = 120.0

MISSING = (
    "leadshop's pytest fixtures need the `leadshop` binary: `pip install leadshop` (the server "
    "as a wheel), or `cargo install --path crates/cli` in leadshop's repository, or point "
    "LEADSHOP_BIN (or --leadshop-bin) at one."
)


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("leadshop")
    group.addoption("--leadshop-bin", default=None,
                    help="the leadshop binary the fixtures start (default: $LEADSHOP_BIN, "
                         "then `leadshop` on PATH)")


@dataclass
class Credentials:
    """One access key of the server."""
    access_key_id: str
    secret_access_key: str


@dataclass
class LeadshopServer:
    """A running `leadshop serve` (see the module's notes)."""
    binary: Path
    data_dir: Path
    process: subprocess.Popen
    endpoint: str
    ca_bundle: str
    region: str
    bucket: str
    _envs: Dict[str, Dict[str, str]] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def env(self, key: str = "app") -> Dict[str, str]:
        """What `leadshop env --key <key>` exports (AWS_* and the bucket), as a dict."""
        if key not in self._envs:
            out = subprocess.run([str(self.binary), "env", "--data-dir", str(self.data_dir),
                                  "--key", key], check=True, capture_output=True, text=True)
            env: Dict[str, str] = {}
            for line in out.stdout.splitlines():
                name, _, value = line.removeprefix("export ").partition("=")
                if name:
                    env[name] = value.strip("'")
            self._envs[key] = env
        return dict(self._envs[key])

    def credentials(self, key: str = "app") -> Credentials:
        env = self.env(key)
        return Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])

    @property
    def admin(self) -> Credentials:
        return self.credentials("admin")

    @property
    def app(self) -> Credentials:
        return self.credentials("app")

    def client(self, key: str = "app") -> Any:
        """A boto3 S3 client on `key`, at boto3's defaults otherwise."""
        import boto3
        c = self.credentials(key)
        return boto3.session.Session(
            aws_access_key_id=c.access_key_id, aws_secret_access_key=c.secret_access_key,
            region_name=self.region).client("s3", endpoint_url=self.endpoint,
                                            verify=self.ca_bundle)

    def storage(self, key: str = "app", **overrides: Any) -> S3Storage:
        """An `S3Storage` on `key` (no outbox, no delivery thread unless overridden)."""
        import boto3
        env = self.env(key)
        config = StorageConfig.from_env(environ=env, **{"sync_interval": 0, **overrides})
        session = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                        region_name=self.region)
        return S3Storage(config, session=session)

    def stop(self) -> Optional[int]:
        """Stops the server (SIGTERM, then SIGKILL if it does not go within 30 s)."""
        p = self.process
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                return p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                return p.wait()
        return p.returncode


def find_binary(option: Optional[str]) -> Path:
    """The binary the fixtures start; `pytest.fail` with `MISSING` when there is none."""
    named = option or os.environ.get("LEADSHOP_BIN")
    if named:
        path = Path(named)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        pytest.fail(f"{MISSING} ({named!r} is not an executable file)", pytrace=False)
    found = shutil.which("leadshop")
    if found is None:
        pytest.fail(MISSING, pytrace=False)
    return Path(found)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def start(binary: Path, data_dir: Path) -> LeadshopServer:
    """Starts `leadshop serve` on port 0 in `data_dir` and waits until it is ready."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir.parent / f"{data_dir.name}.log", "ab")
    process = subprocess.Popen(
        [str(binary), "serve", "--data-dir", str(data_dir), "--s3-addr", "127.0.0.1:0",
         "--http-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    log.close()
    endpoints = data_dir / "endpoints.json"
    deadline = time.monotonic() + START_TIMEOUT
    while not endpoints.exists():
        if process.poll() is not None:
            tail = (data_dir.parent / f"{data_dir.name}.log").read_text(errors="replace")
            pytest.fail(f"`leadshop serve` exited with {process.returncode}:\n{tail[-2000:]}",
                        pytrace=False)
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"`leadshop serve` did not become ready in {START_TIMEOUT:.0f} s",
                        pytrace=False)
        time.sleep(0.02)
    s3 = json.loads(endpoints.read_text())["s3"]
    server = LeadshopServer(binary=binary, data_dir=data_dir, process=process, endpoint=s3,
                            ca_bundle="", region="", bucket="")
    env = server.env("app")
    server.ca_bundle = env["AWS_CA_BUNDLE"]
    server.region = env["AWS_DEFAULT_REGION"]
    server.bucket = env["AWS_S3_BUCKET_NAME"]
    return server


@pytest.fixture(scope="session")
def leadshop_server(request: Any, tmp_path_factory: Any) -> Iterator[LeadshopServer]:
    """A throwaway `leadshop serve` for the session (one per xdist worker)."""
    binary = find_binary(request.config.getoption("--leadshop-bin"))
    server = start(binary, tmp_path_factory.mktemp("leadshop") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_prefix() -> str:
    """A prefix no other test uses, under `integration-tests/`."""
    return f"integration-tests/pytest-{uuid.uuid4().hex[:12]}/"


@pytest.fixture
def s3_storage(leadshop_server: LeadshopServer, s3_prefix: str) -> Iterator[S3Storage]:
    """An `S3Storage` on the app key; `s3_prefix` is purged afterwards, versions included."""
    storage = leadshop_server.storage("app")
    try:
        yield storage
    finally:
        try:
            storage.purge(s3_prefix)
        finally:
            storage.close()
