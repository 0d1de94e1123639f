//! The [`Store`]: buckets, object versions, listings and multipart uploads over redb.

use std::collections::HashSet;
use std::io;
use std::ops::Bound;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use crate::clock::{SharedClock, SystemClock};
use crate::data::{self, DataDirs, DataWriter};
use crate::group::GroupCommit;
use crate::keys;
use crate::masters::{self, MasterKeys};
use crate::record::{
    self, BucketRecord, PartRecord, Segment, UploadRecord, VersionRecord, VersioningState,
};
use crate::write::CompletedObject;
use crate::{FileId, NULL_VERSION_ID, StoreError};

/// Engine-wide counters and the schema version.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// bucket name → [`BucketRecord`].
const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
/// [`keys::version_key`] → [`VersionRecord`].
pub(crate) const VERSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("versions");
/// upload id → [`UploadRecord`].
const UPLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("uploads");
/// [`keys::part_key`] → [`PartRecord`].
pub(crate) const PARTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("parts");

/// Page cache of the metadata database.
const METADATA_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Schema version of the metadata database. DO NOT CHANGE the meaning of 1.
const SCHEMA_VERSION: u64 = 1;

/// The storage engine. Cheap to share behind an `Arc`; all methods are synchronous and may
/// block on disk I/O, so async callers run them on a blocking thread.
#[derive(Debug)]
pub struct Store {
    pub(crate) db: Database,
    dirs: DataDirs,
    pub(crate) group: GroupCommit,
    pub(crate) master: Option<MasterKeys>,
    clock: SharedClock,
}

/// A condition a write must meet, checked in the same transaction as the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WritePrecondition {
    /// `If-None-Match: *`: only if the key has no current version.
    IfNoneMatchAny,
    /// `If-Match: "etag"`: only if the current version has this ETag.
    IfMatch(String),
}

/// Result of a write that created a version.
#[derive(Debug, Clone)]
pub struct PutOutcome {
    /// The stored version.
    pub version: VersionRecord,
    /// The bucket's versioning state at the time of the write.
    pub versioning: VersioningState,
}

/// Result of a DeleteObject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// Version id removed or created (a delete marker), if the bucket is versioned.
    pub version_id: Option<String>,
    /// Whether a delete marker was created or removed.
    pub delete_marker: bool,
}

/// What ListObjects(V2) asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Group keys by the first occurrence of this after the prefix.
    pub delimiter: Option<String>,
    /// Only keys (and common prefixes) strictly after this.
    pub start_after: Option<String>,
    /// At most this many keys plus common prefixes.
    pub max_keys: usize,
}

/// One page of ListObjects(V2).
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Current versions of the keys, in key order.
    pub objects: Vec<VersionRecord>,
    /// Common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more entries follow.
    pub truncated: bool,
    /// The last key or common prefix returned (the next marker when truncated).
    pub last: Option<String>,
}

/// What ListObjectVersions asks for.
#[derive(Debug, Clone, Default)]
pub struct ListVersionsQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Group keys by the first occurrence of this after the prefix.
    pub delimiter: Option<String>,
    /// Start after this key (or within it, with `version_id_marker`).
    pub key_marker: Option<String>,
    /// Start after this version of `key_marker`.
    pub version_id_marker: Option<String>,
    /// At most this many versions plus common prefixes.
    pub max_keys: usize,
}

/// One page of ListObjectVersions.
#[derive(Debug, Clone, Default)]
pub struct ListVersionsPage {
    /// Versions and delete markers with their "is latest" flag, keys ascending, newest first.
    pub versions: Vec<(VersionRecord, bool)>,
    /// Common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more entries follow.
    pub truncated: bool,
    /// Where the next page starts: (key, version id) of the last version returned, or the last
    /// common prefix with no version id.
    pub next: Option<(String, Option<String>)>,
}

/// A part named in CompleteMultipartUpload.
#[derive(Debug, Clone)]
pub struct CompletePart {
    /// Part number.
    pub part_number: i32,
    /// ETag the client has for it, without quotes.
    pub etag: String,
}

/// Minimum size of every part but the last, as on AWS.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

impl Store {
    /// The clock that stamps records; handlers and workers take their time from it too.
    #[must_use]
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Opens (or creates) the engine in `root`, then removes orphan data files left by a crash.
    /// With a master key every new data file is encrypted (SSE-S3); without one (benchmarks
    /// only) files are plaintext. Reading an encrypted file needs the key it was wrapped with.
    ///
    /// # Errors
    /// The database cannot be opened (e.g. another process holds it), or the data
    /// directory cannot be read or written.
    pub fn open(root: &Path, master: Option<MasterKeys>) -> Result<Self, StoreError> {
        Self::open_with_clock(root, master, std::sync::Arc::new(SystemClock))
    }

    /// [`Store::open`] with the clock that stamps its records (a test clock in tests).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with_clock(
        root: &Path,
        master: Option<MasterKeys>,
        clock: SharedClock,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root)?;
        let dirs = DataDirs::create(root)?;
        // redb caches pages up to this size; its default (1 GiB) would let RSS grow with the
        // database. Metadata records are small: 64 MiB holds a few hundred thousand.
        let meta = root.join("meta.redb");
        let db = Database::builder()
            .set_cache_size(METADATA_CACHE_BYTES)
            .create(&meta)?;
        // Object names, tags and key metadata: the owner's only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&meta, std::fs::Permissions::from_mode(0o600))?;
        }
        let store = Self {
            db,
            dirs,
            group: GroupCommit::default(),
            master,
            clock,
        };
        store.init_schema()?;
        let referenced = store.referenced_files()?;
        let removed = store.dirs.remove_orphans(|id| referenced.contains(&id))?;
        if removed > 0 {
            tracing::info!(
                removed,
                "removed orphan data files left by an interrupted write"
            );
        }
        Ok(store)
    }

    fn init_schema(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let version = meta.get("schema_version")?.map(|v| v.value());
            match version {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(v) => {
                    return Err(StoreError::Corrupt(format!(
                        "metadata schema {v} is not known to this build (expects {SCHEMA_VERSION})"
                    )));
                }
            }
            tx.open_table(BUCKETS)?;
            tx.open_table(VERSIONS)?;
            tx.open_table(UPLOADS)?;
            tx.open_table(PARTS)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn referenced_files(&self) -> Result<HashSet<FileId>, StoreError> {
        let tx = self.db.begin_read()?;
        let mut set = HashSet::new();
        for entry in tx.open_table(VERSIONS)?.iter()? {
            let (_, v) = entry?;
            let rec: VersionRecord = record::decode(v.value())?;
            set.extend(rec.segments.iter().map(|s| s.file));
        }
        for entry in tx.open_table(PARTS)?.iter()? {
            let (_, v) = entry?;
            let rec: PartRecord = record::decode(v.value())?;
            set.insert(rec.file);
        }
        Ok(set)
    }

    /// Starts a new data file.
    ///
    /// # Errors
    /// The temp file cannot be created.
    pub fn writer(&self) -> io::Result<DataWriter> {
        let master = self.master.as_ref().map(MasterKeys::current);
        DataWriter::create(&self.dirs, master.as_deref(), None)
    }

    /// Starts a new data file whose data key is wrapped by another key than the master key
    /// (SSE-C, SSE-KMS); reading it back needs the same key.
    ///
    /// # Errors
    /// The temp file cannot be created.
    pub fn writer_wrapped(&self, wrapping: crate::data::Wrapping<'_>) -> io::Result<DataWriter> {
        let master = self.master.as_ref().map(MasterKeys::current);
        DataWriter::create(&self.dirs, master.as_deref(), Some(wrapping))
    }

    /// Removes a sealed data file that no commit references (the write was refused).
    pub fn discard(&self, file: FileId) {
        self.dirs.remove(file);
    }

    /// Reads `len` bytes of object data at `offset` within a segment, decrypting as needed.
    ///
    /// # Errors
    /// I/O errors; `InvalidData` when the data fails authentication or is of unknown format.
    pub fn read_segment(
        &self,
        segment: &Segment,
        wrapping_key: Option<&crate::crypto::Key>,
        offset: u64,
        len: usize,
    ) -> io::Result<Vec<u8>> {
        data::read_segment(
            &self.dirs.path(segment.file),
            segment,
            self.master.as_ref(),
            wrapping_key,
            offset,
            len,
        )
    }

    // ---- buckets -------------------------------------------------------------------------

    /// Creates a bucket.
    ///
    /// # Errors
    /// [`StoreError::BucketAlreadyExists`] if the name is taken.
    pub fn create_bucket(&self, rec: &BucketRecord) -> Result<(), StoreError> {
        let rec = rec.clone();
        self.group.run(&self.db, move |tx| {
            let mut buckets = tx.open_table(BUCKETS)?;
            if buckets.get(rec.name.as_str())?.is_some() {
                return Err(StoreError::BucketAlreadyExists(rec.name.clone()));
            }
            buckets.insert(rec.name.as_str(), record::encode(&rec).as_slice())?;
            Ok(())
        })
    }

    /// One bucket.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`].
    pub fn bucket(&self, name: &str) -> Result<BucketRecord, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(BUCKETS)?;
        let rec = table
            .get(name)?
            .ok_or_else(|| StoreError::NoSuchBucket(name.into()))?;
        record::decode(rec.value())
    }

    /// All buckets, by name.
    ///
    /// # Errors
    /// Database errors.
    pub fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(BUCKETS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            out.push(record::decode(entry?.1.value())?);
        }
        Ok(out)
    }

    /// Changes a bucket's record (versioning, configuration documents) atomically.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], or what `change` returns.
    pub fn update_bucket(
        &self,
        name: &str,
        change: impl FnOnce(&mut BucketRecord) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<BucketRecord, StoreError> {
        let name = name.to_string();
        self.group.run(&self.db, move |tx| {
            let mut buckets = tx.open_table(BUCKETS)?;
            let mut rec: BucketRecord = match buckets.get(name.as_str())? {
                Some(v) => record::decode(v.value())?,
                None => return Err(StoreError::NoSuchBucket(name)),
            };
            change(&mut rec)?;
            buckets.insert(name.as_str(), record::encode(&rec).as_slice())?;
            Ok(rec)
        })
    }

    /// Deletes an empty bucket.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::BucketNotEmpty`] if any version, delete
    /// marker or multipart upload remains.
    pub fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.group.run(&self.db, move |tx| {
            let name = name.as_str();
            let mut buckets = tx.open_table(BUCKETS)?;
            if buckets.get(name)?.is_none() {
                return Err(StoreError::NoSuchBucket(name.into()));
            }
            let versions = tx.open_table(VERSIONS)?;
            let start = keys::bucket_prefix(name);
            let end = keys::bucket_end(name);
            if versions
                .range(start.as_slice()..end.as_slice())?
                .next()
                .is_some()
            {
                return Err(StoreError::BucketNotEmpty(name.into()));
            }
            let uploads = tx.open_table(UPLOADS)?;
            for entry in uploads.iter()? {
                let rec: UploadRecord = record::decode(entry?.1.value())?;
                if rec.bucket == name {
                    return Err(StoreError::BucketNotEmpty(name.into()));
                }
            }
            buckets.remove(name)?;
            Ok(())
        })
    }

    // ---- objects -------------------------------------------------------------------------

    fn next_seq(tx: &WriteTransaction) -> Result<u64, StoreError> {
        let mut meta = tx.open_table(META)?;
        let seq = meta.get("seq")?.map_or(0, |v| v.value()) + 1;
        meta.insert("seq", seq)?;
        Ok(seq)
    }

    fn bucket_in(tx: &WriteTransaction, name: &str) -> Result<BucketRecord, StoreError> {
        let buckets = tx.open_table(BUCKETS)?;
        let rec = buckets
            .get(name)?
            .ok_or_else(|| StoreError::NoSuchBucket(name.into()))?;
        record::decode(rec.value())
    }

    /// Commits a new version of `rec.key` whose data files are already sealed. The version id
    /// is assigned here according to the bucket's versioning state; a replaced `null` version's
    /// files are deleted after the commit. Concurrent writes share one commit.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::PreconditionFailed`], database errors. On
    /// error the caller still owns (and should discard) the data files.
    pub fn put_version(
        &self,
        bucket: &str,
        mut rec: VersionRecord,
        precondition: Option<WritePrecondition>,
    ) -> Result<PutOutcome, StoreError> {
        let bucket = bucket.to_string();
        let masters = self.master.clone();
        let (outcome, garbage) = self.group.run(&self.db, move |tx| {
            let bucket = bucket.as_str();
            let b = Self::bucket_in(tx, bucket)?;
            let mut versions = tx.open_table(VERSIONS)?;
            let current = newest_version(&versions, bucket, &rec.key)?;
            check_precondition(precondition.as_ref(), current.as_ref().map(|(_, r)| r))?;
            masters::to_current(
                masters.as_ref(),
                rec.segments.iter_mut().filter_map(|s| s.envelope.as_mut()),
            )?;
            let seq = Self::next_seq(tx)?;
            let garbage = assign_version(&mut versions, bucket, b.versioning, seq, &mut rec)?;
            versions.insert(
                keys::version_key(bucket, &rec.key, seq).as_slice(),
                record::encode(&rec).as_slice(),
            )?;
            Ok((
                PutOutcome {
                    version: rec,
                    versioning: b.versioning,
                },
                garbage,
            ))
        })?;
        self.remove_files(garbage);
        Ok(outcome)
    }

    fn remove_files(&self, files: Vec<FileId>) {
        for f in files {
            self.dirs.remove(f);
        }
    }

    /// The current version of a key, or a given version.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::NoSuchKey`] (also when the current version is
    /// a delete marker), [`StoreError::NoSuchVersion`], [`StoreError::MethodNotAllowed`] when a
    /// version id names a delete marker.
    pub fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<VersionRecord, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(BUCKETS)?.get(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket(bucket.into()));
        }
        let versions = tx.open_table(VERSIONS)?;
        match version_id {
            None => match newest_version(&versions, bucket, key)? {
                Some((_, rec)) if rec.delete_marker => Err(StoreError::NoSuchKey {
                    key: key.into(),
                    delete_marker: Some(rec.version_id),
                }),
                Some((_, rec)) => Ok(rec),
                None => Err(StoreError::NoSuchKey {
                    key: key.into(),
                    delete_marker: None,
                }),
            },
            Some(vid) => match find_version(&versions, bucket, key, vid)? {
                Some((_, rec)) if rec.delete_marker => {
                    Err(StoreError::MethodNotAllowed(vid.into()))
                }
                Some((_, rec)) => Ok(rec),
                None => Err(StoreError::NoSuchVersion(vid.into())),
            },
        }
    }

    /// Changes one version's record in place (tags). Data and identity stay as they are.
    ///
    /// # Errors
    /// As [`Store::get_version`], or what `change` returns.
    pub fn update_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        change: impl FnOnce(&mut VersionRecord) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<VersionRecord, StoreError> {
        let (bucket, key, version_id) = (
            bucket.to_string(),
            key.to_string(),
            version_id.map(str::to_string),
        );
        self.group.run(&self.db, move |tx| {
            let (bucket, key, version_id) = (bucket.as_str(), key.as_str(), version_id.as_deref());
            Self::bucket_in(tx, bucket)?;
            let mut versions = tx.open_table(VERSIONS)?;
            let found = match version_id {
                None => newest_version(&versions, bucket, key)?,
                Some(vid) => find_version(&versions, bucket, key, vid)?,
            };
            let (table_key, mut rec) = match found {
                Some((_, rec)) if rec.delete_marker => {
                    return Err(match version_id {
                        Some(v) => StoreError::MethodNotAllowed(v.into()),
                        None => StoreError::NoSuchKey {
                            key: key.into(),
                            delete_marker: Some(rec.version_id),
                        },
                    });
                }
                Some(found) => found,
                None => {
                    return Err(match version_id {
                        Some(v) => StoreError::NoSuchVersion(v.into()),
                        None => StoreError::NoSuchKey {
                            key: key.into(),
                            delete_marker: None,
                        },
                    });
                }
            };
            change(&mut rec)?;
            versions.insert(table_key.as_slice(), record::encode(&rec).as_slice())?;
            Ok(rec)
        })
    }

    /// DeleteObject: removes a version (with `version_id`), or the current object as S3 does for
    /// the bucket's versioning state (a delete marker when versioned).
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::InvalidArgument`] for a malformed version id.
    pub fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<DeleteOutcome, StoreError> {
        let (bucket, key, version_id) = (
            bucket.to_string(),
            key.to_string(),
            version_id.map(str::to_string),
        );
        let clock = self.clock.clone();
        let (outcome, garbage) = self.group.run(&self.db, move |tx| {
            let (bucket, key, version_id) = (bucket.as_str(), key.as_str(), version_id.as_deref());
            let b = Self::bucket_in(tx, bucket)?;
            let mut versions = tx.open_table(VERSIONS)?;
            if let Some(vid) = version_id {
                if vid != NULL_VERSION_ID && parse_version_id(vid).is_none() {
                    return Err(StoreError::InvalidArgument(
                        "Invalid version id specified".into(),
                    ));
                }
                return Ok(match find_version(&versions, bucket, key, vid)? {
                    Some((table_key, rec)) => {
                        versions.remove(table_key.as_slice())?;
                        let files = rec.segments.iter().map(|s| s.file).collect();
                        (
                            DeleteOutcome {
                                version_id: Some(vid.into()),
                                delete_marker: rec.delete_marker,
                            },
                            files,
                        )
                    }
                    None => (
                        DeleteOutcome {
                            version_id: Some(vid.into()),
                            delete_marker: false,
                        },
                        Vec::new(),
                    ),
                });
            }
            if b.versioning == VersioningState::Unversioned {
                return Ok(
                    match find_version(&versions, bucket, key, NULL_VERSION_ID)? {
                        Some((table_key, rec)) => {
                            versions.remove(table_key.as_slice())?;
                            (
                                DeleteOutcome::default(),
                                rec.segments.iter().map(|s| s.file).collect(),
                            )
                        }
                        None => (DeleteOutcome::default(), Vec::new()),
                    },
                );
            }
            let seq = Self::next_seq(tx)?;
            let mut marker = VersionRecord {
                key: key.into(),
                version_id: String::new(),
                delete_marker: true,
                last_modified_ms: clock.now_ms(),
                size: 0,
                etag: String::new(),
                storage_class: "STANDARD".into(),
                checksums: record::Checksums::default(),
                headers: record::ContentHeaders::default(),
                metadata: std::collections::BTreeMap::new(),
                tags: std::collections::BTreeMap::new(),
                segments: Vec::new(),
                encryption: None,
            };
            let garbage = assign_version(&mut versions, bucket, b.versioning, seq, &mut marker)?;
            versions.insert(
                keys::version_key(bucket, key, seq).as_slice(),
                record::encode(&marker).as_slice(),
            )?;
            Ok((
                DeleteOutcome {
                    version_id: Some(marker.version_id),
                    delete_marker: true,
                },
                garbage,
            ))
        })?;
        self.remove_files(garbage);
        Ok(outcome)
    }
    /// ListObjects / ListObjectsV2: current versions (not delete markers) and common prefixes.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], database errors.
    pub fn list_objects(&self, bucket: &str, q: &ListQuery) -> Result<ListPage, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(BUCKETS)?.get(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket(bucket.into()));
        }
        let versions = tx.open_table(VERSIONS)?;
        let end = if q.prefix.is_empty() {
            keys::bucket_end(bucket)
        } else {
            keys::after_prefix(bucket, &q.prefix)
        };
        let mut start = keys::key_prefix(bucket, &q.prefix);
        start.pop(); // `bucket 0 prefix`: the prefix itself may be a key
        if let Some(after) = &q.start_after {
            start = start.max(keys::after_key(bucket, after));
        }
        let mut page = ListPage::default();
        let mut count = 0usize;
        loop {
            let mut range = versions.range(start.as_slice()..end.as_slice())?;
            let Some(entry) = range.next() else { break };
            let (k, v) = entry?;
            let Some((key, _)) = keys::split_version_key(bucket, k.value()) else {
                return Err(StoreError::Corrupt("malformed version key".into()));
            };
            if let Some(cp) = common_prefix(&key, &q.prefix, q.delimiter.as_deref()) {
                start = keys::after_prefix(bucket, cp);
                if q.start_after.as_deref().is_some_and(|after| cp <= after) {
                    continue;
                }
                if count == q.max_keys {
                    page.truncated = true;
                    break;
                }
                page.common_prefixes.push(cp.to_string());
                page.last = Some(cp.to_string());
                count += 1;
                continue;
            }
            start = keys::after_key(bucket, &key);
            let rec: VersionRecord = record::decode(v.value())?;
            if rec.delete_marker {
                continue;
            }
            if count == q.max_keys {
                page.truncated = true;
                break;
            }
            page.last = Some(key);
            page.objects.push(rec);
            count += 1;
        }
        Ok(page)
    }

    /// ListObjectVersions: every version and delete marker, keys ascending, newest first.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], database errors.
    pub fn list_versions(
        &self,
        bucket: &str,
        q: &ListVersionsQuery,
    ) -> Result<ListVersionsPage, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(BUCKETS)?.get(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket(bucket.into()));
        }
        let versions = tx.open_table(VERSIONS)?;
        let end = if q.prefix.is_empty() {
            keys::bucket_end(bucket)
        } else {
            keys::after_prefix(bucket, &q.prefix)
        };
        let mut start = keys::key_prefix(bucket, &q.prefix);
        start.pop();
        let mut start_bound = Bound::Included(start.clone());
        if let Some(marker) = &q.key_marker {
            let after = match q.version_id_marker.as_deref() {
                Some(vid) => match find_version(&versions, bucket, marker, vid)? {
                    Some((table_key, _)) => Bound::Excluded(table_key),
                    None => Bound::Included(keys::after_key(bucket, marker)),
                },
                None => Bound::Included(keys::after_key(bucket, marker)),
            };
            let after_key = match &after {
                Bound::Included(k) | Bound::Excluded(k) => k.clone(),
                Bound::Unbounded => unreachable!(),
            };
            if after_key >= start {
                start_bound = after;
            }
        }
        let mut page = ListVersionsPage::default();
        let mut count = 0usize;
        let mut newest_of: Option<(String, u64)> = None;
        'scan: loop {
            let bounds = (
                start_bound.as_ref().map(Vec::as_slice),
                Bound::Excluded(end.as_slice()),
            );
            let range = versions.range::<&[u8]>(bounds)?;
            for entry in range {
                let (k, v) = entry?;
                let raw = k.value().to_vec();
                let Some((key, seq)) = keys::split_version_key(bucket, &raw) else {
                    return Err(StoreError::Corrupt("malformed version key".into()));
                };
                if let Some(cp) = common_prefix(&key, &q.prefix, q.delimiter.as_deref()) {
                    let cp = cp.to_string();
                    start_bound = Bound::Included(keys::after_prefix(bucket, &cp));
                    if q.key_marker.as_deref().is_some_and(|m| cp.as_str() <= m) {
                        continue 'scan;
                    }
                    if count == q.max_keys {
                        page.truncated = true;
                        break 'scan;
                    }
                    page.common_prefixes.push(cp.clone());
                    page.next = Some((cp, None));
                    count += 1;
                    continue 'scan;
                }
                if count == q.max_keys {
                    page.truncated = true;
                    break 'scan;
                }
                let newest = match &newest_of {
                    Some((k, s)) if *k == key => *s,
                    _ => {
                        let s = newest_version(&versions, bucket, &key)?
                            .and_then(|(tk, _)| {
                                keys::split_version_key(bucket, &tk).map(|(_, s)| s)
                            })
                            .unwrap_or(seq);
                        newest_of = Some((key.clone(), s));
                        s
                    }
                };
                let rec: VersionRecord = record::decode(v.value())?;
                page.next = Some((key, Some(rec.version_id.clone())));
                page.versions.push((rec, seq == newest));
                count += 1;
            }
            break;
        }
        Ok(page)
    }

    // ---- multipart -----------------------------------------------------------------------

    /// Starts a multipart upload.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`].
    pub fn create_upload(&self, rec: &UploadRecord) -> Result<(), StoreError> {
        let rec = rec.clone();
        self.group.run(&self.db, move |tx| {
            Self::bucket_in(tx, &rec.bucket)?;
            tx.open_table(UPLOADS)?
                .insert(rec.upload_id.as_str(), record::encode(&rec).as_slice())?;
            Ok(())
        })
    }

    /// One multipart upload.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`].
    pub fn upload(&self, upload_id: &str) -> Result<UploadRecord, StoreError> {
        let tx = self.db.begin_read()?;
        let uploads = tx.open_table(UPLOADS)?;
        let rec = uploads
            .get(upload_id)?
            .ok_or_else(|| StoreError::NoSuchUpload(upload_id.into()))?;
        record::decode(rec.value())
    }

    /// Records an uploaded part (its data file already sealed), replacing an earlier upload
    /// of the same part number.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`] (the caller then discards the file).
    pub fn put_part(&self, upload_id: &str, part: &PartRecord) -> Result<(), StoreError> {
        let (upload_id, mut part) = (upload_id.to_string(), part.clone());
        let masters = self.master.clone();
        let replaced = self.group.run(&self.db, move |tx| {
            if tx.open_table(UPLOADS)?.get(upload_id.as_str())?.is_none() {
                return Err(StoreError::NoSuchUpload(upload_id));
            }
            masters::to_current(masters.as_ref(), part.envelope.as_mut())?;
            let mut parts = tx.open_table(PARTS)?;
            let key = keys::part_key(&upload_id, part.part_number);
            let old = parts.insert(key.as_slice(), record::encode(&part).as_slice())?;
            old.map(|o| record::decode::<PartRecord>(o.value()))
                .transpose()
        })?;
        if let Some(old) = replaced {
            self.dirs.remove(old.file);
        }
        Ok(())
    }

    /// The parts of an upload, by part number.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`].
    pub fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(UPLOADS)?.get(upload_id)?.is_none() {
            return Err(StoreError::NoSuchUpload(upload_id.into()));
        }
        let parts = tx.open_table(PARTS)?;
        read_parts(&parts, upload_id)
    }

    /// All uploads in progress in a bucket, by key then initiation time.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`].
    pub fn uploads(&self, bucket: &str) -> Result<Vec<UploadRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(BUCKETS)?.get(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket(bucket.into()));
        }
        let mut out = Vec::new();
        for entry in tx.open_table(UPLOADS)?.iter()? {
            let rec: UploadRecord = record::decode(entry?.1.value())?;
            if rec.bucket == bucket {
                out.push(rec);
            }
        }
        out.sort_by(|a, b| {
            (&a.key, a.initiated_ms, &a.upload_id).cmp(&(&b.key, b.initiated_ms, &b.upload_id))
        });
        Ok(out)
    }

    /// Completes an upload: checks the parts list, lets `finish` build the object's record
    /// from the upload and the chosen parts (in order), then commits that version, drops the
    /// upload and deletes the files of parts not used — all in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`], [`StoreError::InvalidPartOrder`], [`StoreError::InvalidPart`],
    /// [`StoreError::EntityTooSmall`], [`StoreError::PreconditionFailed`], or what `finish` returns.
    pub fn complete_upload(
        &self,
        upload_id: &str,
        wanted: Vec<CompletePart>,
        precondition: Option<WritePrecondition>,
        finish: impl FnOnce(&UploadRecord, &[PartRecord]) -> Result<CompletedObject, StoreError>
        + Send
        + 'static,
    ) -> Result<PutOutcome, StoreError> {
        let upload_id = upload_id.to_string();
        let masters = self.master.clone();
        let clock = self.clock.clone();
        let (outcome, garbage) = self.group.run(&self.db, move |tx| {
            let upload_id = upload_id.as_str();
            let upload: UploadRecord = {
                let uploads = tx.open_table(UPLOADS)?;
                let rec = uploads
                    .get(upload_id)?
                    .ok_or_else(|| StoreError::NoSuchUpload(upload_id.into()))?;
                record::decode(rec.value())?
            };
            let mut parts_table = tx.open_table(PARTS)?;
            let stored = read_parts(&parts_table, upload_id)?;
            if wanted.is_empty() {
                return Err(StoreError::InvalidArgument(
                    "You must specify at least one part".into(),
                ));
            }
            if wanted
                .windows(2)
                .any(|w| w[0].part_number >= w[1].part_number)
            {
                return Err(StoreError::InvalidPartOrder);
            }
            let mut chosen = Vec::with_capacity(wanted.len());
            for w in &wanted {
                let part = stored
                    .iter()
                    .find(|p| p.part_number == w.part_number && p.etag == w.etag)
                    .ok_or(StoreError::InvalidPart(w.part_number))?;
                chosen.push(part.clone());
            }
            if let Some(small) = chosen[..chosen.len() - 1]
                .iter()
                .find(|p| p.size < MIN_PART_SIZE)
            {
                return Err(StoreError::EntityTooSmall(small.part_number));
            }
            let done = finish(&upload, &chosen)?;
            let mut rec = VersionRecord {
                key: upload.key.clone(),
                version_id: String::new(),
                delete_marker: false,
                last_modified_ms: clock.now_ms(),
                size: chosen.iter().map(|p| p.size).sum(),
                etag: done.etag,
                storage_class: upload.storage_class.clone(),
                checksums: done.checksums,
                headers: upload.headers.clone(),
                metadata: upload.metadata.clone(),
                tags: upload.tags.clone(),
                segments: chosen
                    .iter()
                    .map(|p| Segment {
                        file: p.file,
                        len: p.size,
                        envelope: p.envelope.clone(),
                    })
                    .collect(),
                encryption: None,
            };

            let b = Self::bucket_in(tx, &upload.bucket)?;
            let mut versions = tx.open_table(VERSIONS)?;
            let current = newest_version(&versions, &upload.bucket, &upload.key)?;
            check_precondition(precondition.as_ref(), current.as_ref().map(|(_, r)| r))?;
            // Everything that can refuse the request has been checked: now change tables.
            masters::to_current(
                masters.as_ref(),
                rec.segments.iter_mut().filter_map(|s| s.envelope.as_mut()),
            )?;
            let seq = Self::next_seq(tx)?;
            let mut garbage =
                assign_version(&mut versions, &upload.bucket, b.versioning, seq, &mut rec)?;
            versions.insert(
                keys::version_key(&upload.bucket, &upload.key, seq).as_slice(),
                record::encode(&rec).as_slice(),
            )?;
            for p in &stored {
                parts_table.remove(keys::part_key(upload_id, p.part_number).as_slice())?;
            }
            tx.open_table(UPLOADS)?.remove(upload_id)?;
            garbage.extend(
                stored
                    .iter()
                    .filter(|p| !chosen.iter().any(|c| c.file == p.file))
                    .map(|p| p.file),
            );
            Ok((
                PutOutcome {
                    version: rec,
                    versioning: b.versioning,
                },
                garbage,
            ))
        })?;
        self.remove_files(garbage);
        Ok(outcome)
    }

    /// Aborts an upload and deletes its parts.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`].
    pub fn abort_upload(&self, upload_id: &str) -> Result<(), StoreError> {
        let upload_id = upload_id.to_string();
        let garbage: Vec<FileId> = self.group.run(&self.db, move |tx| {
            let upload_id = upload_id.as_str();
            if tx.open_table(UPLOADS)?.get(upload_id)?.is_none() {
                return Err(StoreError::NoSuchUpload(upload_id.into()));
            }
            tx.open_table(UPLOADS)?.remove(upload_id)?;
            let mut parts = tx.open_table(PARTS)?;
            let stored = read_parts(&parts, upload_id)?;
            for p in &stored {
                parts.remove(keys::part_key(upload_id, p.part_number).as_slice())?;
            }
            Ok(stored.into_iter().map(|p| p.file).collect())
        })?;
        self.remove_files(garbage);
        Ok(())
    }
}

fn read_parts(
    parts: &impl ReadableTable<&'static [u8], &'static [u8]>,
    upload_id: &str,
) -> Result<Vec<PartRecord>, StoreError> {
    let start = keys::part_key(upload_id, 0);
    let end = keys::part_key(upload_id, i32::MAX);
    let mut out = Vec::new();
    for entry in parts.range(start.as_slice()..=end.as_slice())? {
        out.push(record::decode(entry?.1.value())?);
    }
    Ok(out)
}

/// The common prefix `key` rolls up into, if a delimiter occurs after the prefix.
fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let delimiter = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    let at = rest.find(delimiter)?;
    Some(&key[..prefix.len() + at + delimiter.len()])
}

type Found = Option<(Vec<u8>, VersionRecord)>;

fn newest_version(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &str,
    key: &str,
) -> Result<Found, StoreError> {
    let start = keys::key_prefix(bucket, key);
    let end = keys::after_key(bucket, key);
    let mut range = table.range(start.as_slice()..end.as_slice())?;
    match range.next() {
        Some(entry) => {
            let (k, v) = entry?;
            Ok(Some((k.value().to_vec(), record::decode(v.value())?)))
        }
        None => Ok(None),
    }
}

fn find_version(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Found, StoreError> {
    if version_id == NULL_VERSION_ID {
        let start = keys::key_prefix(bucket, key);
        let end = keys::after_key(bucket, key);
        for entry in table.range(start.as_slice()..end.as_slice())? {
            let (k, v) = entry?;
            let rec: VersionRecord = record::decode(v.value())?;
            if rec.version_id == NULL_VERSION_ID {
                return Ok(Some((k.value().to_vec(), rec)));
            }
        }
        return Ok(None);
    }
    let Some(seq) = parse_version_id(version_id) else {
        return Ok(None);
    };
    let table_key = keys::version_key(bucket, key, seq);
    match table.get(table_key.as_slice())? {
        Some(v) => {
            let rec: VersionRecord = record::decode(v.value())?;
            Ok((rec.version_id == version_id).then_some((table_key, rec)))
        }
        None => Ok(None),
    }
}

/// Version ids are `seq(16 hex) random(16 hex)`: the sequence number locates the version in
/// the table without a second index, the random half makes ids unguessable.
fn new_version_id(seq: u64) -> String {
    format!("{seq:016x}{:016x}", rand::random::<u64>())
}

fn parse_version_id(id: &str) -> Option<u64> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&id[..16], 16).ok()
}

/// Gives `rec` its version id for the bucket's state; with versioning off or suspended the
/// existing `null` version is removed and its files returned for deletion after commit.
fn assign_version(
    versions: &mut redb::Table<&'static [u8], &'static [u8]>,
    bucket: &str,
    state: VersioningState,
    seq: u64,
    rec: &mut VersionRecord,
) -> Result<Vec<FileId>, StoreError> {
    if state == VersioningState::Enabled {
        rec.version_id = new_version_id(seq);
        return Ok(Vec::new());
    }
    rec.version_id = NULL_VERSION_ID.into();
    match find_version(versions, bucket, &rec.key, NULL_VERSION_ID)? {
        Some((table_key, old)) => {
            versions.remove(table_key.as_slice())?;
            Ok(old.segments.iter().map(|s| s.file).collect())
        }
        None => Ok(Vec::new()),
    }
}

fn check_precondition(
    pre: Option<&WritePrecondition>,
    current: Option<&VersionRecord>,
) -> Result<(), StoreError> {
    let live = current.filter(|r| !r.delete_marker);
    match (pre, live) {
        (Some(WritePrecondition::IfNoneMatchAny), Some(_)) => Err(StoreError::PreconditionFailed(
            "an object with this key exists (If-None-Match: *)",
        )),
        (Some(WritePrecondition::IfMatch(_)), None) => Err(StoreError::NoSuchKey {
            key: String::new(),
            delete_marker: None,
        }),
        (Some(WritePrecondition::IfMatch(etag)), Some(r)) if *etag != r.etag => Err(
            StoreError::PreconditionFailed("the ETag does not match (If-Match)"),
        ),
        _ => Ok(()),
    }
}
