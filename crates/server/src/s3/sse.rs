//! Which key protects an object: SSE-S3 (the master key, the default), SSE-KMS (a keyring key
//! named by the request or the bucket's default encryption), or SSE-C ([`super::sse_c`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use leadshop_store::crypto::Key;
use leadshop_store::{Segment, SseAlgorithm};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use super::Leadshop;
use super::body::OwnedWrapping;
use super::sse_c::{self, CustomerKey};
use crate::bucket_config::BucketConfig;
use leadshop_keys::keyring::KmsError;

/// What a write asked for, from its headers.
pub(crate) struct WriteRequest<'a> {
    pub sse: Option<&'a str>,
    pub kms_key_id: Option<&'a str>,
    pub context: Option<&'a str>,
    pub customer: Option<CustomerKey>,
}

/// [`for_write`] for an object-creating input (PutObject, CopyObject, CreateMultipartUpload:
/// same field names, different types), into its bucket and key.
macro_rules! for_input {
    ($s:expr, $input:expr, $customer:expr) => {
        $crate::s3::sse::for_write(
            $s,
            &$input.bucket,
            &$input.key,
            $crate::s3::sse::WriteRequest {
                sse: $input.server_side_encryption.as_ref().map(|x| x.as_str()),
                kms_key_id: $input.ssekms_key_id.as_deref(),
                context: $input.ssekms_encryption_context.as_deref(),
                customer: $customer,
            },
        )
    };
}
pub(super) use for_input;

/// How a new object is encrypted, and what the response reports.
#[derive(Default)]
pub(crate) struct WriteEncryption {
    pub wrapping: Option<OwnedWrapping>,
    pub customer: Option<CustomerKey>,
    /// The keyring key's ARN, for `SSEKMSKeyId`.
    pub kms_key_arn: Option<String>,
}

pub(crate) fn kms_error(e: KmsError) -> S3Error {
    let (code, status) = match &e {
        KmsError::NotFound(_) => ("KMS.NotFoundException", http::StatusCode::BAD_REQUEST),
        KmsError::Disabled(_) => ("KMS.DisabledException", http::StatusCode::BAD_REQUEST),
        _ => (
            "KMS.InternalException",
            http::StatusCode::INTERNAL_SERVER_ERROR,
        ),
    };
    let mut err = S3Error::with_message(S3ErrorCode::Custom(code.into()), e.to_string());
    err.set_status_code(status);
    err
}

/// The bucket's default SSE-KMS or DSSE-KMS settings: the algorithm and the key, if named.
fn bucket_default(cfg: &BucketConfig) -> Option<(SseAlgorithm, Option<String>)> {
    let d = &cfg.encryption.as_ref()?.rules.first()?.default;
    SseAlgorithm::from_header(&d.sse_algorithm)
        .filter(|a| a.is_keyring())
        .map(|a| (a, d.kms_master_key_id.clone()))
}

/// The SSE-KMS encryption context: the request's (base64 JSON object of strings) plus
/// `aws:s3:arn` naming the object, as S3 adds it; canonical JSON (sorted keys).
fn context(header: Option<&str>, bucket: &str, key: &str) -> S3Result<String> {
    let mut map: BTreeMap<String, String> = match header {
        None => BTreeMap::new(),
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|j| serde_json::from_slice(&j).ok())
            .ok_or_else(|| {
                s3_error!(
                    InvalidArgument,
                    "The encryption context must be base64-encoded JSON of string pairs"
                )
            })?,
    };
    map.insert("aws:s3:arn".into(), format!("arn:aws:s3:::{bucket}/{key}"));
    Ok(serde_json::to_string(&map).expect("serialisable"))
}

/// Decides the encryption of a write into `bucket` (its default encryption applies).
///
/// # Errors
/// 400 for incompatible or unknown settings and KMS key errors; 403 when SSE-C is blocked.
pub(crate) async fn for_write(
    s: &Leadshop,
    bucket: &str,
    object_key: &str,
    req: WriteRequest<'_>,
) -> S3Result<WriteEncryption> {
    let bucket = &*s.bucket_config(bucket).await?;
    if let Some(c) = req.customer {
        if req.sse.is_some() || req.kms_key_id.is_some() {
            return Err(s3_error!(
                InvalidArgument,
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
            ));
        }
        sse_c::check_upload_allowed(bucket)?;
        return Ok(WriteEncryption {
            wrapping: Some(OwnedWrapping::customer(c.key.clone())),
            customer: Some(c),
            kms_key_arn: None,
        });
    }
    let requested_kms = match req.sse.map(|a| (a, SseAlgorithm::from_header(a))) {
        None => None,
        Some((_, Some(SseAlgorithm::S3))) => {
            if req.kms_key_id.is_some() {
                return Err(s3_error!(
                    InvalidArgument,
                    "x-amz-server-side-encryption-aws-kms-key-id is only valid with aws:kms"
                ));
            }
            return Ok(WriteEncryption::default());
        }
        Some((_, Some(algorithm @ (SseAlgorithm::Kms | SseAlgorithm::KmsDsse)))) => {
            Some((algorithm, req.kms_key_id.map(str::to_string)))
        }
        Some((other, _)) => {
            return Err(s3_error!(
                InvalidArgument,
                "Unknown server-side encryption {other}"
            ));
        }
    };
    if requested_kms.is_none() && req.kms_key_id.is_some() {
        return Err(s3_error!(
            InvalidArgument,
            "x-amz-server-side-encryption-aws-kms-key-id requires x-amz-server-side-encryption: aws:kms or aws:kms:dsse"
        ));
    }
    // A request naming aws:kms(:dsse) without a key gets the bucket's default key if any.
    let wanted = match requested_kms {
        Some((algorithm, k)) => Some((
            algorithm,
            k.or_else(|| bucket_default(bucket).and_then(|(_, k)| k)),
        )),
        None => bucket_default(bucket),
    };
    let Some((algorithm, wanted)) = wanted else {
        return Ok(WriteEncryption::default());
    };
    let key = match wanted {
        Some(w) => s.core.keyring.resolve(&w),
        // Making the default key (the first time) takes a file lock and an fsync: not on the
        // async threads.
        None => {
            let keyring = s.core.keyring.clone();
            tokio::task::spawn_blocking(move || keyring.default_key())
                .await
                .map_err(S3Error::internal_error)?
        }
    }
    .map_err(kms_error)?;
    let ctx = context(req.context, &bucket.name, object_key)?;
    Ok(WriteEncryption {
        kms_key_arn: Some(s.kms_arn(&key.key_id)),
        wrapping: Some(OwnedWrapping {
            key: key.key,
            algorithm,
            key_id: key.key_id,
            context: Some(ctx),
        }),
        customer: None,
    })
}

/// The key that opens an object's data keys when it is not the master key, checked before a
/// byte is sent: the customer's (SSE-C) or the keyring key (SSE-KMS, which must be enabled).
///
/// # Errors
/// As [`sse_c::check_read`]; KMS.DisabledException / KMS.NotFoundException (400).
pub(crate) fn for_read(
    s: &Leadshop,
    segments: &[Segment],
    customer: Option<&CustomerKey>,
) -> S3Result<(Option<Arc<Key>>, Option<String>)> {
    sse_c::check_read(segments, customer)?;
    if let Some(c) = customer {
        return Ok((Some(c.key.clone()), None));
    }
    let mut ids = segments
        .iter()
        .filter_map(|seg| seg.envelope.as_ref())
        .filter(|e| e.algorithm.is_keyring())
        .map(|e| e.key_id.as_str());
    let Some(first) = ids.next() else {
        return Ok((None, None));
    };
    if ids.any(|i| i != first) {
        return Err(s3_error!(
            NotImplemented,
            "an object whose parts use different KMS keys cannot be read"
        ));
    }
    let key = s.core.keyring.resolve(first).map_err(kms_error)?;
    Ok((Some(key.key), Some(s.kms_arn(first))))
}
