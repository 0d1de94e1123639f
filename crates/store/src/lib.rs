//! The leadshop storage engine.
//!
//! Metadata lives in one embedded, transactional [redb] database; object bytes live in data
//! files under the data directory. A write goes: temp file in `tmp/` → fsync → rename into
//! `objects/` → fsync the directory → metadata commit. A crash at any point leaves at worst an
//! orphan file, which [`Store::open`] removes; a reader only ever sees committed versions.
//!
//! The engine knows nothing of HTTP or S3 error codes: it speaks [`StoreError`], which the
//! server maps to S3 errors in one place.
//!
//! # Layout
//! - [`error`]: the error types.
//! - [`record`]: the versioned records kept in the database (buckets, versions, uploads, parts).
//! - [`lock`]: Object Lock on a version (retention, legal hold, what protects it).
//! - [`clock`]: wall-clock time, the system's or a test's.
//! - [`crypto`]: the chunked AES-256-GCM envelope format for SSE.
//! - [`data`]: data files: ids, paths, the streaming writer, orphan cleanup.
//! - [`keys`]: the byte encoding of table keys (ordering matters for listings).
//! - [`db`]: the [`Store`] itself, by table area: `buckets`, `objects` (versions), `listing`,
//!   `multipart`.
//! - `group`: group commit, so concurrent writes share one transaction and one fsync.
//! - [`masters`]: the master keys held (current, and earlier ones during a rotation).
//! - [`write`]: the last step of every write: sealed data committed as a version or part.
//! - `rewrap`: online master-key rotation ([`Store::rewrap_to_current`]).

pub mod clock;
pub mod crypto;
pub mod data;
pub mod db;
pub mod error;
mod group;
pub mod keys;
pub mod lock;
pub mod masters;
mod orphans;
pub mod record;
mod rewrap;
pub mod write;

pub use clock::{Clock, SharedClock, SystemClock, TestClock};
pub use data::{DataWriter, FileId, MasterKey, SSE_C_KEY_ID, SealedData, Wrapping};
pub use db::{
    Backlog, BackupFile, ClassUsage, CompletePart, CompletedObject, DEFAULT_METADATA_CACHE_BYTES,
    DeleteOutcome, Delivery, EngineBackup, LifecycleAction, ListPage, ListQuery, ListVersionsPage,
    ListVersionsQuery, METADATA_FILE, PutOutcome, ReplicationTask, Stat, Store, WritePrecondition,
    copy_file, hash_file, sync_dir,
};
pub use error::StoreError;
pub use lock::{Protection, Retention};
pub use masters::MasterKeys;
pub use masters::Rewrapped;
pub use orphans::SweepReport;
pub use record::{
    BucketRecord, ChecksumAlgorithm, ChecksumType, Checksums, ContentHeaders, Envelope,
    NULL_VERSION_ID, PartRecord, REPLICATION_DOC, ReplicationStatus, Restore, Segment,
    SseAlgorithm, StorageClass, UploadKms, UploadRecord, VersionRecord, VersioningState,
};
pub use rewrap::REWRAP_BATCH;
pub use write::{NewPart, NewVersion};
