//! How the lifecycle worker scales: one server on a test clock, a bucket filled with N
//! versions (metadata only: the worker never reads object data), then two passes measured in
//! wall time — a daily pass where nothing is due (the steady state) and the pass 30 days later
//! that transitions every version to STANDARD_IA — with the process's resident memory sampled
//! during each, and the rate of 4 KiB PUTs (official aws-sdk-s3, 16 at a time, over HTTPS)
//! before and during the second pass.
//!
//! `cargo bench --ignore-rust-version -p leadshop-server --bench lifecycle -- 1000000`
//! (N defaults to 100000); results in docs/BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use leadshop_store::{BucketRecord, Clock, Store, TestClock, VersionRecord, VersioningState};

#[path = "../tests/s3_api/common/mod.rs"]
mod common;

const DAY: Duration = Duration::from_secs(86_400);

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn version(key: String, now_ms: i64) -> VersionRecord {
    let mut v = VersionRecord::delete_marker(&key, now_ms);
    v.delete_marker = false;
    v.size = 200 * 1024;
    v.etag = "0123456789abcdef0123456789abcdef".into();
    v.metadata = BTreeMap::new();
    v
}

fn fill(store: &Arc<Store>, n: usize, now_ms: i64) {
    let threads = 64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in (t..n).step_by(threads) {
                    let key = format!("reports/{:03}/{i:08}.pdf", i % 997);
                    store
                        .put_version("bench", version(key, now_ms), None)
                        .expect("put");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("filler");
    }
}

/// Advances the clock by `by` and waits for the day's pass; returns wall time and peak RSS.
async fn pass(
    state: &leadshop_server::AppState,
    clock: &TestClock,
    by: Duration,
) -> (Duration, u64) {
    let peak = Arc::new(AtomicU64::new(rss_kib()));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let start = Instant::now();
    clock.advance(by);
    let day = clock.now_ms().div_euclid(DAY.as_millis() as i64);
    loop {
        if state
            .observability
            .lifecycle
            .get()
            .and_then(|p| p.last)
            .is_some_and(|l| l.day == day)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = start.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    (took, peak.load(Ordering::Relaxed))
}

/// 4 KiB PUTs, 16 at a time, until `stop`; returns how many completed.
fn put_load(s3: Client, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let done = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let (s3, stop, done) = (s3.clone(), stop.clone(), done.clone());
                tokio::spawn(async move {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        s3.put_object()
                            .bucket("leadshop-assets")
                            .key(format!("load/{t}/{i}"))
                            .body(vec![7u8; 4096].into())
                            .send()
                            .await
                            .expect("put");
                        i += 1;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("put task");
        }
        done.load(Ordering::Relaxed)
    })
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::starting_now();
    let config = common::test_config(dir.path());
    let handle = leadshop_server::start_with(
        config,
        leadshop_server::StartOptions {
            clock: clock.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("server");
    let srv = common::TestServer { handle, dir };
    let state = srv.handle.state().clone();
    let rules = serde_json::json!({"Rules": [{
        "ID": "ia", "Status": "Enabled", "Filter": {"Prefix": ""},
        "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]
    }]});
    state
        .core
        .store
        .create_bucket(&BucketRecord {
            name: "bench".into(),
            created_ms: clock.now_ms(),
            region: "us-east-1".into(),
            versioning: VersioningState::Enabled,
            documents: [("lifecycle".to_string(), rules)].into_iter().collect(),
        })
        .expect("bucket");
    let t = Instant::now();
    let store = state.core.store.clone();
    let now = clock.now_ms();
    tokio::task::spawn_blocking(move || fill(&store, n, now))
        .await
        .expect("fill");
    println!("filled {n} versions in {:.1?}", t.elapsed());
    let base = rss_kib();
    let (idle, idle_peak) = pass(&state, &clock, DAY).await;
    println!(
        "pass with nothing due: {idle:.2?} ({:.0} versions/s), RSS {} MiB before, peak {} MiB",
        n as f64 / idle.as_secs_f64(),
        base / 1024,
        idle_peak / 1024
    );
    let s3 = srv.admin();
    let stop = Arc::new(AtomicBool::new(false));
    let load = put_load(s3.clone(), stop.clone());
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    let idle_puts = load.await.expect("load") as f64 / 5.0;
    let stop = Arc::new(AtomicBool::new(false));
    let load = put_load(s3, stop.clone());
    let (busy, busy_peak) = pass(&state, &clock, DAY * 30).await;
    stop.store(true, Ordering::Relaxed);
    let busy_puts = load.await.expect("load") as f64 / busy.as_secs_f64();
    println!("4 KiB PUTs: {idle_puts:.0}/s without a pass, {busy_puts:.0}/s during it");
    let p = state.observability.lifecycle.get().expect("status");
    let moved = p.last.as_ref().expect("last").counts["bench"]["ia"].transitioned;
    println!(
        "pass transitioning every version: {busy:.2?} ({:.0} versions/s), {moved} transitioned, RSS peak {} MiB",
        n as f64 / busy.as_secs_f64(),
        busy_peak / 1024
    );
    assert_eq!(moved as usize, n, "every version transitioned");
    srv.stop().await;
}
