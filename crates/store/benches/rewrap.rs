//! How fast an online master-key rotation re-wraps data keys: `Store::rewrap_to_current` over
//! 10,000 object versions, in the server's batch size, alternating between two master keys so
//! every iteration re-wraps every envelope.
//!
//! `cargo bench --ignore-rust-version -p leadshop-store --bench rewrap`

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use leadshop_store::crypto::Key;
use leadshop_store::{MasterKey, MasterKeys, REWRAP_BATCH, Store, VersioningState};

#[path = "../tests/support/mod.rs"]
mod support;

const VERSIONS: usize = 10_000;

fn key(id: &str, byte: u8) -> MasterKey {
    MasterKey {
        id: id.into(),
        key: Key::from_bytes([byte; 32]),
    }
}

fn rewrap(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let masters = MasterKeys::new(key("mk-a", 1));
    let store = Arc::new(Store::open(dir.path(), Some(masters.clone())).expect("store"));
    support::create_bucket(&store, "b", VersioningState::Unversioned);
    // Writers share group commits, so filling the table takes seconds, not minutes. Each
    // version gets its own data key (its own file) as in real use.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in (t..VERSIONS).step_by(8) {
                    let rec = support::record(&format!("k/{i:05}"), support::write(&store, b"x"));
                    store.put_version("b", rec, None).expect("put");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }

    let mut g = c.benchmark_group("rotation");
    g.sample_size(10);
    let mut flip = false;
    g.bench_function("rewrap 10k versions (batches of 256)", |b| {
        b.iter(|| {
            flip = !flip;
            masters.install(if flip { key("mk-b", 2) } else { key("mk-a", 1) });
            let done = store.rewrap_to_current(REWRAP_BATCH).expect("rewrap");
            assert_eq!(done.rewrapped, VERSIONS);
        });
    });
    g.finish();
}

criterion_group!(benches, rewrap);
criterion_main!(benches);
