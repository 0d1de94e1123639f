//! Both ends of replication that run inside this server: reading a source version for the
//! replication worker (decrypted with its own keys, which never leave the server), writing a
//! replica into a bucket of this same server (encrypted again under that bucket's own
//! settings), and a leadshop destination's side of a replica that arrives over the wire (the
//! `x-leadshop-replica-of` header: the source version it copies, stored with the replica so a
//! second delivery of it is answered with the first, authorised as `s3:ReplicateObject` /
//! `s3:ReplicateDelete`).

use leadshop_store::{
    NewVersion, ReplicationTask, StorageClass, StoreError, VersionRecord, VersioningState,
};
use s3s::{S3Error, S3ErrorCode, S3Result};

use super::Leadshop;
use super::body::{self, ChecksumPlan};
use super::reader::ObjectReader;

/// Why a delivery did not happen.
#[derive(Debug, Clone)]
pub(crate) struct Undelivered {
    /// Worth trying again later (the destination was down, busy, or failed itself).
    pub retry: bool,
    /// The S3 error code, or words.
    pub reason: String,
}

impl Undelivered {
    pub(crate) fn refused(reason: impl Into<String>) -> Self {
        Self {
            retry: false,
            reason: reason.into(),
        }
    }

    pub(crate) fn later(reason: impl Into<String>) -> Self {
        Self {
            retry: true,
            reason: reason.into(),
        }
    }

    /// An S3 error of this server's: a server-side failure (5xx, SlowDown) is retried, a
    /// refusal is not.
    fn of(e: &S3Error) -> Self {
        let code = e.code().as_str().to_string();
        let server_side = e.status_code().is_some_and(|s| s.is_server_error())
            || matches!(e.code(), S3ErrorCode::SlowDown | S3ErrorCode::InternalError);
        Self {
            retry: server_side,
            reason: code,
        }
    }
}

/// The source version a task names, as `<bucket>/<version id>` (what a replica records).
#[must_use]
pub(crate) fn source_id(task: &ReplicationTask) -> String {
    format!("{}/{}", task.bucket, task.version_id)
}

/// A bucket's replication configuration (cached with its configuration), if it has one.
pub(crate) async fn configuration(
    s: &Leadshop,
    bucket: &str,
) -> Option<std::sync::Arc<leadshop_spec::replication::ReplicationConfiguration>> {
    s.bucket_config(bucket).await.ok()?.replication.clone()
}

/// The source version of `task` and a reader of its plaintext, or `None` when the version is
/// gone (deleted before it was replicated: nothing is left to send).
///
/// # Errors
/// A version whose keys cannot open it (a disabled KMS key: retried, it may be enabled again).
pub(crate) async fn open_source(
    s: &Leadshop,
    task: &ReplicationTask,
) -> Result<Option<(VersionRecord, ObjectReader)>, Undelivered> {
    let (bucket, key, vid) = (
        task.bucket.clone(),
        task.key.clone(),
        task.version_id.clone(),
    );
    let found = s
        .db(move |st| match st.get_version(&bucket, &key, Some(&vid)) {
            Ok(v) => Ok(Some(v)),
            Err(
                StoreError::NoSuchVersion(_)
                | StoreError::NoSuchKey { .. }
                | StoreError::NoSuchBucket(_),
            ) => Ok(None),
            Err(e) => Err(e),
        })
        .await
        .map_err(|e| Undelivered::later(e.code().as_str()))?;
    let Some(v) = found else {
        return Ok(None);
    };
    let (wrapping, _) = super::sse::for_read(s, &v.segments, None)
        .map_err(|e| Undelivered::later(e.code().as_str()))?;
    let reader = ObjectReader::new(s.store().clone(), v.segments.clone(), 0, v.size)
        .named(&task.bucket, &task.key, &task.version_id)
        .with_customer_key(wrapping);
    Ok(Some((v, reader)))
}

/// Replicates `task` into `dest`, a bucket of this server: the source's plaintext written as a
/// new version under the destination's own encryption (the rule's `ReplicaKmsKeyID`, else the
/// bucket's default), marked as a replica of the source version. A second delivery of the same
/// version stores nothing.
///
/// # Errors
/// The destination refuses it (gone, not versioned, a key that does not resolve), or a
/// failure worth retrying.
pub(crate) async fn deliver_local(
    s: &Leadshop,
    task: &ReplicationTask,
    dest: &str,
    replica_kms_key: Option<&str>,
) -> Result<(), Undelivered> {
    let config = s
        .bucket_config(dest)
        .await
        .map_err(|e| Undelivered::of(&e))?;
    if config.versioning != VersioningState::Enabled {
        return Err(Undelivered::refused(
            "InvalidRequest: the destination bucket's versioning is not enabled",
        ));
    }
    let source = source_id(task);
    if task.delete_marker {
        let (dest, key) = (dest.to_string(), task.key.clone());
        return s
            .db(move |st| st.delete_as_replica(&dest, &key, &source))
            .await
            .map(|_| ())
            .map_err(|e| Undelivered::of(&e));
    }
    let Some((v, reader)) = open_source(s, task).await? else {
        return Ok(());
    };
    let enc = super::sse::for_write(
        s,
        dest,
        &task.key,
        super::sse::WriteRequest {
            sse: replica_kms_key.map(|_| "aws:kms"),
            kms_key_id: replica_kms_key,
            context: None,
            customer: None,
        },
    )
    .await
    .map_err(|e| Undelivered::of(&e))?;
    let algorithm = v.checksums.first_algorithm().map(|a| a.upper().to_string());
    let plan = ChecksumPlan::computing(algorithm.as_deref());
    let ingested = body::ingest(
        s,
        Some(reader.into_blob()),
        &plan,
        None,
        None,
        enc.wrapping,
        body::Inline::Allowed,
    )
    .await
    .map_err(|e| Undelivered::of(&e))?;
    let new = NewVersion {
        key: task.key.clone(),
        storage_class: task
            .storage_class
            .as_deref()
            .and_then(StorageClass::parse)
            .unwrap_or(v.storage_class),
        headers: v.headers.clone(),
        metadata: v.metadata.clone(),
        tags: v.tags.clone(),
        replica_of: Some(source),
        ..NewVersion::default()
    };
    super::object::write_version(s, dest.to_string(), new, ingested, None)
        .await
        .map(|_| ())
        .map_err(|e| Undelivered::of(&e))
}

/// A DeleteObject that carries `x-leadshop-replica-of`: the delete marker of a replicated
/// source marker, made once.
pub(super) async fn delete_marker(
    s: &Leadshop,
    bucket: String,
    key: String,
    source: String,
) -> S3Result<leadshop_store::DeleteOutcome> {
    s.db(move |st| st.delete_as_replica(&bucket, &key, &source))
        .await
}
