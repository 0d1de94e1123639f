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
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.proc = None
        self.log = self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self, timeout: float = 30.0) -> "Leadshop":
        endpoints = self.data_dir / "endpoints.json"
        if endpoints.exists():
            endpoints.unlink()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--data-dir", str(self.data_dir), "--s3-addr", "127.0.0.1:0",
             "--http-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
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
