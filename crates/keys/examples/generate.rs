//! A data directory at scale, written through the engine (no HTTP): `N` versions of 16-byte
//! objects in bucket `scale` (keys `reports/NNN/NNNNNNNN.pdf`, 1,000 prefixes; each object
//! encrypted under the directory's master key, with an MD5 ETag, a CRC64NVME checksum and a
//! content type, kept inline in the metadata, as a PUT from boto3 leaves it), written by 8 threads sharing group commits;
//! and `--buckets K` more buckets of one object each. `leadshop serve --data-dir DIR` then
//! serves it (its master key is `DIR/master.key`).
//!
//! `cargo run --release --ignore-rust-version -p leadshop-keys --example generate -- 1000000 DIR [--buckets 10000]`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use leadshop_keys::master_key;
use leadshop_store::{
    BucketRecord, ChecksumType, Checksums, ContentHeaders, MasterKeys, NewVersion, Store,
    VersioningState,
};

/// Every object's body, and its MD5 and CRC64NVME (as boto3 computes them): the scrubber
/// verifies both, so they are the real ones.
const BODY: &[u8; 16] = b"0123456789abcdef";
const BODY_MD5: &str = "4032af8d61035123906e58e067140cc5";
const BODY_CRC64NVME: &str = "CRSFynAYcw4=";

fn put(store: &Store, bucket: &str, key: &str, body: &[u8]) {
    // As PutObject writes since small objects are inline: data of at most 16 KiB is committed
    // with its version, larger data is a file.
    let mut w = store.object_writer(None).expect("writer");
    w.write(body).expect("write");
    let sealed = w.seal().expect("seal");
    let new = NewVersion {
        key: key.into(),
        etag: BODY_MD5.into(),
        storage_class: leadshop_store::StorageClass::Standard,
        checksums: Checksums {
            crc64nvme: Some(BODY_CRC64NVME.into()),
            checksum_type: Some(ChecksumType::FullObject),
            ..Checksums::default()
        },
        headers: ContentHeaders {
            content_type: Some("application/pdf".into()),
            ..ContentHeaders::default()
        },
        ..NewVersion::default()
    };
    store
        .commit_version(bucket, new, sealed, None)
        .expect("commit");
}

fn bucket(store: &Store, name: &str) {
    store
        .create_bucket(&BucketRecord {
            name: name.into(),
            created_ms: store.clock().now_ms(),
            region: "us-east-1".into(),
            versioning: VersioningState::Enabled,
            documents: BTreeMap::new(),
        })
        .expect("create bucket");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: generate N DIR [--buckets K]";
    let n: usize = args.first().and_then(|a| a.parse().ok()).expect(usage);
    let dir = PathBuf::from(args.get(1).expect(usage));
    let extra: usize = match args.get(2).map(String::as_str) {
        Some("--buckets") => args.get(3).and_then(|a| a.parse().ok()).expect(usage),
        _ => 0,
    };
    let key = master_key::load_or_create(&dir.join("master.key")).expect("master key");
    let store = Arc::new(Store::open(&dir, Some(MasterKeys::new(key))).expect("store"));
    let started = std::time::Instant::now();
    bucket(&store, "scale");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in (t..n).step_by(8) {
                    put(
                        &store,
                        "scale",
                        &format!("reports/{:03}/{i:08}.pdf", i % 1000),
                        BODY,
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    for i in 0..extra {
        let name = format!("bucket-{i:05}");
        bucket(&store, &name);
        put(&store, &name, "one.pdf", BODY);
    }
    let meta = std::fs::metadata(dir.join("meta.redb"))
        .expect("meta")
        .len();
    println!(
        "{n} versions in scale and {extra} more buckets written in {:.1} s; meta.redb {meta} bytes ({:.0} per version)",
        started.elapsed().as_secs_f64(),
        meta as f64 / (n + extra).max(1) as f64
    );
}
