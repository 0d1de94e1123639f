"""Start, stop and kill a real `leadshop serve` process on 127.0.0.1 port 0."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("LEADSHOP_BIN", REPO / "target" / "release" / "leadshop"))


class Leadshop:
    def __init__(self, data_dir: Path, config: str | None = None, s3_addr: str = "127.0.0.1:0",
                 log_filter: str | None = None):
        """`config` is TOML (e.g. a `[limits]` table) written beside the data directory and
        passed with --config; the listeners still come from the flags (port 0, unless
        `s3_addr` names one: a restart that clients must find again)."""
        self.data_dir = Path(data_dir)
        self.s3_addr = s3_addr
        # LEADSHOP_LOG for the server (tracing filter syntax), e.g. one line per request.
        self.log_filter = log_filter
        self.proc = None
        self.log = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.config = None
        if config is not None:
            self.config = self.data_dir.parent / f"{self.data_dir.name}.toml"
            self.config.write_text(config)

    def start(self, timeout: float = 30.0) -> "Leadshop":
        endpoints = self.data_dir / "endpoints.json"
        if endpoints.exists():
            endpoints.unlink()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")
        args = [str(BIN), "serve", "--data-dir", str(self.data_dir), "--s3-addr", self.s3_addr,
                "--http-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0"]
        if self.config is not None:
            args += ["--config", str(self.config)]
        env = None
        if self.log_filter is not None:
            env = {**os.environ, "LEADSHOP_LOG": self.log_filter}
        self.proc = subprocess.Popen(
            args,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
        )
        deadline = time.monotonic() + timeout
        # The server writes endpoints.json once it is ready to serve.
        while not endpoints.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"leadshop exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("leadshop did not become ready")
            time.sleep(0.02)
        return self

    def open_fds(self) -> int:
        """File descriptors the server process holds now."""
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss_kib(self) -> int:
        """Resident memory of the server process now, in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def metrics(self) -> dict:
        """The console's /metrics, as {'name{labels}': value}."""
        import urllib.request
        text = urllib.request.urlopen(self.endpoints["console"] + "/metrics", timeout=10).read().decode()
        return {k: float(v) for k, v in (l.rsplit(" ", 1) for l in text.splitlines() if l and not l.startswith("#"))}

    @property
    def endpoints(self) -> dict:
        return json.loads((self.data_dir / "endpoints.json").read_text())

    def env(self, key: str = "admin") -> dict:
        """The environment `leadshop env` exports, merged over ours."""
        out = subprocess.run([str(BIN), "env", "--data-dir", str(self.data_dir), "--key", key],
                             check=True, capture_output=True, text=True).stdout
        env = dict(os.environ)
        for line in out.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip("'")
        # Keep the tests independent of any AWS profile on the machine.
        env.pop("AWS_PROFILE", None)
        env["AWS_CONFIG_FILE"] = os.devnull
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        return env

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=30)
        return self.proc.returncode if self.proc else 0

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
