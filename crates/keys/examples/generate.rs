//! A data directory at scale, written through the engine (no HTTP): `N` versions of 16-byte
//! objects in bucket `b` (keys `reports/NNN/NNNNNNNN.pdf`, 1,000 prefixes; each object
//! encrypted under the directory's master key, with an MD5 ETag, a CRC64NVME checksum and a
//! content type, as a PUT from boto3 leaves it), written by 8 threads sharing group commits;
//! and `--buckets K` more buckets of one object each. `leadshop serve --data-dir DIR` then
//! serves it (its master key is `DIR/master.key`).
//!
//! `cargo run --release --ignore-rust-version -p leadshop-keys --example generate -- 1000000 DIR [--buckets 10000]`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use leadshop_keys::master_key;
use leadshop_store::{BucketRecord, MasterKeys, Segment, Store, VersionRecord, VersioningState};

fn put(store: &Store, bucket: &str, key: &str, body: &[u8]) {
    let mut w = store.writer().expect("writer");
    w.write(body).expect("write");
    let sealed = w.seal().expect("seal");
    let mut rec = VersionRecord::delete_marker(key, store.clock().now_ms());
    rec.delete_marker = false;
    rec.size = sealed.len;
    rec.etag = hex::encode(rand::random::<[u8; 16]>());
    rec.checksums.crc64nvme = Some("AAAAAAAAAAA=".into());
    rec.headers.content_type = Some("application/pdf".into());
    rec.segments = vec![Segment {
        file: sealed.file,
        len: sealed.len,
        envelope: sealed.envelope,
        part_checksums: None,
        inline: false,
    }];
    store.put_version(bucket, rec, None).expect("put");
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
    bucket(&store, "b");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in (t..n).step_by(8) {
                    put(
                        &store,
                        "b",
                        &format!("reports/{:03}/{i:08}.pdf", i % 1000),
                        b"0123456789abcdef",
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
        put(&store, &name, "one.pdf", b"0123456789abcdef");
    }
    let meta = std::fs::metadata(dir.join("meta.redb"))
        .expect("meta")
        .len();
    println!(
        "{n} versions in b and {extra} more buckets written in {:.1} s; meta.redb {meta} bytes ({:.0} per version)",
        started.elapsed().as_secs_f64(),
        meta as f64 / (n + extra).max(1) as f64
    );
}
