//! The migration of version records to format 2 ([`crate::record`]), at the first start of a
//! build that writes it on a database written before: the metadata is rebuilt into a new file
//! in key order, every format 1 (JSON) version re-encoded, and renamed over the old one.
//!
//! Rewriting records in place would leave the database as large as before (a B-tree's leaves
//! do not merge when their records shrink: measured at 1,000,000 versions, 333,164 leaf
//! pages before and after); a rebuild in key order packs them (66,667). It costs one pass over
//! the metadata, once: 4–5 s per million versions (docs/BENCHMARKS.md).
//!
//! Crash-safe: the new file is written beside the old one (`meta.redb.rebuild`), committed
//! (fsynced), then renamed over `meta.redb` and the directory fsynced. A crash before the
//! rename leaves the old database whole and a partial new file, removed at the next start,
//! which rebuilds again; after it, the new database is whole and says it is in format 2
//! (`META["versions_format"]`), so no later start rebuilds.

use std::ops::Bound;
use std::path::Path;
use std::time::Instant;

use redb::{Database, ReadableDatabase, TableHandle as _};

use super::backup::{TABLES, copy_table, sync_dir};
use super::datapoints::DATAPOINTS;
use super::lifecycle::LIFECYCLE;
use super::replication::{REPLICATION_BACKFILL, REPLICATION_FAILED, REPLICATION_QUEUE};
use super::usage::USAGE;
use super::{BUCKETS, DEFAULT_METADATA_CACHE_BYTES, INLINE, META, PARTS, Store, UPLOADS, VERSIONS};
use crate::StoreError;
use crate::record::{self, FORMAT_COMPACT, VersionRecord};

/// `META` key: the format every version record is in (absent: some may be format 1).
pub(super) const VERSIONS_FORMAT: &str = "versions_format";

/// Versions per transaction of the rebuild (bounds the memory its dirty pages take).
const REBUILD_BATCH: usize = 20_000;

/// The file a rebuild writes before it is renamed over the metadata.
const REBUILD_FILE: &str = "meta.redb.rebuild";

/// Rebuilds `meta` (in `root`) in format 2 when it holds versions of an earlier format.
/// Returns how many versions it re-encoded (0: nothing to do).
pub(super) fn migrate_at_open(root: &Path, meta: &Path) -> Result<u64, StoreError> {
    Ok(rebuild(root, meta, false)?.map_or(0, |(reencoded, _)| reencoded))
}

/// What [`Store::compact_metadata`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactReport {
    /// Versions copied.
    pub versions: u64,
    /// Size of `meta.redb` before.
    pub bytes_before: u64,
    /// Size after.
    pub bytes_after: u64,
}

impl Store {
    /// Rebuilds the metadata of the (stopped) store in `root` in key order, as the migration
    /// does: pages that splits left half full are packed again (a store written by
    /// concurrent writers holds about twice its records' size; docs/BENCHMARKS.md). Crash-safe
    /// like the migration.
    ///
    /// # Errors
    /// The store is open elsewhere (a running server holds its lock), there is no metadata in
    /// `root`, or an I/O or metadata error.
    pub fn compact_metadata(root: &Path) -> Result<CompactReport, StoreError> {
        let meta = root.join(super::METADATA_FILE);
        let bytes_before = std::fs::metadata(&meta)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", meta.display())))?
            .len();
        let (_, versions) = rebuild(root, &meta, true)?.unwrap_or_default();
        Ok(CompactReport {
            versions,
            bytes_before,
            bytes_after: std::fs::metadata(&meta)?.len(),
        })
    }
}

/// The rebuild: with `force`, also of a database already in format 2. `None`: nothing done;
/// else (re-encoded, copied) versions.
fn rebuild(root: &Path, meta: &Path, force: bool) -> Result<Option<(u64, u64)>, StoreError> {
    let rebuild = root.join(REBUILD_FILE);
    if !meta.exists() {
        remove_stale(&rebuild)?;
        return Ok(None);
    }
    let started = Instant::now();
    let (reencoded, total) = {
        // Opened first: its lock keeps a second process (a server, another compaction) out
        // before anything is touched.
        let old = Database::builder()
            .set_cache_size(DEFAULT_METADATA_CACHE_BYTES)
            .create(meta)?;
        remove_stale(&rebuild)?;
        let tx = old.begin_read()?;
        let marker = match tx.open_table(META) {
            Ok(t) => t.get(VERSIONS_FORMAT)?.map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if marker == Some(u64::from(FORMAT_COMPACT)) && !force {
            return Ok(None);
        }
        // A table this build does not know would be lost by the rebuild.
        for table in tx.list_tables()? {
            if !TABLES.contains(&table.name()) {
                return Err(StoreError::Corrupt(format!(
                    "the metadata holds a table {:?} this build does not know; not rebuilt",
                    table.name()
                )));
            }
        }
        let new = Database::builder()
            .set_cache_size(DEFAULT_METADATA_CACHE_BYTES)
            .create(&rebuild)?;
        let counts = copy_versions(&tx, &new)?;
        let w = new.begin_write()?;
        copy_table(&tx, &w, META)?;
        copy_table(&tx, &w, BUCKETS)?;
        copy_table(&tx, &w, UPLOADS)?;
        copy_table(&tx, &w, PARTS)?;
        copy_table(&tx, &w, LIFECYCLE)?;
        copy_table(&tx, &w, DATAPOINTS)?;
        copy_table(&tx, &w, USAGE)?;
        copy_table(&tx, &w, INLINE)?;
        copy_table(&tx, &w, REPLICATION_QUEUE)?;
        copy_table(&tx, &w, REPLICATION_FAILED)?;
        copy_table(&tx, &w, REPLICATION_BACKFILL)?;
        w.open_table(META)?
            .insert(VERSIONS_FORMAT, u64::from(FORMAT_COMPACT))?;
        w.commit()?;
        counts
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&rebuild, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&rebuild, meta)?;
    sync_dir(root)?;
    tracing::info!(
        versions = total,
        reencoded,
        seconds = started.elapsed().as_secs_f64(),
        "rebuilt the metadata in key order, version records in format 2"
    );
    Ok(Some((reencoded, total)))
}

fn remove_stale(rebuild: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(rebuild) {
        Ok(()) => {
            tracing::warn!("removed a metadata rebuild a crash interrupted");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Copies the versions table in key order, in batches, re-encoding format 1 records; returns
/// (re-encoded, copied).
fn copy_versions(from: &redb::ReadTransaction, to: &Database) -> Result<(u64, u64), StoreError> {
    let src = match from.open_table(VERSIONS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok((0, 0)),
        Err(e) => return Err(e.into()),
    };
    let (mut reencoded, mut total) = (0, 0);
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let start = cursor.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let w = to.begin_write()?;
        let mut last = None;
        {
            let mut dst = w.open_table(VERSIONS)?;
            for entry in src
                .range::<&[u8]>((start, Bound::Unbounded))?
                .take(REBUILD_BATCH)
            {
                let (k, v) = entry?;
                if record::format_of(v.value()) == Some(FORMAT_COMPACT) {
                    dst.insert(k.value(), v.value())?;
                } else {
                    let rec: VersionRecord = record::decode(v.value())?;
                    dst.insert(k.value(), record::encode(&rec).as_slice())?;
                    reencoded += 1;
                }
                total += 1;
                last = Some(k.value().to_vec());
            }
        }
        w.commit()?;
        match last {
            Some(k) => cursor = Some(k),
            None => return Ok((reencoded, total)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use redb::{ReadableDatabase, ReadableTable};

    use super::*;

    use crate::record::{
        BucketRecord, Checksums, ContentHeaders, Envelope, Restore, Segment, SseAlgorithm,
        VersioningState, encode_version_json,
    };
    use crate::{FileId, Retention, keys};

    /// A version with every field set, as a full-featured object would have it.
    fn full(key: &str, i: u64) -> VersionRecord {
        let mut rec = VersionRecord::delete_marker(key, 1_764_979_200_000 + i as i64);
        rec.delete_marker = false;
        rec.version_id = format!("{i:016x}{:016x}", i * 7919);
        rec.size = 5 * 1024 * 1024 + i;
        rec.etag = format!("{:032x}-2", i);
        rec.storage_class = crate::StorageClass::StandardIa;
        rec.checksums = Checksums {
            crc64nvme: Some("AAAAAAAAAAA=".into()),
            checksum_type: Some(crate::ChecksumType::FullObject),
            ..Checksums::default()
        };
        rec.headers = ContentHeaders {
            content_type: Some("application/pdf".into()),
            cache_control: Some("max-age=60".into()),
            expires: Some("Thu, 01 Dec 2094 16:00:00 GMT".into()),
            ..ContentHeaders::default()
        };
        rec.metadata = BTreeMap::from([("lead".into(), "42".into()), ("é".into(), String::new())]);
        rec.tags = BTreeMap::from([("class".into(), "report".into())]);
        rec.segments = (0..2)
            .map(|p| Segment {
                file: FileId::random(),
                len: 5 * 1024 * 1024,
                envelope: Some(Envelope {
                    format: 2,
                    algorithm: SseAlgorithm::KmsDsse,
                    key_id: "kms-key-1".into(),
                    wrapped_key: "00ff".repeat(30),
                    context: Some(r#"{"a":"b"}"#.into()),
                    outer_wrapped_key: Some("AB-not-hex".into()),
                }),
                part_checksums: (p == 1).then(|| Checksums {
                    crc32: Some("AAAAAA==".into()),
                    ..Checksums::default()
                }),
                inline: p == 0,
            })
            .collect();
        rec.encryption = Some(serde_json::json!({"legacy": true}));
        rec.restore = Some(Restore {
            ready_ms: -5,
            expiry_ms: i64::MAX,
        });
        rec.retention = Some(Retention {
            mode: "GOVERNANCE".into(),
            until_ms: 1,
        });
        rec.legal_hold = true;
        rec.acl = Some(serde_json::json!({"Grants": []}));
        rec
    }

    fn same(a: &VersionRecord, b: &VersionRecord) -> bool {
        serde_json::to_value(a).unwrap() == serde_json::to_value(b).unwrap()
    }

    #[test]
    fn format_2_round_trips_every_field_and_is_a_fraction_of_json() {
        let marker = {
            let mut m = VersionRecord::delete_marker("gone", -1);
            m.version_id = "null".into();
            m
        };
        for rec in [full("reports/a.pdf", 3), marker] {
            let bytes = record::encode(&rec);
            assert_eq!(record::format_of(&bytes), Some(FORMAT_COMPACT));
            let back: VersionRecord = record::decode(&bytes).unwrap();
            assert!(same(&rec, &back), "{rec:?}\n{back:?}");
            // Format 1 still reads, to the same record.
            let json = encode_version_json(&rec);
            assert!(same(&rec, &record::decode(&json).unwrap()));
            assert!(
                bytes.len() * 2 < json.len(),
                "{} vs {}",
                bytes.len(),
                json.len()
            );
        }
    }

    #[test]
    fn damaged_format_2_records_are_errors_never_panics() {
        let bytes = record::encode(&full("k", 1));
        // Every cut, and every byte flipped: an error or some record, never a panic.
        for cut in 2..bytes.len() {
            let _ = record::decode::<VersionRecord>(&bytes[..cut]);
        }
        for i in 2..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                let _ = record::decode::<VersionRecord>(&b);
            }
        }
        let mut unknown = bytes[..2].to_vec();
        unknown.extend_from_slice(&[99, 0]);
        let err = record::decode::<VersionRecord>(&unknown).unwrap_err();
        assert!(err.to_string().contains("field 99 is not known"), "{err}");
        let mut long = bytes[..2].to_vec();
        long.extend_from_slice(&[
            1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ]);
        assert!(record::decode::<VersionRecord>(&long).is_err());
    }

    fn versioned_bucket(store: &Store) {
        store
            .create_bucket(&BucketRecord {
                name: "b".into(),
                created_ms: 0,
                region: "us-east-1".into(),
                versioning: VersioningState::Enabled,
                documents: BTreeMap::new(),
            })
            .unwrap();
    }

    /// A database as builds before format 2 left it: versions in JSON, no format marker.
    fn written_by_the_previous_format(root: &std::path::Path, n: u64) -> Vec<VersionRecord> {
        let store = Store::open(root, None).unwrap();
        versioned_bucket(&store);
        let recs: Vec<_> = (0..n).map(|i| full(&format!("k/{i:05}"), i)).collect();
        let tx = store.db.begin_write().unwrap();
        {
            let mut versions = tx.open_table(VERSIONS).unwrap();
            for (i, rec) in recs.iter().enumerate() {
                let key = keys::version_key("b", &rec.key, i as u64 + 1);
                versions
                    .insert(key.as_slice(), encode_version_json(rec).as_slice())
                    .unwrap();
            }
            tx.open_table(META)
                .unwrap()
                .remove(VERSIONS_FORMAT)
                .unwrap();
        }
        tx.commit().unwrap();
        store.recount_usage().unwrap();
        recs
    }

    #[test]
    fn a_database_of_json_versions_is_rebuilt_in_format_2_smaller_and_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let recs = written_by_the_previous_format(dir.path(), 3_000);
        let meta = dir.path().join("meta.redb");
        let leaf_pages_before = {
            let db = Database::open(&meta).unwrap();
            let stats = db.begin_write().unwrap().stats().unwrap();
            stats.leaf_pages()
        };
        let store = Store::open(dir.path(), None).unwrap();
        let tx = store.db.begin_read().unwrap();
        let mut n = 0;
        for entry in tx.open_table(VERSIONS).unwrap().iter().unwrap() {
            let (_, v) = entry.unwrap();
            assert_eq!(record::format_of(v.value()), Some(FORMAT_COMPACT));
            n += 1;
        }
        assert_eq!(n, 3_000);
        for rec in &recs {
            assert!(same(rec, &store.get_version("b", &rec.key, None).unwrap()));
        }
        // The usage totals came along: a recount finds nothing to change.
        assert!(!store.recount_usage().unwrap());
        let marker = tx.open_table(META).unwrap().get(VERSIONS_FORMAT).unwrap();
        assert_eq!(marker.map(|v| v.value()), Some(2));
        drop(tx);
        drop(store);
        let stats = Database::open(&meta)
            .unwrap()
            .begin_write()
            .unwrap()
            .stats()
            .unwrap();
        assert!(
            stats.leaf_pages() * 2 < leaf_pages_before,
            "{} leaf pages after, {leaf_pages_before} before",
            stats.leaf_pages()
        );
        // Once: the next open finds the marker and rebuilds nothing.
        assert_eq!(migrate_at_open(dir.path(), &meta).unwrap(), 0);
    }

    #[test]
    fn a_rebuild_a_crash_interrupted_is_thrown_away_and_done_again() {
        let dir = tempfile::tempdir().unwrap();
        let recs = written_by_the_previous_format(dir.path(), 700);
        // What a kill before the rename leaves: a partial new file beside the old database.
        std::fs::write(dir.path().join(REBUILD_FILE), b"half a database").unwrap();
        let store = Store::open(dir.path(), None).unwrap();
        assert!(!dir.path().join(REBUILD_FILE).exists());
        for rec in &recs {
            assert!(same(rec, &store.get_version("b", &rec.key, None).unwrap()));
        }
        drop(store);
        assert_eq!(
            migrate_at_open(dir.path(), &dir.path().join("meta.redb")).unwrap(),
            0
        );
    }

    #[test]
    fn compaction_packs_a_database_its_writers_left_half_full_and_is_refused_while_open() {
        let dir = tempfile::tempdir().unwrap();
        let recs: Vec<_> = (0..4_000u64)
            .map(|i| full(&format!("k/{:03}/{i:06}", i % 100), i))
            .collect();
        {
            let store = Store::open(dir.path(), None).unwrap();
            versioned_bucket(&store);
            // Appends at the ends of many key ranges: every split leaves a page half full.
            for rec in &recs {
                store.put_version("b", rec.clone(), None).unwrap();
            }
            let err = Store::compact_metadata(dir.path()).unwrap_err();
            assert!(err.to_string().contains("already open"), "{err}");
        }
        let r = Store::compact_metadata(dir.path()).unwrap();
        assert_eq!(r.versions, 4_000);
        assert!(r.bytes_after < r.bytes_before, "{r:?}");
        let store = Store::open(dir.path(), None).unwrap();
        for rec in recs.iter().step_by(37) {
            let mut got = store.get_version("b", &rec.key, None).unwrap();
            got.version_id.clone_from(&rec.version_id);
            assert!(same(rec, &got));
        }
    }

    #[test]
    fn a_new_database_needs_no_migration() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).unwrap();
        let tx = store.db.begin_read().unwrap();
        let marker = tx.open_table(META).unwrap().get(VERSIONS_FORMAT).unwrap();
        assert_eq!(marker.map(|v| v.value()), Some(2));
    }
}
