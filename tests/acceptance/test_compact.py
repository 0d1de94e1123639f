"""`leadshop compact`: a stopped server's metadata rebuilt in key order (smaller: concurrent
writers leave B-tree pages half full), every object still there afterwards; refused while the
server runs (it holds the data directory)."""

import subprocess
from concurrent.futures import ThreadPoolExecutor

from leadshop_proc import BIN, Leadshop
from test_lifecycle import ASSETS, client


def compact(data_dir):
    return subprocess.run([str(BIN), "compact", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=300)


def test_compact_packs_a_stopped_servers_metadata_and_is_refused_while_it_runs(tmp_path):
    srv = Leadshop(tmp_path / "data").start()
    s3 = client(srv)
    keys = [f"k/{i % 50:02}/{i:05}" for i in range(3000)]
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda k: s3.put_object(Bucket=ASSETS, Key=k, Body=k.encode()), keys))
    out = compact(srv.data_dir)
    assert out.returncode != 0 and "stop it first" in out.stderr, out.stdout + out.stderr
    srv.stop()
    before = (srv.data_dir / "meta.redb").stat().st_size
    out = compact(srv.data_dir)
    assert out.returncode == 0, out.stderr
    after = (srv.data_dir / "meta.redb").stat().st_size
    assert f"→ {after} bytes" in out.stdout and after < before, (before, after, out.stdout)
    srv.start()
    s3 = client(srv)
    listed = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=ASSETS, Prefix="k/")
              for o in p.get("Contents", [])]
    assert sorted(listed) == sorted(keys)
    for k in keys[::97]:
        assert s3.get_object(Bucket=ASSETS, Key=k)["Body"].read() == k.encode()
    srv.stop()
