//! What the engine's costs do as a bucket grows (issue 29's scale section): a store filled with
//! `LEADSHOP_SCALE_OBJECTS` versions (default 100,000; 16-byte objects, each its own data file,
//! written by 8 threads sharing group commits), then criterion timings of a ListObjectsV2 page
//! (1,000 keys) at the start, middle and end of the key space and with a delimiter, a HEAD of a
//! key (`get_version`), the storage sample (`storage_usage`, running totals), and reopening the
//! store (start-up, ready to serve; and with the orphan sweep, which walks every version and
//! data file, and which the server runs after it serves); and, printed once, the metadata
//! bytes per object on disk.
//!
//! `LEADSHOP_SCALE_OBJECTS=1000000 cargo bench --ignore-rust-version -p leadshop-store --bench scale`

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use leadshop_store::{ListQuery, Store, VersioningState};

#[path = "../tests/support/mod.rs"]
mod support;

fn objects() -> usize {
    std::env::var("LEADSHOP_SCALE_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn key(i: usize) -> String {
    format!("reports/{:03}/{i:08}.pdf", i % 1000)
}

fn scale(c: &mut Criterion) {
    let n = objects();
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    let store = Arc::new(Store::open(dir.path(), None).expect("store"));
    support::create_bucket(&store, "b", VersioningState::Enabled);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in (t..n).step_by(8) {
                    let rec = support::record(&key(i), support::write(&store, b"0123456789abcdef"));
                    store.put_version("b", rec, None).expect("put");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let meta = std::fs::metadata(dir.path().join("meta.redb"))
        .expect("meta")
        .len();
    eprintln!(
        "scale: {n} versions written in {:.1} s; meta.redb {meta} bytes, {:.0} bytes per object",
        started.elapsed().as_secs_f64(),
        meta as f64 / n as f64
    );
    let page = |prefix: &str, start_after: Option<String>, delimiter: Option<&'static str>| {
        let store = store.clone();
        let q = ListQuery {
            prefix: prefix.to_string(),
            delimiter: delimiter.map(str::to_string),
            start_after,
            max_keys: 1000,
        };
        move || store.list_objects("b", &q).expect("list")
    };
    let mut g = c.benchmark_group(format!("scale {n}"));
    g.sample_size(20);
    {
        // Keys are reports/<i % 1000>/<i>.pdf, n/1000 in each of the 1,000 groups: the middle
        // page starts at group 500, the end page at the group 1,000 keys before the end.
        let start = page("", None, None);
        let middle = page("", Some("reports/500".into()), None);
        let groups_per_page = (1000 * 1000 / n.max(1)).clamp(1, 1000);
        let end = page(
            "",
            Some(format!("reports/{:03}", 1000 - groups_per_page)),
            None,
        );
        // 1,000 common prefixes (reports/000/ … reports/999/), each over n/1000 keys.
        let delimited = page("reports/", None, Some("/"));
        g.bench_function("list page, start", |b| b.iter(&start));
        g.bench_function("list page, middle", |b| b.iter(&middle));
        g.bench_function("list page, end", |b| b.iter(&end));
        g.bench_function("list page of 1,000 common prefixes", |b| b.iter(&delimited));
    }
    let mut i = 0usize;
    g.bench_function("HEAD of a key", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            store.get_version("b", &key(i), None).expect("head")
        })
    });
    g.bench_function("storage sample (running totals)", |b| {
        b.iter(|| store.storage_usage().expect("usage"))
    });
    drop(store);
    g.sample_size(10);
    // What the server waits for before it serves; the orphan sweep runs after, beside it.
    let clock: leadshop_store::SharedClock = Arc::new(leadshop_store::SystemClock);
    g.bench_function("open, ready to serve (start-up)", |b| {
        b.iter(|| {
            Store::open_deferring_sweep(
                dir.path(),
                None,
                clock.clone(),
                leadshop_store::DEFAULT_METADATA_CACHE_BYTES,
            )
            .expect("reopen")
        })
    });
    g.bench_function("open and orphan sweep", |b| {
        b.iter(|| Store::open(dir.path(), None).expect("reopen"))
    });
    g.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
