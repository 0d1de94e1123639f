//! Records kept in the metadata database.
//!
//! Each record starts with `RECORD_TAG, format`. Format 1 is JSON (new optional fields default
//! on read): buckets, uploads and parts, and versions written before format 2. Format 2
//! ([`compact`]) is the tagged binary form every version is written in now; versions of
//! either format are read, and [`crate::Store::migrate_records`] rewrites the format 1 ones.
//! A format this build does not know is refused, never misread.

mod checksum_type;
mod codec;
mod compact;

pub use checksum_type::ChecksumType;

#[cfg(test)]
pub(crate) use codec::encode_version_json;
pub(crate) use codec::{
    FORMAT_COMPACT, Record, bucket_facts, bucket_versioning, decode, encode, format_of,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lock::{Protection, Retention};
pub use leadshop_spec::StorageClass;

/// The version id S3 gives objects written while versioning is not enabled.
pub const NULL_VERSION_ID: &str = "null";

/// Versioning state of a bucket, as S3 models it (a bucket never returns to `Unversioned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum VersioningState {
    /// Versioning was never enabled: writes replace the `null` version.
    #[default]
    Unversioned,
    /// Every write creates a new version.
    Enabled,
    /// Writes replace the `null` version; older versions are kept.
    Suspended,
}

/// A bucket and its configuration documents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketRecord {
    /// Bucket name.
    pub name: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Region the bucket was created in.
    pub region: String,
    /// Versioning state.
    pub versioning: VersioningState,
    /// Configuration documents by name (`policy`, `cors`, `lifecycle`, …) in AWS JSON shapes.
    /// Kept generic here; the `spec` crate parses and validates them.
    #[serde(default)]
    pub documents: BTreeMap<String, serde_json::Value>,
}

/// The name of the replication configuration among a bucket's documents: the one document
/// the store itself reads (every write looks up the rule that replicates it).
pub const REPLICATION_DOC: &str = "replication";

/// Content-* and related headers stored with an object and returned on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentHeaders {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    pub content_language: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Expires`, as the HTTP date the client sent.
    pub expires: Option<String>,
    /// `x-amz-website-redirect-location`.
    pub website_redirect_location: Option<String>,
}

/// A checksum algorithm S3 stores (`x-amz-checksum-<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC32 (ISO-HDLC).
    Crc32,
    /// CRC32C (Castagnoli).
    Crc32c,
    /// CRC64NVME, AWS's default since 2025.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in S3's order.
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The lower-case name of the headers (`crc64nvme`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "crc32",
            Self::Crc32c => "crc32c",
            Self::Crc64Nvme => "crc64nvme",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// The name S3 uses in bodies and `x-amz-checksum-algorithm` (`CRC64NVME`).
    #[must_use]
    pub const fn upper(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The algorithm of a name, in either case; `None` for one S3 does not know.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.upper())
    }
}

impl Checksums {
    /// The stored value of one algorithm.
    #[must_use]
    pub fn get(&self, a: ChecksumAlgorithm) -> Option<&str> {
        match a {
            ChecksumAlgorithm::Crc32 => self.crc32.as_deref(),
            ChecksumAlgorithm::Crc32c => self.crc32c.as_deref(),
            ChecksumAlgorithm::Crc64Nvme => self.crc64nvme.as_deref(),
            ChecksumAlgorithm::Sha1 => self.sha1.as_deref(),
            ChecksumAlgorithm::Sha256 => self.sha256.as_deref(),
        }
    }

    /// Sets the value of one algorithm.
    pub fn set(&mut self, a: ChecksumAlgorithm, value: String) {
        let slot = match a {
            ChecksumAlgorithm::Crc32 => &mut self.crc32,
            ChecksumAlgorithm::Crc32c => &mut self.crc32c,
            ChecksumAlgorithm::Crc64Nvme => &mut self.crc64nvme,
            ChecksumAlgorithm::Sha1 => &mut self.sha1,
            ChecksumAlgorithm::Sha256 => &mut self.sha256,
        };
        *slot = Some(value);
    }

    /// The first algorithm with a value (what a copy computes again).
    #[must_use]
    pub fn first_algorithm(&self) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|a| self.get(*a).is_some())
    }
}

/// How a data file's data key is wrapped: the server-side encryption of the bytes in it.
///
/// Stored in [`Envelope::algorithm`] under the names below, which are what the envelope has
/// always held on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SseAlgorithm {
    /// SSE-S3: wrapped by the master key (`AES256`).
    #[serde(rename = "AES256")]
    S3,
    /// SSE-KMS: wrapped by a keyring key (`aws:kms`).
    #[serde(rename = "aws:kms")]
    Kms,
    /// DSSE-KMS: two independent data keys, both wrapped by a keyring key (`aws:kms:dsse`,
    /// [`crate::crypto::FORMAT_DUAL`]).
    #[serde(rename = "aws:kms:dsse")]
    KmsDsse,
    /// SSE-C: wrapped by the customer's key, which is never stored (`SSE-C`).
    #[serde(rename = "SSE-C")]
    Customer,
}

impl SseAlgorithm {
    /// The name stored in the envelope.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::S3 => "AES256",
            Self::Kms => "aws:kms",
            Self::KmsDsse => "aws:kms:dsse",
            Self::Customer => "SSE-C",
        }
    }

    /// The algorithm named by `x-amz-server-side-encryption` (or a bucket default's
    /// `SSEAlgorithm`); `None` for anything else. SSE-C is never named there.
    #[must_use]
    pub fn from_header(value: &str) -> Option<Self> {
        match value {
            "AES256" => Some(Self::S3),
            "aws:kms" => Some(Self::Kms),
            "aws:kms:dsse" => Some(Self::KmsDsse),
            _ => None,
        }
    }

    /// The value S3 answers in `x-amz-server-side-encryption`; `None` for SSE-C, which is
    /// reported through `x-amz-server-side-encryption-customer-algorithm` instead.
    #[must_use]
    pub const fn header(self) -> Option<&'static str> {
        match self {
            Self::Customer => None,
            other => Some(other.as_str()),
        }
    }

    /// Whether the data key is wrapped by a keyring key (SSE-KMS, DSSE-KMS).
    #[must_use]
    pub const fn is_keyring(self) -> bool {
        matches!(self, Self::Kms | Self::KmsDsse)
    }
}

impl std::fmt::Display for SseAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checksums of an object or part, base64 encoded as S3 returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    /// CRC32.
    pub crc32: Option<String>,
    /// CRC32C.
    pub crc32c: Option<String>,
    /// CRC64NVME.
    pub crc64nvme: Option<String>,
    /// SHA1.
    pub sha1: Option<String>,
    /// SHA256.
    pub sha256: Option<String>,
    /// Whether they are of the whole object or of its parts.
    pub checksum_type: Option<ChecksumType>,
}

/// A run of object bytes held in one data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The data file.
    pub file: crate::FileId,
    /// Bytes of object data in it (plaintext length).
    pub len: u64,
    /// How the file is encrypted; `None` for plaintext files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Envelope>,
    /// A multipart object's part: the checksums the part was uploaded with
    /// (GetObjectAttributes' `ObjectParts`). `None` for single-part objects and for objects
    /// completed before this was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_checksums: Option<Checksums>,
    /// The data (the bytes a data file would hold: header and sealed chunks) is in the
    /// metadata's `inline` table under `file`, committed with the version, instead of a file:
    /// a small object ([`crate::data::INLINE_MAX`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inline: bool,
}

/// The encryption envelope of one data file (format in [`crate::crypto`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Envelope format ([`crate::crypto::FORMAT`]).
    pub format: u8,
    /// How the data key is wrapped.
    pub algorithm: SseAlgorithm,
    /// Id of the master key that wraps the data key.
    pub key_id: String,
    /// The wrapped data key, hex.
    pub wrapped_key: String,
    /// SSE-KMS encryption context (canonical JSON), bound into the wrapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Format 2 (`aws:kms:dsse`): the outer layer's data key, wrapped like `wrapped_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_wrapped_key: Option<String>,
}

/// One version of an object (or a delete marker).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionRecord {
    /// Object key.
    pub key: String,
    /// Version id (`null` for writes without versioning).
    pub version_id: String,
    /// Whether this version is a delete marker.
    pub delete_marker: bool,
    /// Last-Modified, milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    /// Object size in bytes.
    pub size: u64,
    /// ETag without quotes (`hex(md5)` or `hex(md5 of md5s)-N`).
    pub etag: String,
    /// Storage class.
    pub storage_class: StorageClass,
    /// Checksums.
    #[serde(default)]
    pub checksums: Checksums,
    /// Content headers.
    #[serde(default)]
    pub headers: ContentHeaders,
    /// User metadata (`x-amz-meta-*`), keys lower-cased.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Object tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The data, in order. A multipart object has one segment per part.
    #[serde(default)]
    pub segments: Vec<Segment>,
    /// Encryption envelope (wrapped data key, key id, algorithm); filled by the SSE layer.
    #[serde(default)]
    pub encryption: Option<serde_json::Value>,
    /// An archived version's temporary copy (RestoreObject), if one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Restore>,
    /// Object Lock retention, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Object Lock legal hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// The version's ACL, in buckets whose Object Ownership enables ACLs (AWS JSON shape; the
    /// server's `spec::acl` reads it). `None`: the owner alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<serde_json::Value>,
    /// Where the version stands in replication (`x-amz-replication-status`): `None` when no
    /// rule replicates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationStatus>,
    /// A replica: the source version it is a copy of (`<source bucket>/<version id>`), so a
    /// second delivery of the same version is recognised instead of stored twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<String>,
}

/// `x-amz-replication-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicationStatus {
    /// Waiting in the replication queue.
    #[serde(rename = "PENDING")]
    Pending,
    /// Replicated.
    #[serde(rename = "COMPLETED")]
    Completed,
    /// The destination refused it (see `leadshop replication status`).
    #[serde(rename = "FAILED")]
    Failed,
    /// This version is itself a replica.
    #[serde(rename = "REPLICA")]
    Replica,
}

impl ReplicationStatus {
    /// The header's value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Replica => "REPLICA",
        }
    }

    /// The status named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Completed, Self::Failed, Self::Replica]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// The temporary copy RestoreObject makes of an archived (GLACIER, DEEP_ARCHIVE) version: it
/// is readable from `ready_ms` until `expiry_ms` (milliseconds since the epoch, on the
/// server's clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restore {
    /// When the restore completes.
    pub ready_ms: i64,
    /// When the restored copy goes away again.
    pub expiry_ms: i64,
}

impl VersionRecord {
    /// A delete marker for `key` written at `now_ms` (its version id is assigned on commit).
    #[must_use]
    pub fn delete_marker(key: &str, now_ms: i64) -> Self {
        Self {
            key: key.into(),
            version_id: String::new(),
            delete_marker: true,
            last_modified_ms: now_ms,
            size: 0,
            etag: String::new(),
            storage_class: StorageClass::Standard,
            checksums: Checksums::default(),
            headers: ContentHeaders::default(),
            metadata: BTreeMap::new(),
            tags: BTreeMap::new(),
            segments: Vec::new(),
            encryption: None,
            restore: None,
            retention: None,
            legal_hold: false,
            acl: None,
            replication: None,
            replica_of: None,
        }
    }

    /// What protects this version from deletion at `now_ms` (a legal hold first).
    #[must_use]
    pub fn protection(&self, now_ms: i64) -> Protection {
        if self.legal_hold {
            return Protection::LegalHold;
        }
        match &self.retention {
            Some(r) if r.until_ms > now_ms && r.mode == "COMPLIANCE" => Protection::Compliance,
            Some(r) if r.until_ms > now_ms => Protection::Governance,
            _ => Protection::None,
        }
    }

    /// Whether the version's storage class keeps its data archived: readable only through a
    /// restored copy.
    #[must_use]
    pub fn is_archived(&self) -> bool {
        self.storage_class.is_archive()
    }

    /// Whether its data can be read at `now_ms`: not archived, or restored and not expired.
    #[must_use]
    pub fn readable_at(&self, now_ms: i64) -> bool {
        !self.is_archived()
            || self
                .restore
                .as_ref()
                .is_some_and(|r| r.ready_ms <= now_ms && now_ms < r.expiry_ms)
    }

    /// Part sizes of a multipart object (one per segment), for `PartNumber` reads.
    #[must_use]
    pub fn parts_count(&self) -> Option<usize> {
        self.etag.contains('-').then_some(self.segments.len())
    }
}

/// An in-progress multipart upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Upload id.
    pub upload_id: String,
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Initiation time, milliseconds since the Unix epoch.
    pub initiated_ms: i64,
    /// Storage class of the object to be.
    pub storage_class: StorageClass,
    /// Checksum algorithm chosen at creation (`CRC32`, …), if any.
    pub checksum_algorithm: Option<String>,
    /// Whether the completed object's checksum is of the whole or of the parts.
    pub checksum_type: Option<ChecksumType>,
    /// Content headers of the object to be.
    #[serde(default)]
    pub headers: ContentHeaders,
    /// User metadata of the object to be.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Tags of the object to be.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// SSE-KMS: the keyring key every part is encrypted under, and the encryption context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms: Option<UploadKms>,
    /// SSE-C: base64 MD5 of the customer key every part must be sent with (never the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_c_key_md5: Option<String>,
    /// Object Lock retention the completed object gets (explicit headers or the bucket's
    /// default, fixed at CreateMultipartUpload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Object Lock legal hold the completed object gets.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// The ACL the completed object gets (ACL-enabled buckets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<serde_json::Value>,
}

/// The SSE-KMS settings of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadKms {
    /// Keyring key id.
    pub key_id: String,
    /// Encryption context (canonical JSON).
    pub context: String,
    /// DSSE-KMS: every part is encrypted in two layers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dual_layer: bool,
}

impl UploadKms {
    /// The parts' algorithm: SSE-KMS or, with two layers, DSSE-KMS.
    #[must_use]
    pub const fn algorithm(&self) -> SseAlgorithm {
        if self.dual_layer {
            SseAlgorithm::KmsDsse
        } else {
            SseAlgorithm::Kms
        }
    }
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartRecord {
    /// Part number, 1..=10000.
    pub part_number: i32,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Upload time, milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    /// Checksums of the part.
    #[serde(default)]
    pub checksums: Checksums,
    /// The data file.
    pub file: crate::FileId,
    /// How the part's file is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Envelope>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    #[test]
    fn sse_algorithms_keep_their_on_disk_names_and_headers_never_name_sse_c() {
        for (a, name) in [
            (SseAlgorithm::S3, "AES256"),
            (SseAlgorithm::Kms, "aws:kms"),
            (SseAlgorithm::KmsDsse, "aws:kms:dsse"),
            (SseAlgorithm::Customer, "SSE-C"),
        ] {
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<SseAlgorithm>(&json).unwrap(), a);
            assert_eq!(a.as_str(), name);
        }
        assert_eq!(SseAlgorithm::from_header("SSE-C"), None);
        assert_eq!(SseAlgorithm::from_header("aes256"), None);
        assert_eq!(SseAlgorithm::Customer.header(), None);
        assert_eq!(
            SseAlgorithm::from_header("aws:kms:dsse").and_then(SseAlgorithm::header),
            Some("aws:kms:dsse")
        );
        assert!(SseAlgorithm::KmsDsse.is_keyring() && !SseAlgorithm::S3.is_keyring());
    }

    #[test]
    fn checksum_algorithms_by_name_and_in_records() {
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::parse(a.name()), Some(a));
            assert_eq!(ChecksumAlgorithm::parse(a.upper()), Some(a));
        }
        assert_eq!(ChecksumAlgorithm::parse("md5"), None);
        let mut c = Checksums::default();
        assert_eq!(c.first_algorithm(), None);
        c.set(ChecksumAlgorithm::Sha256, "x".into());
        assert_eq!(c.sha256.as_deref(), Some("x"));
        assert_eq!(c.get(ChecksumAlgorithm::Sha256), Some("x"));
        assert_eq!(c.get(ChecksumAlgorithm::Crc32), None);
        assert_eq!(c.first_algorithm(), Some(ChecksumAlgorithm::Sha256));
    }

    #[test]
    fn records_round_trip_and_refuse_unknown_formats() {
        let b = BucketRecord {
            name: "b".into(),
            created_ms: 1,
            region: "us-east-1".into(),
            versioning: VersioningState::Enabled,
            documents: BTreeMap::new(),
        };
        let bytes = encode(&b);
        let back: BucketRecord = decode(&bytes).unwrap();
        assert_eq!(back.name, "b");
        assert_eq!(back.versioning, VersioningState::Enabled);

        let mut newer = bytes.clone();
        newer[1] = 3;
        assert!(
            matches!(decode::<BucketRecord>(&newer), Err(StoreError::Corrupt(m)) if m.contains("newer"))
        );
        assert!(decode::<BucketRecord>(b"{}").is_err());
    }
}
