"""`leadshop serve` caps glibc's malloc arenas (crates/cli/src/arenas.rs): the running server
has MALLOC_ARENA_MAX=2 in its environment, under the process id its starter knows, unless the
environment set a value, which is kept."""

import os
from pathlib import Path

from leadshop_proc import Leadshop
from test_lifecycle import ASSETS, client


def environ(pid: int) -> dict:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode().split("=", 1) for e in raw if b"=" in e)


def test_the_server_runs_with_two_malloc_arenas_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    srv = Leadshop(tmp_path / "a").start()
    try:
        assert environ(srv.proc.pid).get("MALLOC_ARENA_MAX") == "2"
        # The same process serves (the re-exec kept its id and arguments).
        client(srv).put_object(Bucket=ASSETS, Key="k", Body=b"x")
        assert Path(f"/proc/{srv.proc.pid}/cmdline").read_bytes().split(b"\0")[1] == b"serve"
    finally:
        srv.stop()
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    srv = Leadshop(tmp_path / "b").start()
    try:
        assert environ(srv.proc.pid).get("MALLOC_ARENA_MAX") == "4"
    finally:
        srv.stop()
    assert os.environ["MALLOC_ARENA_MAX"] == "4"
