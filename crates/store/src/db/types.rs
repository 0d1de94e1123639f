//! The engine's public request and result types: what a write must meet and what it made,
//! listing queries and pages, multipart completion.

use crate::record::{Checksums, VersionRecord, VersioningState};

/// A condition a write must meet, checked in the same transaction as the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WritePrecondition {
    /// `If-None-Match: *`: only if the key has no current version.
    IfNoneMatchAny,
    /// `If-Match: "etag"`: only if the current version has this ETag.
    IfMatch(String),
    /// `If-Match: *`: only if the key has a current version (a delete marker is none).
    IfMatchAny,
}

/// Result of a write that created a version.
#[derive(Debug, Clone)]
pub struct PutOutcome {
    /// The stored version.
    pub version: VersionRecord,
    /// The bucket's versioning state at the time of the write.
    pub versioning: VersioningState,
    /// A replica delivered a second time: `version` is the one the first delivery stored, and
    /// nothing new was written.
    pub replayed: bool,
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

/// What completing a multipart upload computed over its parts; the store makes the version
/// from it and the upload (key, headers, metadata, tags, storage class).
#[derive(Debug, Clone, Default)]
pub struct CompletedObject {
    /// The multipart ETag (`<md5 of the part md5s>-<parts>`), without quotes.
    pub etag: String,
    /// The object's checksums.
    pub checksums: Checksums,
}
