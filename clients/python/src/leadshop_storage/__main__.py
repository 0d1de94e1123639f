"""`python -m leadshop_storage sync|status`: deliver or show the local outbox.

    python -m leadshop_storage status             # what waits in the outbox
    python -m leadshop_storage sync               # deliver it once (exit 1 if some remains)
    python -m leadshop_storage sync --watch 2     # keep delivering every 2 s until stopped
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from .client import S3Storage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leadshop_storage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dotenv", help="a .env file to read first (default: search from here)")
    sub = parser.add_subparsers(dest="command", required=True)
    sync = sub.add_parser("sync", help="deliver the outbox to the store, oldest first")
    sync.add_argument("--watch", type=float, metavar="SECONDS",
                      help="keep going, a pass every SECONDS, until interrupted")
    sub.add_parser("status", help="list what waits in the outbox")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    storage = S3Storage.from_env(args.dotenv, sync_interval=0)
    if storage.outbox is None:
        print("no outbox configured (set STORAGE_OUTBOX_DIR)", file=sys.stderr)
        return 2
    if args.command == "status":
        pending = storage.outbox.pending()
        for e in pending:
            print(f"{e.id}  {e.op:<6} {e.key}  {e.size if e.size is not None else '-'}")
        print(f"{len(pending)} pending in {storage.outbox.root}")
        return 0
    while True:
        report = storage.sync()
        print(f"delivered {len(report.delivered)}, remaining {report.remaining}"
              + (f" (stopped: {report.error})" if report.error else ""), flush=True)
        if args.watch is None:
            return 0 if report.remaining == 0 else 1
        try:
            time.sleep(args.watch)
        except KeyboardInterrupt:
            return 0 if report.remaining == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
