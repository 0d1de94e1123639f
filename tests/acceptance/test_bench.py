"""`leadshop bench` against a local server: every cell of the matrix PUTs, reads back and
compares what it wrote (a body that differs fails the run), the JSON carries every figure, and
nothing of the run is left in the bucket (versions included: leadshop-assets is versioned).
Refused: sizes and concurrencies it cannot run, and a key the endpoint does not accept."""

import json
import subprocess

from leadshop_proc import BIN
from test_lifecycle import ASSETS


def bench(env, *args):
    return subprocess.run([str(BIN), "bench", "--bucket", ASSETS, *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_bench_measures_each_cell_verifies_it_and_leaves_nothing(server, env, s3):
    out = bench(env, "--size", "4K,64K", "--concurrency", "1,3", "--seconds", "0.5", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    cells = [(c["size"], c["concurrency"]) for c in report["results"]]
    assert cells == [(4096, 1), (4096, 3), (65536, 1), (65536, 3)]
    for c in report["results"]:
        for phase in ("put", "get"):
            p = c[phase]
            assert p["ops"] > 0 and p["ops_per_second"] > 0 and p["mb_per_second"] > 0, c
            assert 0 < p["p50_ms"] <= p["p99_ms"], c
    assert report["prefix"].startswith("leadshop-bench/")
    assert report["removed"] == sum(c["put"]["ops"] for c in report["results"])
    left = s3.list_object_versions(Bucket=ASSETS, Prefix=report["prefix"])
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    # Without --json: a Markdown table, one row per cell (no progress line off a terminal).
    out = bench(env, "--size", "1K", "--concurrency", "2", "--seconds", "0.3")
    assert out.returncode == 0, out.stderr
    assert "| 1 KiB | 2 |" in out.stdout and out.stderr == ""


def test_bench_refuses_what_it_cannot_run_and_names_the_failing_request(server, env):
    for args, message in [
        (("--size", "4Q"), "the unit is K, M or G"),
        (("--size", "0"), "is not a size"),
        (("--concurrency", "0"), "is not a number from 1 to 1024"),
        (("--seconds=-1",), "--seconds: between 0 and 3600"),
        (("--seconds", "0"), "--seconds: between 0 and 3600"),
    ]:
        out = bench(env, *args)
        assert out.returncode != 0 and message in out.stderr, (args, out.stderr)
    bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong")
    out = bench(bad, "--size", "1K", "--concurrency", "1", "--seconds", "0.2")
    assert out.returncode != 0 and "SignatureDoesNotMatch" in out.stderr, out.stderr
