//! Helpers shared by the engine's tests and benchmarks.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;

use leadshop_store::{BucketRecord, SealedData, Segment, Store, VersionRecord, VersioningState};

/// Writes `data` to a new (encrypted, with a master key) data file.
pub fn write(store: &Store, data: &[u8]) -> SealedData {
    let mut w = store.writer().expect("writer");
    w.write(data).expect("write");
    w.seal().expect("seal")
}

/// A version of `key` whose one segment is `data`.
pub fn record(key: &str, data: SealedData) -> VersionRecord {
    VersionRecord {
        key: key.into(),
        version_id: String::new(),
        delete_marker: false,
        last_modified_ms: 0,
        size: data.len,
        etag: format!("{:x}", data.len),
        storage_class: leadshop_store::StorageClass::Standard,
        checksums: Default::default(),
        headers: Default::default(),
        metadata: BTreeMap::new(),
        tags: BTreeMap::new(),
        segments: vec![Segment {
            file: data.file,
            len: data.len,
            envelope: data.envelope,
            part_checksums: None,
            inline: false,
        }],
        encryption: None,
        restore: None,
        retention: None,
        legal_hold: false,
        acl: None,
        replication: None,
        replica_of: None,
    }
}

/// Creates bucket `name`.
pub fn create_bucket(store: &Store, name: &str, versioning: VersioningState) {
    store
        .create_bucket(&BucketRecord {
            name: name.into(),
            created_ms: 0,
            region: "us-east-1".into(),
            versioning,
            documents: BTreeMap::new(),
        })
        .expect("create bucket");
}
