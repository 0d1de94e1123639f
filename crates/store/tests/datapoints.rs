//! Metric datapoints: merged or replaced per series and timestamp, read back by range,
//! listed per series, pruned by age, kept across a reopen; and storage usage by class.

mod support;

use leadshop_store::{Stat, Store, VersioningState};

#[test]
fn datapoints_merge_replace_list_prune_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    assert!(store.series().unwrap().is_empty());
    store
        .record_datapoints(
            vec![
                ("a".into(), 60_000, Stat::one(2.0)),
                ("a".into(), 120_000, Stat::one(5.0)),
                ("b".into(), 60_000, Stat::one(1.0)),
            ],
            true,
        )
        .unwrap();
    // Merged: count, sum, min and max of both values.
    store
        .record_datapoints(vec![("a".into(), 60_000, Stat::one(4.0))], true)
        .unwrap();
    let a = store.datapoints("a", 0, i64::MAX).unwrap();
    assert_eq!(
        a,
        vec![
            (
                60_000,
                Stat {
                    count: 2.0,
                    sum: 6.0,
                    min: 2.0,
                    max: 4.0
                }
            ),
            (120_000, Stat::one(5.0)),
        ]
    );
    // Replaced (a gauge sampled again).
    store
        .record_datapoints(vec![("b".into(), 60_000, Stat::one(9.0))], false)
        .unwrap();
    assert_eq!(
        store.datapoints("b", 0, 60_001).unwrap(),
        vec![(60_000, Stat::one(9.0))]
    );
    assert_eq!(store.datapoints("a", 100_000, 200_000).unwrap().len(), 1);
    assert_eq!(
        store.series().unwrap(),
        vec![("a".to_string(), 120_000), ("b".to_string(), 60_000)]
    );
    drop(store);
    let store = Store::open(dir.path(), None).unwrap();
    assert_eq!(store.datapoints("a", 0, i64::MAX).unwrap().len(), 2);
    // Prune: `a` keeps what is from 100,000 on, `b` everything.
    let removed = store
        .prune_datapoints(|s| if s == "a" { 100_000 } else { 0 })
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        store.datapoints("a", 0, i64::MAX).unwrap(),
        vec![(120_000, Stat::one(5.0))]
    );
    assert_eq!(store.datapoints("b", 0, i64::MAX).unwrap().len(), 1);
}

#[test]
fn storage_usage_counts_every_version_by_class_and_no_delete_marker() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    support::create_bucket(&store, "b", VersioningState::Enabled);
    support::create_bucket(&store, "empty", VersioningState::Enabled);
    for data in [&b"one"[..], b"three"] {
        let sealed = support::write(&store, data);
        store
            .put_version("b", support::record("k", sealed), None)
            .unwrap();
    }
    let sealed = support::write(&store, b"cold data");
    let mut cold = support::record("c", sealed);
    cold.storage_class = leadshop_store::StorageClass::GlacierIr;
    store.put_version("b", cold, None).unwrap();
    store.delete_object("b", "k", None).unwrap();
    let usage = store.storage_usage().unwrap();
    assert!(usage["empty"].is_empty());
    let b = &usage["b"];
    assert_eq!((b["STANDARD"].bytes, b["STANDARD"].objects), (8, 2));
    assert_eq!((b["GLACIER_IR"].bytes, b["GLACIER_IR"].objects), (9, 1));
}
