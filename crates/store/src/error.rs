//! Errors of the storage engine. HTTP mapping happens in the server crate.

use std::io;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The bucket does not exist.
    #[error("bucket {0:?} does not exist")]
    NoSuchBucket(String),
    /// A bucket of that name exists already.
    #[error("bucket {0:?} already exists")]
    BucketAlreadyExists(String),
    /// Creating the bucket would exceed the account's number of buckets.
    #[error("the account holds {0} buckets, its limit")]
    TooManyBuckets(usize),
    /// The bucket still holds object versions or multipart uploads.
    #[error("bucket {0:?} is not empty")]
    BucketNotEmpty(String),
    /// No current version of the key (or the current version is a delete marker).
    #[error("key {key:?} does not exist")]
    NoSuchKey {
        /// The key asked for.
        key: String,
        /// Set when the key's latest version is a delete marker.
        delete_marker: Option<String>,
    },
    /// The version id does not exist (or is malformed).
    #[error("version {0:?} does not exist")]
    NoSuchVersion(String),
    /// A GET/HEAD addressed a delete marker by version id.
    #[error("version {0:?} is a delete marker")]
    MethodNotAllowed(String),
    /// The multipart upload does not exist (completed, aborted or never created).
    #[error("upload {0:?} does not exist")]
    NoSuchUpload(String),
    /// A part named in CompleteMultipartUpload is missing or its ETag differs.
    #[error("part {0} was not uploaded or its ETag does not match")]
    InvalidPart(i32),
    /// Parts in CompleteMultipartUpload are not in ascending order.
    #[error("the list of parts was not in ascending order")]
    InvalidPartOrder,
    /// A part other than the last is smaller than the 5 MiB minimum.
    #[error("part {0} is smaller than the minimum allowed size")]
    EntityTooSmall(i32),
    /// A checksum the client announced differs from the one computed over the stored data
    /// (the algorithm is named).
    #[error("the {0} checksum you specified did not match the calculated checksum")]
    ChecksumMismatch(String),
    /// A conditional write's precondition did not hold.
    #[error("precondition failed: {0}")]
    PreconditionFailed(&'static str),
    /// A conditional write raced another write to the same key.
    #[error("conflicting concurrent conditional write")]
    ConditionalRequestConflict,
    /// The bucket's state does not allow the change (S3's InvalidBucketState).
    #[error("{0}")]
    InvalidBucketState(&'static str),
    /// The request cannot be applied to the bucket as it is (S3's InvalidRequest).
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// The version is protected by Object Lock (retention or legal hold).
    #[error("the object version is protected by Object Lock")]
    ObjectLocked,
    /// The caller's input was refused by the engine (e.g. a NUL byte in a key).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The operation does not apply to the version's storage class (RestoreObject on a
    /// class that is not archived).
    #[error("invalid object state: {0}")]
    InvalidObjectState(&'static str),
    /// A restore of the version is under way already.
    #[error("object restore is already in progress")]
    RestoreAlreadyInProgress,
    /// A stored record could not be decoded: a newer format, or corruption.
    #[error("corrupt or unknown record format: {0}")]
    Corrupt(String),
    /// A shared (group) commit failed; every write in it was rolled back.
    #[error("metadata commit failed: {0}")]
    CommitFailed(String),
    /// The metadata database failed.
    #[error("metadata database: {0}")]
    Db(#[from] redb::Error),
    /// Filesystem I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

impl StoreError {
    /// Whether this is the engine refusing a request (nothing was changed), as opposed to a
    /// failure of the database or the disk.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            Self::Corrupt(_) | Self::CommitFailed(_) | Self::Db(_) | Self::Io(_)
        )
    }

    /// Whether the database is open in another process (a running server).
    #[must_use]
    pub fn is_held_elsewhere(&self) -> bool {
        matches!(self, Self::Db(redb::Error::DatabaseAlreadyOpen))
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
