//! SSE-C: objects encrypted under a key the client sends with every request. The key wraps
//! the object's data key and is never stored; a wrong key fails to unwrap it (403).
//!
//! As on AWS since April 2026, buckets refuse SSE-C uploads (403 AccessDenied) unless their
//! encryption configuration unblocks it (`BlockedEncryptionTypes: {EncryptionType: [NONE]}`);
//! requests carrying a customer key over plain HTTP are refused by the access hook.

use std::sync::Arc;

use base64::Engine;
use leadshop_store::crypto::Key;
use leadshop_store::{Segment, SseAlgorithm};
use md5::Digest;
use s3s::{S3Result, s3_error};

/// The SSE-C key a request's `x-amz-server-side-encryption-customer-*` headers name (every
/// input DTO that has them spells them the same), or `None`; refused as [`from_headers`]
/// refuses.
macro_rules! customer_key {
    ($input:expr) => {
        $crate::s3::sse_c::from_headers(
            $input.sse_customer_algorithm.as_deref(),
            $input.sse_customer_key.as_deref(),
            $input.sse_customer_key_md5.as_deref(),
        )
    };
}
pub(super) use customer_key;

/// The customer key of an SSE-C copy source (`x-amz-copy-source-server-side-encryption-customer-*`).
macro_rules! source_customer_key {
    ($input:expr) => {
        $crate::s3::sse_c::from_headers(
            $input.copy_source_sse_customer_algorithm.as_deref(),
            $input.copy_source_sse_customer_key.as_deref(),
            $input.copy_source_sse_customer_key_md5.as_deref(),
        )
    };
}
pub(super) use source_customer_key;

/// The only algorithm `x-amz-server-side-encryption-customer-algorithm` names.
const ALGORITHM: &str = "AES256";

/// `x-amz-server-side-encryption-customer-algorithm` of a response: set when the request or
/// the object used a customer key.
pub(crate) fn algorithm<T>(customer: Option<T>) -> Option<String> {
    customer.map(|_| ALGORITHM.to_string())
}

/// A customer-provided key from the request headers, checked against its MD5.
#[derive(Clone)]
pub(crate) struct CustomerKey {
    pub key: Arc<Key>,
    /// Base64 MD5 of the key, echoed in responses as AWS does.
    pub md5: String,
}

/// Reads the three SSE-C headers (algorithm, key, key MD5); `None` when the request has none.
///
/// # Errors
/// 400 InvalidArgument for a missing header, another algorithm, a key that is not 256 bits,
/// or an MD5 that does not match.
pub(crate) fn from_headers(
    algorithm: Option<&str>,
    key: Option<&str>,
    key_md5: Option<&str>,
) -> S3Result<Option<CustomerKey>> {
    if algorithm.is_none() && key.is_none() && key_md5.is_none() {
        return Ok(None);
    }
    if algorithm != Some(ALGORITHM) {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm."
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes: [u8; 32] = key
        .and_then(|k| b64.decode(k).ok())
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The secret key was invalid for the specified algorithm."
            )
        })?;
    let md5 = b64.encode(md5::Md5::digest(bytes));
    if key_md5 != Some(md5.as_str()) {
        return Err(s3_error!(
            InvalidArgument,
            "The calculated MD5 hash of the key did not match the hash that was provided."
        ));
    }
    Ok(Some(CustomerKey {
        key: Arc::new(Key::from_bytes(bytes)),
        md5,
    }))
}

/// Refuses an SSE-C upload to a bucket that has not unblocked it.
///
/// # Errors
/// 403 AccessDenied, as AWS answers.
pub(crate) fn check_upload_allowed(bucket: &crate::bucket_config::BucketConfig) -> S3Result<()> {
    if bucket.sse_c_allowed() {
        Ok(())
    } else {
        Err(s3_error!(
            AccessDenied,
            "SSE-C is blocked for this bucket (BlockedEncryptionTypes); unblock it with PutBucketEncryption"
        ))
    }
}

/// Whether data under these segments was written with a customer key.
pub(crate) fn is_sse_c(segments: &[Segment]) -> bool {
    segments.iter().any(|s| {
        s.envelope
            .as_ref()
            .is_some_and(|e| e.algorithm == SseAlgorithm::Customer)
    })
}

/// Before any byte is sent: an SSE-C object needs its key, and the key must open every
/// segment; other objects must not be sent a key.
///
/// # Errors
/// 400 InvalidRequest for a missing or inapplicable key, 403 AccessDenied for a wrong one.
pub(crate) fn check_read(segments: &[Segment], key: Option<&CustomerKey>) -> S3Result<()> {
    match (is_sse_c(segments), key) {
        (false, None) => Ok(()),
        (false, Some(_)) => Err(s3_error!(
            InvalidRequest,
            "The encryption parameters are not applicable to this object."
        )),
        (true, None) => Err(s3_error!(
            InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
        )),
        (true, Some(k)) => {
            let opens = segments.iter().all(|s| {
                s.envelope.as_ref().is_some_and(|e| {
                    hex::decode(&e.wrapped_key).is_ok_and(|w| {
                        leadshop_store::crypto::unwrap_key(&k.key, leadshop_store::SSE_C_KEY_ID, &w)
                            .is_ok()
                    })
                })
            });
            if opens {
                Ok(())
            } else {
                Err(s3_error!(
                    AccessDenied,
                    "The provided customer key does not match the key the object was encrypted with."
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_against_their_md5() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = [7u8; 32];
        let k = b64.encode(key);
        let m = b64.encode(md5::Md5::digest(key));
        assert!(from_headers(None, None, None).unwrap().is_none());
        assert_eq!(
            from_headers(Some("AES256"), Some(&k), Some(&m))
                .unwrap()
                .unwrap()
                .md5,
            m
        );
        let refused = |r: S3Result<Option<CustomerKey>>, why: &str| {
            let e = r.err().expect("refused");
            assert_eq!(*e.code(), s3s::S3ErrorCode::InvalidArgument);
            assert!(e.message().is_some_and(|m| m.contains(why)), "{e:?}");
        };
        refused(from_headers(Some("AES256"), Some(&k), Some("AAAA")), "MD5");
        refused(
            from_headers(Some("aws:kms"), Some(&k), Some(&m)),
            "algorithm",
        );
        refused(
            from_headers(Some("AES256"), Some(&b64.encode([1u8; 16])), Some(&m)),
            "secret key was invalid",
        );
    }
}
