#!/usr/bin/env python3
"""The walk of one request through leadshop's own source files, as it runs.

Starts a debug `leadshop serve` (LEADSHOP_BIN, default target/debug/leadshop), makes one
warm-up PutObject with boto3 at its defaults, then attaches gdb with a breakpoint on every
function of the leadshop crates (server, store, spec, keys; from the binary's symbol table)
and makes the measured PutObject (10 KiB). Every breakpoint hit on that request's path (a hit
whose stack holds a frame of the shell, the access decision or the S3 handlers, so the
background workers' own rounds are left out; engine calls on the blocking pool count, their
closures are the handlers') adds the source file of the function hit. Prints the files in
the order first entered, how many distinct files, and how many times the walk came back to
a file it had left.

    cargo build --ignore-rust-version --bin leadshop
    python3 scripts/walk_request.py            # LEADSHOP_BIN=... for another build

Nothing here is a test: it is the measurement docs/ARCHITECTURE.md quotes.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("LEADSHOP_BIN", REPO / "target" / "debug" / "leadshop"))
os.environ["LEADSHOP_BIN"] = str(BIN)
sys.path.insert(0, str(REPO / "tests" / "acceptance"))

from leadshop_proc import Leadshop  # noqa: E402

OURS = re.compile(r"^<?leadshop_(server|store|spec|keys)::")
# A hit counts when its stack holds one of these (the request's own path).
ON_PATH = ("/src/shell/", "/src/access/", "/src/s3/")

GDB_SCRIPT = r'''
import gdb, json
OUT, ADDRS, ON_PATH = {out!r}, {addrs!r}, {on_path!r}
walk = []
class Hit(gdb.Breakpoint):
    def stop(self):
        f = gdb.newest_frame()
        sal = f.find_sal()
        here = sal.symtab.filename if sal.symtab else None
        frame, on_path = f, False
        while frame is not None:
            s = frame.find_sal()
            name = s.symtab.filename if s.symtab else ""
            if any(p in name for p in ON_PATH):
                on_path = True
                break
            frame = frame.older()
        if on_path and here:
            walk.append(here)
        return False
gdb.execute("set pagination off")
gdb.execute("set confirm off")
base = None
for line in gdb.execute("info proc mappings", to_string=True).splitlines():
    parts = line.split()
    if len(parts) >= 5 and parts[-1].endswith("/leadshop") and parts[3] in ("0x0", "0"):
        base = int(parts[0], 16)
        break
for a in ADDRS:
    Hit("*" + hex(base + a), internal=True)
open(OUT + ".ready", "w").write("ready")
def finish(_event=None):
    json.dump(walk, open(OUT, "w"))
gdb.events.exited.connect(finish)
import threading
def watch():
    import os, time
    while not os.path.exists(OUT + ".done"):
        time.sleep(0.2)
    gdb.post_event(lambda: (finish(), gdb.execute("interrupt")))
threading.Thread(target=watch, daemon=True).start()
gdb.execute("continue")
finish()
gdb.execute("detach")
'''


def symbols() -> list:
    """Offsets of every function of the leadshop crates in the binary."""
    out = subprocess.run(["nm", "-C", "--defined-only", str(BIN)], check=True,
                         capture_output=True, text=True).stdout
    addrs = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW" and OURS.match(parts[2]):
            addrs.append(int(parts[0], 16))
    return sorted(set(addrs))


def put(env: dict, key: str) -> None:
    import boto3
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"],
                      region_name=env["AWS_DEFAULT_REGION"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                      verify=env["AWS_CA_BUNDLE"])
    s3.put_object(Bucket=env["AWS_S3_BUCKET_NAME"], Key=key, Body=os.urandom(10 * 1024))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        srv = Leadshop(Path(tmp) / "data").start()
        try:
            env = srv.env("admin")
            put(env, "walk/warm-up.bin")
            out = str(Path(tmp) / "walk.json")
            script = Path(tmp) / "walk.gdb.py"
            script.write_text(GDB_SCRIPT.format(out=out, addrs=symbols(), on_path=ON_PATH))
            gdb = subprocess.Popen(["gdb", "-q", "-nx", "-batch", "-p", str(srv.proc.pid),
                                    "-x", str(script)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            while not os.path.exists(out + ".ready"):
                if gdb.poll() is not None:
                    raise RuntimeError(f"gdb ended early: {gdb.stderr.read()[-2000:]}")
                time.sleep(0.2)
            put(env, "walk/measured.bin")
            Path(out + ".done").write_text("done")
            gdb.wait(timeout=600)
            walk = json.loads(Path(out).read_text())
        finally:
            srv.stop()
    # Our files only, relative to the checkout the binary was built from (a function expanded
    # from a dependency's macro names the macro's file).
    files = [w[w.index("crates/"):] for w in walk
             if "/.cargo/" not in w and (w.startswith("crates/") or "/crates/" in w)]
    # Consecutive hits in one file are one stay.
    stays = [f for i, f in enumerate(files) if i == 0 or files[i - 1] != f]
    seen, first, returns = set(), [], 0
    for f in stays:
        if f in seen:
            returns += 1
        else:
            seen.add(f)
            first.append(f)
    print(json.dumps({"binary": str(BIN), "hits": len(files), "stays": len(stays),
                      "files": len(first), "returns": returns}))
    for f in first:
        print(f)


if __name__ == "__main__":
    main()
