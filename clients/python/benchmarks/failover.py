"""How long an upload takes to fail over to the outbox when the store dies (kill -9).

    LEADSHOP_BIN=target/release/leadshop python3 clients/python/benchmarks/failover.py [trials]

Each trial starts a leadshop server (port 0), uploads once, kills the server, and times the
next upload until it is queued in the outbox (connection refused, botocore's standard retries
at the package's defaults: 3 attempts in all, jittered backoff). Prints min/median/max.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[3] / "tests" / "acceptance"))
sys.path.insert(0, str(HERE.parents[1] / "tests"))

from conftest import make_file, storage_for  # noqa: E402
from leadshop_proc import Leadshop  # noqa: E402


def trial() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        srv = Leadshop(d / "data").start()
        s = storage_for(srv.env("admin"), outbox_dir=d / "outbox", sync_interval=0)
        f = make_file(d / "f.bin", 1000)
        s.upload_file(f, "bench/failover/before")
        srv.kill9()
        t = time.monotonic()
        r = s.upload_file(f, "bench/failover/after")
        elapsed = time.monotonic() - t
        assert r.queued
        return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    xs = [trial() for _ in range(n)]
    print(f"failover to the outbox over {n} trials: min {min(xs):.2f} s, "
          f"median {statistics.median(xs):.2f} s, max {max(xs):.2f} s")


if __name__ == "__main__":
    main()
