//! Online master-key rotation in the engine: a write begun under the old key commits under the
//! new one, the re-wrap pass runs alongside concurrent writers, and afterwards the new key alone
//! opens everything.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leadshop_store::crypto::Key;
use leadshop_store::{
    MasterKey, MasterKeys, PartRecord, Segment, Store, UploadRecord, VersioningState,
};

mod support;

fn key(id: &str, byte: u8) -> MasterKey {
    MasterKey {
        id: id.into(),
        key: Key::from_bytes([byte; 32]),
    }
}

fn body(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..70_000 + (seed % 5000) as usize)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

use support::{record as version, write as sealed};

fn open(dir: &std::path::Path, masters: MasterKeys) -> Store {
    let store = Store::open(dir, Some(masters)).unwrap();
    if store.bucket("b").is_err() {
        support::create_bucket(&store, "b", VersioningState::Enabled);
    }
    store
}

fn read(store: &Store, key: &str) -> Vec<u8> {
    let v = store.get_version("b", key, None).unwrap();
    let mut out = Vec::new();
    for s in &v.segments {
        out.extend(store.read_segment(s, None, 0, s.len as usize).unwrap());
    }
    out
}

fn envelope_key(store: &Store, key: &str) -> String {
    let v = store.get_version("b", key, None).unwrap();
    v.segments[0].envelope.as_ref().unwrap().key_id.clone()
}

#[test]
fn writes_begun_under_the_old_key_commit_under_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let masters = MasterKeys::new(key("mk-old", 1));
    let store = open(dir.path(), masters.clone());
    // Data sealed under the old key, committed after the switch.
    let early = sealed(&store, &body(1));
    let early_part = sealed(&store, &body(2));
    assert_eq!(early.envelope.as_ref().unwrap().key_id, "mk-old");
    masters.install(key("mk-new", 2));
    store
        .put_version("b", version("early", early), None)
        .unwrap();
    assert_eq!(envelope_key(&store, "early"), "mk-new");
    store
        .create_upload(&UploadRecord {
            upload_id: "u1".into(),
            bucket: "b".into(),
            key: "multi".into(),
            initiated_ms: 0,
            storage_class: leadshop_store::StorageClass::Standard,
            checksum_algorithm: None,
            checksum_type: None,
            headers: Default::default(),
            metadata: BTreeMap::new(),
            tags: BTreeMap::new(),
            kms: None,
            sse_c_key_md5: None,
            retention: None,
            legal_hold: false,
            acl: None,
        })
        .unwrap();
    store
        .put_part(
            "u1",
            &PartRecord {
                part_number: 1,
                size: early_part.len,
                etag: "p1".into(),
                last_modified_ms: 0,
                checksums: Default::default(),
                file: early_part.file,
                envelope: early_part.envelope,
            },
        )
        .unwrap();
    assert_eq!(
        store.parts("u1").unwrap()[0]
            .envelope
            .as_ref()
            .unwrap()
            .key_id,
        "mk-new"
    );
    // A new writer uses the new key.
    let late = sealed(&store, &body(3));
    assert_eq!(late.envelope.as_ref().unwrap().key_id, "mk-new");
    store.put_version("b", version("late", late), None).unwrap();
    drop(store);

    // The new key alone opens all of it.
    let store = open(dir.path(), MasterKeys::new(key("mk-new", 2)));
    assert_eq!(read(&store, "early"), body(1));
    assert_eq!(read(&store, "late"), body(3));
    let part = &store.parts("u1").unwrap()[0];
    let seg = Segment {
        file: part.file,
        len: part.size,
        envelope: part.envelope.clone(),
        part_checksums: None,
        inline: false,
    };
    assert_eq!(
        store
            .read_segment(&seg, None, 0, part.size as usize)
            .unwrap(),
        body(2)
    );
}

#[test]
fn the_rewrap_pass_runs_alongside_writers_and_leaves_nothing_under_the_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let masters = MasterKeys::new(key("mk-old", 1));
    let store = Arc::new(open(dir.path(), masters.clone()));
    for i in 0..300 {
        let s = sealed(&store, &body(i));
        store
            .put_version("b", version(&format!("pre/{i}"), s), None)
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) || n < 20 {
                    let seed = 10_000 * (t + 1) + n;
                    let s = sealed(&store, &body(seed));
                    store
                        .put_version("b", version(&format!("w/{t}/{n}"), s), None)
                        .unwrap();
                    if n.is_multiple_of(3) {
                        assert_eq!(read(&store, &format!("pre/{}", n % 300)), body(n % 300));
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(50));
    masters.install(key("mk-new", 2));
    // Small batches so the pass interleaves with the writers' commits.
    let done = store.rewrap_to_current(7).unwrap();
    assert!(done.rewrapped >= 300, "{done:?}");
    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    drop(store);

    let store = open(dir.path(), MasterKeys::new(key("mk-new", 2)));
    let again = store.rewrap_to_current(64).unwrap();
    assert_eq!(again.rewrapped, 0, "{again:?}");
    for i in 0..300 {
        assert_eq!(read(&store, &format!("pre/{i}")), body(i));
    }
    for (t, n) in counts.iter().enumerate() {
        for k in 0..*n {
            let seed = 10_000 * (t as u64 + 1) + k;
            assert_eq!(read(&store, &format!("w/{t}/{k}")), body(seed));
        }
    }
}

#[test]
fn an_envelope_under_a_key_not_held_stops_the_pass_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), MasterKeys::new(key("mk-a", 1)));
    let s = sealed(&store, b"x");
    store.put_version("b", version("k", s), None).unwrap();
    drop(store);
    let store = open(dir.path(), MasterKeys::new(key("mk-b", 2)));
    let e = store.rewrap_to_current(10).unwrap_err();
    assert!(e.to_string().contains("mk-a"), "{e}");
}
