"""LeadFactory's storage performance check (the seed's
`python scripts/s3_performance_test.py --file-size=10MB --iterations=5`).

Uploads, downloads and presigns a file of the given size `--iterations` times against the
store the environment names, and prints min/median/p95/max of each against the seed's SLA
(upload < 30 s, download < 10 s, presigned URL < 1 s, each at its p95), marking a miss. It
exits 1 when an operation fails; `--enforce-sla` makes a missed SLA exit 1 too (a gate for a
quiet machine; shared CI machines record the figures instead, docs/BENCHMARKS.md). With
`--batch N`, also uploads N files of the size at once through `upload_many`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.core.storage import s3_client  # noqa: E402

SLA = {"upload": 30.0, "download": 10.0, "presign": 1.0}
UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}


def parse_size(text: str) -> int:
    t = text.strip().upper()
    for unit in ("GB", "MB", "KB", "B"):
        if t.endswith(unit):
            return int(float(t[: -len(unit)]) * UNITS[unit])
    return int(t)


def summary(xs: list[float]) -> dict:
    s = sorted(xs)
    p95 = s[min(len(s) - 1, max(0, round(0.95 * len(s)) - 1))]
    return {"min": s[0], "median": statistics.median(s), "p95": p95, "max": s[-1]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file-size", default="10MB", help="e.g. 10MB, 512KB (default 10MB)")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--batch", type=int, default=0, help="also upload N files with upload_many")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--enforce-sla", action="store_true", help="exit 1 when an SLA is missed")
    args = ap.parse_args(argv)
    size = parse_size(args.file_size)
    storage = s3_client.get_storage()
    prefix = f"performance-tests/{uuid.uuid4().hex[:12]}/"
    times: dict[str, list[float]] = {"upload": [], "download": [], "presign": []}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "payload.bin"
        src.write_bytes(os.urandom(size))
        for i in range(args.iterations):
            key = f"{prefix}file-{i}.bin"
            t = time.perf_counter()
            result = storage.upload_file(src, key)
            times["upload"].append(time.perf_counter() - t)
            if result.queued:
                print(f"the store is unavailable: {key} went to the outbox", file=sys.stderr)
                return 1
            t = time.perf_counter()
            storage.download_file(key, Path(tmp) / "back.bin")
            times["download"].append(time.perf_counter() - t)
            t = time.perf_counter()
            storage.generate_presigned_url(key, expires_in=3600)
            times["presign"].append(time.perf_counter() - t)
        batch_line = None
        if args.batch:
            items = [(src, f"{prefix}batch/{i:04}.bin") for i in range(args.batch)]
            t = time.perf_counter()
            results = storage.upload_many(items, max_concurrency=args.concurrency)
            elapsed = time.perf_counter() - t
            failed = [r for r in results if r.error or (r.result and r.result.queued)]
            batch_line = (f"batch: {args.batch} x {args.file_size} with upload_many "
                          f"(concurrency {args.concurrency}) in {elapsed:.2f} s, "
                          f"{args.batch * size / elapsed / 1e6:.1f} MB/s, {len(failed)} failed")
        # Every version the run wrote (5 x 10 MB would otherwise stay, noncurrent, for 90 days).
        storage.purge(prefix)

    print(f"{args.iterations} iterations of {args.file_size} ({size} bytes) against "
          f"{storage.config.endpoint_url or 'AWS S3'}, bucket {storage.bucket}")
    print(f"{'operation':<10} {'min':>8} {'median':>8} {'p95':>8} {'max':>8}   SLA")
    missed = []
    for op, xs in times.items():
        s = summary(xs)
        ok = s["p95"] < SLA[op]
        if not ok:
            missed.append(op)
        print(f"{op:<10} {s['min']:>7.3f}s {s['median']:>7.3f}s {s['p95']:>7.3f}s "
              f"{s['max']:>7.3f}s   < {SLA[op]:g} s {'ok' if ok else 'MISSED'}")
    if batch_line:
        print(batch_line)
    if missed:
        print(f"SLA missed: {', '.join(missed)}", file=sys.stderr)
        return 1 if args.enforce_sla else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
