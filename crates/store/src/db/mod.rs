//! The [`Store`]: buckets, object versions, listings and multipart uploads over redb.

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
use crate::{FileId, NULL_VERSION_ID, StoreError, SweepReport};

mod backup;
mod buckets;
mod datapoints;
mod lifecycle;
mod listing;
mod migrate;
mod multipart;
mod objects;
mod replication;

mod types;
mod usage;

pub(crate) use usage::VersionsMut;

pub use backup::{BackupFile, EngineBackup, METADATA_FILE, copy_file, hash_file, sync_dir};
pub use datapoints::{ClassUsage, Stat};
pub use lifecycle::LifecycleAction;
pub use migrate::CompactReport;
pub use replication::{Backlog, Delivery, MAX_FAILED_KEPT, ReplicationTask};
pub use types::{
    CompletePart, CompletedObject, DeleteOutcome, ListPage, ListQuery, ListVersionsPage,
    ListVersionsQuery, MIN_PART_SIZE, PutOutcome, WritePrecondition,
};

/// Engine-wide counters and the schema version.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// bucket name → [`BucketRecord`].
const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");

/// [`keys::version_key`] → [`VersionRecord`].
pub(crate) const VERSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("versions");

/// upload id → [`UploadRecord`].
const UPLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("uploads");

/// [`FileId`] (16 bytes) → the bytes of an inline segment ([`Segment::inline`]): what its
/// data file would hold. Written in the commit of the version that references it, removed in
/// the commit that removes the last version referencing it ([`VersionsMut`]).
pub(crate) const INLINE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("inline");

/// [`keys::part_key`] → [`PartRecord`].
pub(crate) const PARTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("parts");

/// Page cache of the metadata database when the caller names none ([`Store::open`]); the
/// server's is `[store] metadata_cache_mib`.
pub const DEFAULT_METADATA_CACHE_BYTES: usize = 32 * 1024 * 1024;

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
    bucket_watchers: BucketWatchers,
    /// The orphan sweep's outcome: `None` while it has not run.
    sweep: std::sync::Mutex<Option<Result<SweepReport, String>>>,
    /// Held while the sweep runs.
    sweep_run: std::sync::Mutex<()>,
}

/// Called with a bucket's name after a change to it commits.
pub type BucketWatcher = Box<dyn Fn(&str) + Send + Sync>;

/// The callbacks told of bucket changes.
#[derive(Default)]
struct BucketWatchers(std::sync::RwLock<Vec<BucketWatcher>>);

impl std::fmt::Debug for BucketWatchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.read().map_or(0, |w| w.len());
        write!(f, "BucketWatchers({n})")
    }
}

impl Store {
    #[must_use]
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Opens (or creates) the engine in `root`, then removes orphan data files left by a crash
    /// ([`Store::sweep_orphans`]: the walk grows with the number of data files).
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
        let store = Self::open_deferring_sweep(root, master, clock, DEFAULT_METADATA_CACHE_BYTES)?;
        store.sweep_orphans()?;
        Ok(store)
    }

    /// Opens the engine ready to serve, leaving the walk of the data files to
    /// [`Store::sweep_orphans`], which the caller runs (on a thread of its own) while it
    /// serves: start-up then does not grow with the object count. Temp files are removed
    /// here; an orphan in `objects/` is invisible to readers, so it only costs disk until the
    /// sweep takes it. `metadata_cache_bytes` bounds the metadata's page cache (redb's own
    /// default, 1 GiB, would let RSS grow with the database).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_deferring_sweep(
        root: &Path,
        master: Option<MasterKeys>,
        clock: SharedClock,
        metadata_cache_bytes: usize,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root)?;
        let dirs = DataDirs::create(root)?;
        let meta = root.join("meta.redb");
        migrate::migrate_at_open(root, &meta)?;
        let db = Database::builder()
            .set_cache_size(metadata_cache_bytes)
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
            bucket_watchers: BucketWatchers::default(),
            sweep: std::sync::Mutex::new(None),
            sweep_run: std::sync::Mutex::new(()),
        };
        store.init_schema()?;
        store.count_usage_once()?;
        let removed = store.dirs.empty_tmp_and_track()?;
        if removed > 0 {
            tracing::info!(removed, "removed temp files left by an interrupted write");
        }
        Ok(store)
    }

    /// Removes the data files no version or part references and that were not created since
    /// the store opened: orphans of writes a crash interrupted. Safe while requests are served.
    /// Runs once (the files created since the store opened are known only until then): a
    /// second call returns the first one's outcome.
    ///
    /// # Errors
    /// The metadata or the data directory cannot be read.
    pub fn sweep_orphans(&self) -> Result<SweepReport, StoreError> {
        let _running = self.sweep_run.lock().expect("sweep run");
        if let Some(done) = self.orphan_sweep() {
            return done.map_err(StoreError::Corrupt);
        }
        let result = self.referenced_files().and_then(|referenced| {
            Ok(self
                .dirs
                .remove_orphans(|id| referenced.binary_search(&id).is_ok())?)
        });
        *self.sweep.lock().expect("sweep state") =
            Some(result.as_ref().map(|r| *r).map_err(ToString::to_string));
        let report = result?;
        if report.removed > 0 || report.tightened > 0 {
            tracing::info!(
                removed = report.removed,
                tightened = report.tightened,
                files = report.files,
                "orphan sweep: removed data files left by an interrupted write"
            );
        }
        Ok(report)
    }

    /// The orphan sweep's outcome: `None` until it has run.
    #[must_use]
    pub fn orphan_sweep(&self) -> Option<Result<SweepReport, String>> {
        self.sweep.lock().expect("sweep state").clone()
    }

    fn init_schema(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let version = meta.get("schema_version")?.map(|v| v.value());
            match version {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                    // A new database holds no version of an earlier record format.
                    meta.insert(migrate::VERSIONS_FORMAT, u64::from(record::FORMAT_COMPACT))?;
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
            tx.open_table(INLINE)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every data file a version or a part references, sorted (16 bytes each: 16 MB at a
    /// million objects, where a hash set took twice that and more).
    fn referenced_files(&self) -> Result<Vec<FileId>, StoreError> {
        let tx = self.db.begin_read()?;
        let mut files = Vec::new();
        for entry in tx.open_table(VERSIONS)?.iter()? {
            let (_, v) = entry?;
            let rec: VersionRecord = record::decode(v.value())?;
            files.extend(rec.segments.iter().map(|s| s.file));
        }
        for entry in tx.open_table(PARTS)?.iter()? {
            let (_, v) = entry?;
            let rec: PartRecord = record::decode(v.value())?;
            files.push(rec.file);
        }
        files.sort_unstable();
        files.dedup();
        files.shrink_to_fit();
        Ok(files)
    }

    /// Starts a new data file.
    ///
    /// # Errors
    /// The temp file cannot be created.
    pub fn writer(&self) -> io::Result<DataWriter> {
        let master = self.master.as_ref().map(MasterKeys::current);
        DataWriter::create(&self.dirs, master.as_deref(), None, false)
    }

    /// A writer for a whole object's data (PutObject, CopyObject): an object of at most
    /// [`crate::data::INLINE_MAX`] bytes stays in memory and is committed inside the metadata
    /// with its version ([`Store::commit_version`]); a larger one becomes a data file as
    /// [`Store::writer`]'s do. `wrapping`: as [`Store::writer_wrapped`].
    ///
    /// # Errors
    /// The temp file cannot be created.
    pub fn object_writer(
        &self,
        wrapping: Option<crate::data::Wrapping<'_>>,
    ) -> io::Result<DataWriter> {
        let master = self.master.as_ref().map(MasterKeys::current);
        DataWriter::create(&self.dirs, master.as_deref(), wrapping, true)
    }

    /// Starts a new data file whose data key is wrapped by another key than the master key
    /// (SSE-C, SSE-KMS); reading it back needs the same key.
    ///
    /// # Errors
    /// The temp file cannot be created.
    pub fn writer_wrapped(&self, wrapping: crate::data::Wrapping<'_>) -> io::Result<DataWriter> {
        let master = self.master.as_ref().map(MasterKeys::current);
        DataWriter::create(&self.dirs, master.as_deref(), Some(wrapping), false)
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
        self.read_segment_in_place(segment, wrapping_key, offset, len)
            .map(data::Plain::into_vec)
    }

    /// [`Store::read_segment`] without gathering the plaintext into one vector: the buffer it
    /// was decrypted in and where in it the bytes are (for a response body, sent as they lie).
    ///
    /// # Errors
    /// As [`Store::read_segment`].
    pub fn read_segment_in_place(
        &self,
        segment: &Segment,
        wrapping_key: Option<&crate::crypto::Key>,
        offset: u64,
        len: usize,
    ) -> io::Result<data::Plain> {
        if segment.inline {
            let stored = self.inline_data(segment.file)?;
            return self.read_inline_in_place(segment, stored, wrapping_key, offset, len);
        }
        let path = self.dirs.path(segment.file);
        data::read_segment(
            std::fs::File::open(&path)?,
            &path.display(),
            segment,
            self.master.as_ref(),
            wrapping_key,
            offset,
            len,
        )
    }

    /// [`Store::read_segment_in_place`] of an inline segment whose stored bytes the caller
    /// already has ([`Store::get_version_with_inline`]): no I/O, only the decryption.
    ///
    /// # Errors
    /// As [`Store::read_segment`].
    pub fn read_inline_in_place(
        &self,
        segment: &Segment,
        stored: Vec<u8>,
        wrapping_key: Option<&crate::crypto::Key>,
        offset: u64,
        len: usize,
    ) -> io::Result<data::Plain> {
        data::read_segment(
            std::io::Cursor::new(stored),
            &format_args!("inline data {}", segment.file),
            segment,
            self.master.as_ref(),
            wrapping_key,
            offset,
            len,
        )
    }

    /// The bytes of an inline segment.
    fn inline_data(&self, file: FileId) -> io::Result<Vec<u8>> {
        let read = || -> Result<Option<Vec<u8>>, StoreError> {
            let tx = self.db.begin_read()?;
            let table = tx.open_table(INLINE)?;
            Ok(table
                .get(file.to_bytes().as_slice())?
                .map(|v| v.value().to_vec()))
        };
        match read() {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("inline data {file}: missing from the metadata"),
            )),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }

    // ---- buckets -------------------------------------------------------------------------

    fn next_seq(tx: &WriteTransaction) -> Result<u64, StoreError> {
        let mut meta = tx.open_table(META)?;
        let seq = meta.get("seq")?.map_or(0, |v| v.value()) + 1;
        meta.insert("seq", seq)?;
        Ok(seq)
    }

    fn bucket_in(tx: &WriteTransaction, name: &str) -> Result<VersioningState, StoreError> {
        let buckets = tx.open_table(BUCKETS)?;
        let rec = buckets
            .get(name)?
            .ok_or_else(|| StoreError::NoSuchBucket(name.into()))?;
        record::bucket_versioning(rec.value())
    }

    /// [`Store::bucket_in`], and the bucket's replication configuration.
    fn bucket_facts_in(
        tx: &WriteTransaction,
        name: &str,
    ) -> Result<
        (
            VersioningState,
            Option<leadshop_spec::replication::ReplicationConfiguration>,
        ),
        StoreError,
    > {
        let buckets = tx.open_table(BUCKETS)?;
        let rec = buckets
            .get(name)?
            .ok_or_else(|| StoreError::NoSuchBucket(name.into()))?;
        record::bucket_facts(rec.value())
    }

    fn remove_files(&self, files: Vec<FileId>) {
        for f in files {
            self.dirs.remove(f);
        }
    }
}
