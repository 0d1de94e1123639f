//! Small objects kept inline: an object writer's data of at most `INLINE_MAX` bytes is
//! committed inside the metadata with its version (no data file), encrypted like a file's;
//! it reads back, survives a reopen and a backup, and goes with the last version that
//! references it (overwrite of a `null` version, delete of a version, a metadata-only change
//! keeps it). Larger data, and every part writer's, are files as before.

use std::path::Path;

use leadshop_store::data::INLINE_MAX;
use leadshop_store::{NewVersion, SealedData, Store, VersioningState};

mod support;

fn files(root: &Path) -> usize {
    let mut n = 0;
    for shard in std::fs::read_dir(root.join("objects")).unwrap() {
        n += std::fs::read_dir(shard.unwrap().path()).unwrap().count();
    }
    n
}

fn object(store: &Store, body: &[u8]) -> SealedData {
    let mut w = store.object_writer(None).unwrap();
    w.write(body).unwrap();
    w.seal().unwrap()
}

fn put(store: &Store, bucket: &str, key: &str, body: &[u8]) -> String {
    let new = NewVersion {
        key: key.into(),
        etag: "e".into(),
        storage_class: leadshop_store::StorageClass::Standard,
        ..NewVersion::default()
    };
    let out = store
        .commit_version(bucket, new, object(store, body), None)
        .unwrap();
    out.version.version_id
}

fn read(store: &Store, bucket: &str, key: &str, version: Option<&str>) -> Vec<u8> {
    let rec = store.get_version(bucket, key, version).unwrap();
    let seg = &rec.segments[0];
    store
        .read_segment(seg, None, 0, usize::try_from(seg.len).unwrap())
        .unwrap()
}

fn masters() -> leadshop_store::MasterKeys {
    leadshop_store::MasterKeys::new(leadshop_store::MasterKey {
        id: "mk-test".into(),
        key: leadshop_store::crypto::Key::from_bytes([9; 32]),
    })
}

#[test]
fn small_objects_live_in_the_metadata_encrypted_and_large_ones_in_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Some(masters())).unwrap();
    support::create_bucket(&store, "v", VersioningState::Enabled);
    let small = vec![7u8; usize::try_from(INLINE_MAX).unwrap()];
    let large = vec![8u8; usize::try_from(INLINE_MAX).unwrap() + 1];
    let sealed = object(&store, &small);
    let bytes = sealed.inline.as_ref().expect("kept inline");
    assert!(sealed.envelope.is_some(), "encrypted like a file");
    assert!(
        !bytes.windows(64).any(|w| w == &small[..64]),
        "no plaintext in the metadata"
    );
    assert!(
        object(&store, &large).inline.is_none(),
        "one byte over: a file"
    );
    // A part writer never keeps data inline.
    let mut w = store.writer().unwrap();
    w.write(b"part").unwrap();
    assert!(w.seal().unwrap().inline.is_none());

    let before = files(dir.path());
    let v1 = put(&store, "v", "small", &small);
    assert_eq!(files(dir.path()), before, "no data file for a small object");
    put(&store, "v", "large", &large);
    assert_eq!(files(dir.path()), before + 1);
    assert_eq!(read(&store, "v", "small", None), small);
    assert_eq!(read(&store, "v", "large", None), large);
    // A ranged read inside it.
    let rec = store.get_version("v", "small", None).unwrap();
    assert_eq!(
        store.read_segment(&rec.segments[0], None, 100, 10).unwrap(),
        vec![7u8; 10]
    );
    assert!(rec.segments[0].inline);

    // A metadata-only change (tags) keeps the data.
    store
        .update_version("v", "small", Some(v1.as_str()), |r| {
            r.tags.insert("t".into(), "1".into());
            Ok(())
        })
        .unwrap();
    assert_eq!(read(&store, "v", "small", Some(&v1)), small);

    // Reopened (and through a backup), the same bytes.
    drop(store);
    let store = Store::open(dir.path(), Some(masters())).unwrap();
    assert_eq!(read(&store, "v", "small", Some(&v1)), small);
    let copy = dir.path().join("backup");
    store.backup_to(&copy).unwrap();
    let restored = Store::open(&copy, Some(masters())).unwrap();
    assert_eq!(read(&restored, "v", "small", Some(&v1)), small);
}

#[test]
fn inline_data_goes_with_the_last_version_that_references_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    support::create_bucket(&store, "u", VersioningState::Unversioned);
    support::create_bucket(&store, "v", VersioningState::Enabled);
    // Overwriting the `null` version removes the old data with it.
    put(&store, "u", "k", b"first");
    let old = store.get_version("u", "k", None).unwrap().segments[0].clone();
    put(&store, "u", "k", b"second");
    let err = store.read_segment(&old, None, 0, 5).unwrap_err();
    assert!(
        err.to_string().contains("missing from the metadata"),
        "{err}"
    );
    assert_eq!(read(&store, "u", "k", None), b"second");
    // Deleting a version removes its data; a delete marker removes nothing.
    let v1 = put(&store, "v", "k", b"one");
    let seg = store.get_version("v", "k", Some(&v1)).unwrap().segments[0].clone();
    store.delete_object("v", "k", None).unwrap();
    assert_eq!(store.read_segment(&seg, None, 0, 3).unwrap(), b"one");
    store.delete_object("v", "k", Some(&v1)).unwrap();
    assert!(store.read_segment(&seg, None, 0, 3).is_err());
}

#[test]
fn a_read_with_the_record_brings_inline_data_and_decrypts_it_like_the_metadata_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Some(masters())).unwrap();
    support::create_bucket(&store, "v", VersioningState::Enabled);
    let small: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let large = vec![8u8; usize::try_from(INLINE_MAX).unwrap() + 1];
    let v1 = put(&store, "v", "k", &small);
    let v2 = put(&store, "v", "k", &large);

    // The newest version is a file: no bytes come with its record.
    let (rec, stored) = store.get_version_with_inline("v", "k", None).unwrap();
    assert_eq!(rec.version_id, v2);
    assert!(stored.is_none());

    // The older one is inline: its stored bytes come with it, encrypted, and decrypt to the
    // same bytes as the read that goes back to the metadata, for every range.
    let (rec, stored) = store.get_version_with_inline("v", "k", Some(&v1)).unwrap();
    let stored = stored.expect("inline data read with the record");
    assert!(
        !stored.windows(64).any(|w| w == &small[..64]),
        "still sealed"
    );
    let seg = &rec.segments[0];
    for (start, end) in [(0, small.len()), (0, 1), (17, 4096), (4999, 5000), (10, 10)] {
        let plain = store
            .read_inline_in_place(seg, stored.clone(), None, start as u64, end - start)
            .unwrap();
        assert_eq!(plain.into_vec(), &small[start..end], "{start}..{end}");
    }
    assert_eq!(read(&store, "v", "k", Some(&v1)), small);

    // Bytes that are not this segment's fail authentication, as damaged data does.
    let mut altered = stored.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let e = store
        .read_inline_in_place(seg, altered, None, 0, small.len())
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");

    // The refusals are get_version's.
    assert!(matches!(
        store.get_version_with_inline("nope", "k", None),
        Err(leadshop_store::StoreError::NoSuchBucket(_))
    ));
    assert!(matches!(
        store.get_version_with_inline("v", "missing", None),
        Err(leadshop_store::StoreError::NoSuchKey { .. })
    ));
}
