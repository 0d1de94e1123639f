//! The orphan sweep: a data file no version or part references (a write a crash interrupted
//! between sealing its file and committing it) is removed; a referenced file is kept (and made
//! 0600 where an earlier version left it open); and when the sweep runs after the store has
//! started serving (`open_deferring_sweep`), a file written meanwhile — committed, or sealed
//! and not committed yet — is never taken for an orphan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use leadshop_store::{FileId, Store, SystemClock, VersioningState};

mod support;

fn data_path(root: &Path, id: FileId) -> PathBuf {
    let name = id.to_string();
    root.join("objects").join(&name[..2]).join(name)
}

fn read(store: &Store, key: &str) -> Vec<u8> {
    let rec = store.get_version("b", key, None).expect("version");
    let seg = &rec.segments[0];
    store
        .read_segment(seg, None, 0, usize::try_from(seg.len).unwrap())
        .expect("data")
}

/// A data file left by a write that never committed: sealed by a store that is then dropped.
fn orphan(root: &Path) -> PathBuf {
    let store = Store::open(root, None).expect("store");
    let sealed = support::write(&store, b"never committed");
    data_path(root, sealed.file)
}

#[test]
fn a_sweep_at_open_removes_orphans_and_keeps_what_versions_reference() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    {
        let store = Store::open(root, None).unwrap();
        support::create_bucket(&store, "b", VersioningState::Enabled);
        let rec = support::record("kept", support::write(&store, b"kept bytes"));
        store.put_version("b", rec, None).unwrap();
    }
    let lost = orphan(root);
    assert!(lost.exists());
    let store = Store::open(root, None).unwrap();
    assert!(!lost.exists(), "the orphan is removed at open");
    assert_eq!(read(&store, "kept"), b"kept bytes");
    let report = store.orphan_sweep().expect("swept").expect("no error");
    assert_eq!((report.files, report.removed), (2, 1));
}

#[cfg(unix)]
#[test]
fn the_sweep_makes_a_data_file_an_earlier_version_left_open_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let file = {
        let store = Store::open(root, None).unwrap();
        support::create_bucket(&store, "b", VersioningState::Enabled);
        let sealed = support::write(&store, b"private");
        let file = data_path(root, sealed.file);
        store
            .put_version("b", support::record("k", sealed), None)
            .unwrap();
        file
    };
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(root, None).unwrap();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(store.orphan_sweep().unwrap().unwrap().tightened, 1);
}

#[test]
fn a_deferred_sweep_spares_every_file_written_since_the_store_opened() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    Store::open(root, None)
        .map(|s| support::create_bucket(&s, "b", VersioningState::Enabled))
        .unwrap();
    let lost = orphan(root);
    let store = Arc::new(
        Store::open_deferring_sweep(
            root,
            None,
            Arc::new(SystemClock),
            leadshop_store::DEFAULT_METADATA_CACHE_BYTES,
        )
        .expect("store"),
    );
    assert!(store.orphan_sweep().is_none(), "not swept yet");
    // Served before the sweep: one write committed, one sealed and still in flight.
    let committed = support::write(&store, b"committed before the sweep");
    store
        .put_version("b", support::record("committed", committed), None)
        .unwrap();
    let in_flight = support::write(&store, b"sealed before, committed after");
    let in_flight_path = data_path(root, in_flight.file);
    // And writers running while it sweeps.
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let key = format!("during/{t}/{i}");
                    let rec = support::record(&key, support::write(&store, key.as_bytes()));
                    store.put_version("b", rec, None).unwrap();
                }
            })
        })
        .collect();
    let report = store.sweep_orphans().expect("sweep");
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(report.removed, 1, "only the orphan of the earlier process");
    assert!(!lost.exists());
    assert!(
        in_flight_path.exists(),
        "a sealed, uncommitted file of this process is kept"
    );
    store
        .put_version("b", support::record("in-flight", in_flight), None)
        .unwrap();
    assert_eq!(read(&store, "committed"), b"committed before the sweep");
    assert_eq!(read(&store, "in-flight"), b"sealed before, committed after");
    for t in 0..4 {
        for i in 0..50 {
            let key = format!("during/{t}/{i}");
            assert_eq!(read(&store, &key), key.as_bytes());
        }
    }
    // It runs once: a second call reports the first sweep and removes nothing.
    assert_eq!(store.sweep_orphans().unwrap(), report);
}
