//! Concurrent writers through the group committer: every acknowledged write is there, a
//! refused write in a shared batch changes nothing, and conditional writes stay exclusive.

mod support;

use std::sync::Arc;

use leadshop_store::{Store, StoreError, VersionRecord, VersioningState, WritePrecondition};

fn master() -> leadshop_store::MasterKeys {
    leadshop_store::MasterKeys::new(leadshop_store::MasterKey {
        id: "test".into(),
        key: leadshop_store::crypto::Key::from_bytes([9; 32]),
    })
}

fn version(store: &Store, key: &str, body: &[u8]) -> VersionRecord {
    support::record(key, support::write(store, body))
}

#[test]
fn concurrent_writers_share_commits_without_losing_or_mixing_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), Some(master())).unwrap());
    support::create_bucket(&store, "b", VersioningState::Enabled);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut exclusive_wins = 0;
                for i in 0..40 {
                    let rec = version(&store, &format!("k/{t}/{i}"), format!("{t}-{i}").as_bytes());
                    store.put_version("b", rec, None).unwrap();
                    // Everyone races for one key with If-None-Match: *; refusals share batches
                    // with successful writes.
                    let rec = version(&store, "exclusive", b"x");
                    let file = rec.segments[0].file;
                    match store.put_version("b", rec, Some(WritePrecondition::IfNoneMatchAny)) {
                        Ok(_) => exclusive_wins += 1,
                        Err(StoreError::PreconditionFailed(_)) => store.discard(file),
                        Err(e) => panic!("{e}"),
                    }
                    // A write to a missing bucket is refused inside a shared batch.
                    let rec = version(&store, "nowhere", b"y");
                    let file = rec.segments[0].file;
                    assert!(matches!(
                        store.put_version("missing", rec, None),
                        Err(StoreError::NoSuchBucket(_))
                    ));
                    store.discard(file);
                }
                exclusive_wins
            })
        })
        .collect();
    let wins: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(wins, 1, "exactly one conditional create wins");
    let q = leadshop_store::ListQuery {
        prefix: "k/".into(),
        max_keys: 1000,
        ..Default::default()
    };
    let page = store.list_objects("b", &q).unwrap();
    assert_eq!(page.objects.len(), 640);
    assert!(!page.truncated);
    for t in 0..16 {
        for i in [0, 39] {
            let v = store.get_version("b", &format!("k/{t}/{i}"), None).unwrap();
            let body = format!("{t}-{i}");
            assert_eq!(v.size, body.len() as u64);
            assert_eq!(
                store
                    .read_segment(&v.segments[0], None, 0, body.len())
                    .unwrap(),
                body.as_bytes()
            );
        }
    }
    drop(store);
    // Reopen: everything acknowledged is durable, and refused writes left no files behind.
    let store = Store::open(dir.path(), Some(master())).unwrap();
    assert_eq!(store.list_objects("b", &q).unwrap().objects.len(), 640);
    let files = walk(&dir.path().join("objects"));
    assert_eq!(files, 641, "one file per stored version");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}
