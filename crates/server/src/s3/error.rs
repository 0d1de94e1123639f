//! The one place engine errors become S3 errors.

use http::{HeaderMap, HeaderValue};
use leadshop_store::StoreError;
use s3s::{S3Error, S3ErrorCode, s3_error};

/// Maps an engine error to the S3 error a client expects, keeping the source for logs.
pub(crate) fn from_store(e: StoreError) -> S3Error {
    match e {
        StoreError::NoSuchBucket(_) => {
            s3_error!(NoSuchBucket, "The specified bucket does not exist")
        }
        // Single-tenant server: every bucket belongs to the caller's account.
        StoreError::BucketAlreadyExists(_) => s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        ),
        StoreError::TooManyBuckets(max) => S3Error::with_message(
            S3ErrorCode::TooManyBuckets,
            format!("You have attempted to create more buckets than allowed ({max}: max_buckets)."),
        ),
        StoreError::BucketNotEmpty(_) => s3_error!(
            BucketNotEmpty,
            "The bucket you tried to delete is not empty"
        ),
        StoreError::NoSuchKey { delete_marker, .. } => {
            let mut err = s3_error!(NoSuchKey, "The specified key does not exist.");
            if let Some(vid) = delete_marker {
                err.set_headers(delete_marker_headers(&vid));
            }
            err
        }
        StoreError::NoSuchVersion(_) => {
            s3_error!(NoSuchVersion, "The specified version does not exist.")
        }
        StoreError::MethodNotAllowed(vid) => {
            let mut err = s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against this resource."
            );
            err.set_headers(delete_marker_headers(&vid));
            err
        }
        StoreError::NoSuchUpload(_) => s3_error!(
            NoSuchUpload,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        ),
        StoreError::InvalidPart(n) => S3Error::with_message(
            S3ErrorCode::InvalidPart,
            format!("Part {n} could not be found or its ETag did not match."),
        ),
        StoreError::InvalidPartOrder => s3_error!(
            InvalidPartOrder,
            "The list of parts was not in ascending order."
        ),
        StoreError::EntityTooSmall(n) => S3Error::with_message(
            S3ErrorCode::EntityTooSmall,
            format!("Part {n} is smaller than the minimum allowed object size of 5 MiB."),
        ),
        StoreError::ChecksumMismatch(alg) => S3Error::with_message(
            S3ErrorCode::BadDigest,
            format!("The {alg} you specified did not match the calculated checksum."),
        ),
        StoreError::PreconditionFailed(m) => {
            S3Error::with_message(S3ErrorCode::PreconditionFailed, m)
        }
        StoreError::ConditionalRequestConflict => s3_error!(ConditionalRequestConflict),
        StoreError::InvalidBucketState(m) => s3_error!(InvalidBucketState, "{}", m),
        StoreError::InvalidRequest(m) => s3_error!(InvalidRequest, "{}", m),
        StoreError::ObjectLocked => s3_error!(
            AccessDenied,
            "Access Denied because object protected by object lock."
        ),
        StoreError::InvalidArgument(m) => S3Error::with_message(S3ErrorCode::InvalidArgument, m),
        StoreError::InvalidObjectState(m) => {
            S3Error::with_message(S3ErrorCode::InvalidObjectState, m)
        }
        StoreError::RestoreAlreadyInProgress => S3Error::with_message(
            S3ErrorCode::RestoreAlreadyInProgress,
            "Object restore is already in progress",
        ),
        e @ (StoreError::Corrupt(_)
        | StoreError::CommitFailed(_)
        | StoreError::Db(_)
        | StoreError::Io(_)) => {
            if is_disk_full(&e) {
                return disk_full(e);
            }
            tracing::warn!(error = %e, "storage engine failure");
            S3Error::internal_error(e)
        }
    }
}

fn delete_marker_headers(version_id: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-amz-delete-marker", HeaderValue::from_static("true"));
    if let Ok(v) = HeaderValue::from_str(version_id) {
        h.insert("x-amz-version-id", v);
    }
    h
}

/// An I/O failure while moving object bytes.
pub(crate) fn io(e: std::io::Error) -> S3Error {
    if is_disk_full(&e) {
        return disk_full(e);
    }
    tracing::warn!(error = %e, "object data i/o failure");
    S3Error::internal_error(e)
}

/// Whether an error (or its cause) is the disk or a quota being full.
fn is_disk_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// 507 InsufficientStorage: not an InternalError, which SDKs retry at once and in vain.
/// Nothing of the request is kept (its temp file is removed with it).
fn disk_full(e: impl std::error::Error + Send + Sync + 'static) -> S3Error {
    tracing::warn!(error = %e, "the data directory's disk is full; refusing the write");
    let mut err = custom(
        "InsufficientStorage",
        "The server has no space left to store this request. Free space on the server, then retry.",
        http::StatusCode::INSUFFICIENT_STORAGE,
    );
    err.set_source(Box::new(e));
    err
}

/// A refusal (a validator's, `leadshop_spec::Refusal`) as the S3 error it is: s3s's variant of
/// its code, with the code's status.
pub(crate) fn refused(r: leadshop_spec::Refusal) -> S3Error {
    crate::shell::errors::from_refusal(r)
}

/// `MalformedXML`, in AWS's words.
pub(crate) fn malformed_xml() -> S3Error {
    refused(leadshop_spec::Refusal::malformed_xml())
}

/// An S3 error code s3s has no variant for, with its status.
pub(crate) fn custom(
    code: &'static str,
    message: impl Into<String>,
    status: http::StatusCode,
) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.into()), message.into());
    e.set_status_code(status);
    e
}
