//! The write protocol's last step, owned by the store: sealed data becomes a committed version
//! (or part) in one call, stamped by the store's clock; if the commit is refused (a
//! precondition, a bucket deleted meanwhile, a full disk) the data file is removed, so nothing
//! of a failed write stays behind. Handlers describe what they write; they never build records
//! or touch data files.

use std::collections::BTreeMap;

use crate::data::SealedData;
use crate::db::{PutOutcome, WritePrecondition};
use crate::record::{Checksums, ContentHeaders, PartRecord, Segment, VersionRecord};
use crate::{Store, StoreError};

/// What a new object version is, apart from its data and what the store assigns (version
/// id, time).
#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    /// Object key.
    pub key: String,
    /// The ETag, without quotes.
    pub etag: String,
    /// Its storage class.
    pub storage_class: crate::StorageClass,
    /// The checksums computed over the data.
    pub checksums: Checksums,
    /// Content-Type and the other stored response headers.
    pub headers: ContentHeaders,
    /// `x-amz-meta-*`.
    pub metadata: BTreeMap<String, String>,
    /// Object tags.
    pub tags: BTreeMap<String, String>,
    /// Object Lock retention.
    pub retention: Option<crate::lock::Retention>,
    /// Object Lock legal hold.
    pub legal_hold: bool,
    /// The ACL (ACL-enabled buckets).
    pub acl: Option<serde_json::Value>,
    /// A replica: the source version it copies (`<bucket>/<version id>`). A version of the key
    /// that already copies it is answered instead of storing a second one.
    pub replica_of: Option<String>,
}

/// What a new multipart part is, apart from its data.
#[derive(Debug, Clone, Default)]
pub struct NewPart {
    /// 1 to 10,000.
    pub part_number: i32,
    /// The part's ETag, without quotes.
    pub etag: String,
    /// The checksums computed over the part.
    pub checksums: Checksums,
}

impl Store {
    /// Commits sealed data as a new version of `bucket`/`new.key` if `precondition` holds.
    ///
    /// # Errors
    /// As [`Store::put_version`]; the data file is removed first.
    pub fn commit_version(
        &self,
        bucket: &str,
        new: NewVersion,
        data: SealedData,
        precondition: Option<WritePrecondition>,
    ) -> Result<PutOutcome, StoreError> {
        let rec = VersionRecord {
            key: new.key,
            version_id: String::new(),
            delete_marker: false,
            last_modified_ms: self.clock().now_ms(),
            size: data.len,
            etag: new.etag,
            storage_class: new.storage_class,
            checksums: new.checksums,
            headers: new.headers,
            metadata: new.metadata,
            tags: new.tags,
            segments: vec![Segment {
                file: data.file,
                len: data.len,
                envelope: data.envelope,
                part_checksums: None,
                inline: data.inline.is_some(),
            }],
            encryption: None,
            restore: None,
            retention: new.retention,
            legal_hold: new.legal_hold,
            acl: new.acl,
            replication: None,
            replica_of: new.replica_of,
        };
        let inline = data.inline.map(|bytes| (data.file, bytes));
        self.put_version_with(bucket, rec, precondition, inline)
            .inspect_err(|_| self.discard(data.file))
    }

    /// Commits sealed data as a part of upload `upload_id` (replacing a part with the same
    /// number, whose file is then removed).
    ///
    /// # Errors
    /// As [`Store::put_part`]; the data file is removed first.
    pub fn commit_part(
        &self,
        upload_id: &str,
        new: NewPart,
        data: SealedData,
    ) -> Result<PartRecord, StoreError> {
        if data.inline.is_some() {
            // Parts are written by `Store::writer`, which never keeps data inline.
            return Err(StoreError::Corrupt(
                "a part's data must be a file (written by an inline writer)".into(),
            ));
        }
        let part = PartRecord {
            part_number: new.part_number,
            size: data.len,
            etag: new.etag,
            last_modified_ms: self.clock().now_ms(),
            checksums: new.checksums,
            file: data.file,
            envelope: data.envelope,
        };
        self.put_part(upload_id, &part)
            .inspect_err(|_| self.discard(data.file))?;
        Ok(part)
    }
}
