//! The store's write protocol: sealed data becomes a version or a part in one call, stamped by
//! the store's clock, and a refused commit leaves no data file behind.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use leadshop_store::{
    NewPart, NewVersion, Store, StoreError, TestClock, VersioningState, WritePrecondition,
};

/// Data files on disk (everything below the data directory but the database).
fn data_files(dir: &Path) -> usize {
    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path)
                    } else {
                        usize::from(path.file_name().is_some_and(|n| n != "meta.redb"))
                    }
                })
                .sum()
        })
    }
    walk(dir)
}

fn new(key: &str) -> NewVersion {
    NewVersion {
        key: key.into(),
        etag: "e".into(),
        storage_class: leadshop_store::StorageClass::Standard,
        ..NewVersion::default()
    }
}

#[test]
fn a_committed_version_is_stamped_by_the_clock_and_a_refused_one_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(UNIX_EPOCH + Duration::from_secs(2_000_000_000));
    let store = Store::open_with_clock(dir.path(), None, clock.clone()).unwrap();
    support::create_bucket(&store, "b", VersioningState::Enabled);
    let before = data_files(dir.path());

    let out = store
        .commit_version("b", new("k"), support::write(&store, b"one"), None)
        .unwrap();
    assert_eq!(out.version.last_modified_ms, 2_000_000_000_000);
    assert_eq!(out.version.size, 3);
    assert_eq!(data_files(dir.path()), before + 1);

    clock.advance(Duration::from_secs(60));
    let refused = store.commit_version(
        "b",
        new("k"),
        support::write(&store, b"two"),
        Some(WritePrecondition::IfNoneMatchAny),
    );
    assert!(matches!(refused, Err(StoreError::PreconditionFailed(_))));
    let missing = store.commit_version("gone", new("k"), support::write(&store, b"3"), None);
    assert!(matches!(missing, Err(StoreError::NoSuchBucket(_))));
    assert_eq!(
        data_files(dir.path()),
        before + 1,
        "refused writes left files"
    );

    let again = store
        .commit_version("b", new("k"), support::write(&store, b"four"), None)
        .unwrap();
    assert_eq!(again.version.last_modified_ms, 2_000_000_060_000);
}

#[test]
fn a_part_for_a_missing_upload_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), None).unwrap());
    let before = data_files(dir.path());
    let part = NewPart {
        part_number: 1,
        etag: "e".into(),
        ..NewPart::default()
    };
    let refused = store.commit_part("no-such-upload", part, support::write(&store, b"part"));
    assert!(matches!(refused, Err(StoreError::NoSuchUpload(_))));
    assert_eq!(data_files(dir.path()), before);
}

#[test]
fn a_folder_whose_keys_are_all_deleted_is_not_listed_but_its_versions_are() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    support::create_bucket(&store, "b", VersioningState::Enabled);
    for key in ["ghost/a", "ghost/b", "live/a", "mixed/a", "mixed/b", "top"] {
        store
            .commit_version("b", new(key), support::write(&store, b"x"), None)
            .unwrap();
    }
    for key in ["ghost/a", "ghost/b", "mixed/a"] {
        store.delete_object("b", key, None).unwrap();
    }
    let list = |max_keys: usize, start_after: Option<&str>| {
        store
            .list_objects(
                "b",
                &leadshop_store::ListQuery {
                    prefix: String::new(),
                    delimiter: Some("/".into()),
                    start_after: start_after.map(String::from),
                    max_keys,
                },
            )
            .unwrap()
    };
    let page = list(1000, None);
    assert_eq!(page.common_prefixes, ["live/", "mixed/"]);
    assert_eq!(page.objects.len(), 1);
    assert!(!page.truncated);
    // A dead folder neither takes a place on a page nor makes the page look truncated.
    let first = list(1, None);
    assert_eq!(first.common_prefixes, ["live/"]);
    assert!(first.truncated);
    let last = list(1, Some("mixed/"));
    assert_eq!(
        last.objects
            .iter()
            .map(|o| o.key.as_str())
            .collect::<Vec<_>>(),
        ["top"]
    );
    assert!(!last.truncated);
    // The versions listing still shows the folder: its versions and markers are there.
    let versions = store
        .list_versions(
            "b",
            &leadshop_store::ListVersionsQuery {
                prefix: String::new(),
                delimiter: Some("/".into()),
                max_keys: 1000,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(versions.common_prefixes, ["ghost/", "live/", "mixed/"]);
}

#[test]
fn lifecycle_expiring_a_suspended_buckets_null_version_leaves_a_null_delete_marker() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    support::create_bucket(&store, "b", VersioningState::Enabled);
    let first = store
        .commit_version("b", new("k"), support::write(&store, b"one"), None)
        .unwrap()
        .version;
    store
        .update_bucket("b", |b| {
            b.versioning = VersioningState::Suspended;
            Ok(())
        })
        .unwrap();
    let null = store
        .commit_version("b", new("k"), support::write(&store, b"two"), None)
        .unwrap()
        .version;
    assert_eq!(null.version_id, "null");

    let applied = store
        .apply_lifecycle(
            vec![leadshop_store::LifecycleAction::ExpireCurrent {
                bucket: "b".into(),
                key: "k".into(),
                version_id: "null".into(),
            }],
            |applied| (Vec::new(), applied.to_vec()),
        )
        .unwrap();
    assert_eq!(applied, vec![true]);

    let page = store
        .list_versions(
            "b",
            &leadshop_store::ListVersionsQuery {
                max_keys: 10,
                ..Default::default()
            },
        )
        .unwrap();
    let seen: Vec<(String, bool, bool)> = page
        .versions
        .iter()
        .map(|(v, latest)| (v.version_id.clone(), v.delete_marker, *latest))
        .collect();
    // The null version is replaced by the null delete marker; the version written while
    // versioning was on stays, noncurrent.
    assert_eq!(
        seen,
        vec![
            ("null".to_string(), true, true),
            (first.version_id.clone(), false, false),
        ]
    );
}
