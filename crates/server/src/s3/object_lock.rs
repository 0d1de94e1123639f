//! Object Lock: CreateBucket with `x-amz-bucket-object-lock-enabled` (versioned from the start,
//! versioning can never be suspended), Put/GetObjectLockConfiguration (default retention),
//! Put/GetObjectRetention, Put/GetObjectLegalHold, and the lock headers of uploads and copies.
//!
//! A version under a legal hold or a retention in force cannot be deleted by anyone — the
//! store refuses it inside the delete's transaction, lifecycle included. A GOVERNANCE retention
//! yields to a caller who sends `x-amz-bypass-governance-retention: true` and is allowed
//! `s3:BypassGovernanceRetention`; a COMPLIANCE one can be extended, never shortened or removed.
//! Retention periods are calendar days on the server's clock (not scaled by `day_seconds`).

use std::sync::Arc;

use leadshop_spec::object_lock::{self as spec, ObjectLockConfiguration};
use leadshop_store::{Retention, StoreError};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::{Leadshop, convert};
use crate::access::Authz;
use crate::bucket_config::{BucketConfig, OBJECT_LOCK_DOC};

fn missing() -> S3Error {
    s3_error!(
        InvalidRequest,
        "Bucket is missing Object Lock Configuration"
    )
}

/// A retention in `mode` until `until`, which must be in the future (headers and bodies alike).
fn retention(mode: &str, until: &Timestamp, now_ms: i64) -> S3Result<Retention> {
    let until_ms = convert::ms(until);
    if until_ms <= now_ms {
        return Err(s3_error!(
            InvalidArgument,
            "The retain until date must be in the future!"
        ));
    }
    Ok(Retention {
        mode: mode.to_string(),
        until_ms,
    })
}

/// The lock headers of a version (GET, HEAD).
pub(super) struct LockHeaders {
    pub(super) mode: Option<ObjectLockMode>,
    pub(super) until: Option<Timestamp>,
    pub(super) legal_hold: Option<ObjectLockLegalHoldStatus>,
}

pub(super) fn headers_of(v: &leadshop_store::VersionRecord) -> LockHeaders {
    LockHeaders {
        mode: v
            .retention
            .as_ref()
            .map(|r| ObjectLockMode::from(r.mode.clone())),
        until: v.retention.as_ref().map(|r| convert::ts(r.until_ms)),
        legal_hold: v
            .legal_hold
            .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON)),
    }
}

/// What a new version gets: the request's lock headers, else the bucket's default retention.
/// `integrity` is whether the request carries Content-MD5 or a checksum, which AWS requires of
/// a PutObject that locks what it writes.
pub(super) fn for_write(
    s: &Leadshop,
    config: &BucketConfig,
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
    integrity: Option<bool>,
) -> S3Result<(Option<Retention>, bool)> {
    let Some(lock) = config.object_lock.as_ref() else {
        if mode.is_some() || until.is_some() || hold.is_some() {
            return Err(missing());
        }
        return Ok((None, false));
    };
    let now = s.now_ms();
    let explicit = match (mode, until) {
        (None, None) => None,
        (Some(m), Some(u)) => {
            if !spec::is_mode(m.as_str()) {
                return Err(s3_error!(InvalidArgument, "Unknown wormMode directive."));
            }
            Some(retention(m.as_str(), u, now)?)
        }
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
            ));
        }
    };
    let retention = explicit.or_else(|| {
        lock.default_retention(now)
            .map(|(mode, until_ms)| Retention { mode, until_ms })
    });
    let legal_hold = hold.is_some_and(|h| h.as_str() == ObjectLockLegalHoldStatus::ON);
    if integrity == Some(false) && (retention.is_some() || legal_hold) {
        return Err(s3_error!(
            InvalidRequest,
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters"
        ));
    }
    Ok((retention, legal_hold))
}

/// Whether a request asked to bypass GOVERNANCE retention and its caller may.
pub(super) async fn may_bypass(
    s: &Leadshop,
    extensions: &http::Extensions,
    asked: Option<bool>,
    bucket: &str,
    key: &str,
) -> bool {
    if asked != Some(true) {
        return false;
    }
    let Some(authz) = extensions.get::<Arc<Authz>>() else {
        return false;
    };
    let resource = format!("arn:aws:s3:::{bucket}/{key}");
    s.core
        .access
        .authorize(authz, "s3:BypassGovernanceRetention", bucket, &resource)
        .await
        .is_ok()
}

pub(super) async fn get_object_lock_configuration(
    s: &Leadshop,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let config = s.bucket_config(&req.input.bucket).await?;
    let Some(lock) = config.object_lock.as_ref() else {
        return Err(s3_error!(
            ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket"
        ));
    };
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(config_dto(lock)),
    }))
}

fn config_dto(c: &ObjectLockConfiguration) -> s3s::dto::ObjectLockConfiguration {
    s3s::dto::ObjectLockConfiguration {
        object_lock_enabled: Some(ObjectLockEnabled::from(c.object_lock_enabled.clone())),
        rule: c.rule.as_ref().map(|r| ObjectLockRule {
            default_retention: Some(DefaultRetention {
                mode: Some(ObjectLockRetentionMode::from(
                    r.default_retention.mode.clone(),
                )),
                days: r.default_retention.days,
                years: r.default_retention.years,
            }),
        }),
    }
}

pub(super) async fn put_object_lock_configuration(
    s: &Leadshop,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    let input = req.input;
    let dto = input
        .object_lock_configuration
        .ok_or_else(super::error::malformed_xml)?;
    let doc = ObjectLockConfiguration {
        object_lock_enabled: dto
            .object_lock_enabled
            .map(|e| e.as_str().to_string())
            .ok_or_else(super::error::malformed_xml)?,
        rule: dto
            .rule
            .map(|r| -> S3Result<spec::LockRule> {
                let d = r
                    .default_retention
                    .ok_or_else(super::error::malformed_xml)?;
                Ok(spec::LockRule {
                    default_retention: spec::DefaultRetention {
                        mode: d
                            .mode
                            .map(|m| m.as_str().to_string())
                            .ok_or_else(super::error::malformed_xml)?,
                        days: d.days,
                        years: d.years,
                    },
                })
            })
            .transpose()?,
    };
    doc.validate().map_err(super::error::refused)?;
    let value = serde_json::to_value(&doc).map_err(S3Error::internal_error)?;
    let bucket = input.bucket;
    s.db(move |st| {
        st.update_bucket(&bucket, move |b| {
            // AWS lets a versioned bucket turn Object Lock on; never off.
            if b.versioning != leadshop_store::VersioningState::Enabled {
                return Err(StoreError::InvalidBucketState(
                    "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
                ));
            }
            b.documents.insert(OBJECT_LOCK_DOC.into(), value);
            Ok(())
        })
    })
    .await?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

/// The version a retention or legal-hold call names, in a bucket with Object Lock.
async fn locked_version(
    s: &Leadshop,
    bucket: String,
    key: String,
    vid: Option<String>,
) -> S3Result<leadshop_store::VersionRecord> {
    let config = s.bucket_config(&bucket).await?;
    if config.object_lock.is_none() {
        return Err(missing());
    }
    s.db(move |st| st.get_version(&bucket, &key, vid.as_deref()))
        .await
}

pub(super) async fn get_object_retention(
    s: &Leadshop,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let input = req.input;
    let v = locked_version(s, input.bucket, input.key, input.version_id).await?;
    let Some(r) = v.retention.as_ref() else {
        return Err(s3_error!(
            NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration"
        ));
    };
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from(r.mode.clone())),
            retain_until_date: Some(convert::ts(r.until_ms)),
        }),
    }))
}

pub(super) async fn put_object_retention(
    s: &Leadshop,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let config = s.bucket_config(&req.input.bucket).await?;
    if config.object_lock.is_none() {
        return Err(missing());
    }
    let bypass = may_bypass(
        s,
        &req.extensions,
        req.input.bypass_governance_retention,
        &req.input.bucket,
        &req.input.key,
    )
    .await;
    let input = req.input;
    let now = s.now_ms();
    let wanted = match input.retention {
        None => None,
        Some(r) => match (r.mode, r.retain_until_date) {
            (None, None) => None,
            (Some(m), Some(u)) if spec::is_mode(m.as_str()) => {
                Some(retention(m.as_str(), &u, now)?)
            }
            _ => {
                return Err(super::error::malformed_xml());
            }
        },
    };
    let (bucket, key, vid) = (input.bucket, input.key, input.version_id);
    s.db(move |st| {
        st.update_version(&bucket, &key, vid.as_deref(), move |v| {
            // Decided against the version as it is in this transaction.
            let old_until = v.retention.as_ref().map_or(i64::MIN, |r| r.until_ms);
            let keeps_or_extends =
                |w: &Option<Retention>| w.as_ref().is_some_and(|w| w.until_ms >= old_until);
            // A legal hold does not bear on retention changes; only the retention in force.
            match v.retention.as_ref().filter(|r| r.until_ms > now) {
                Some(r)
                    if r.mode == "COMPLIANCE"
                        && !(keeps_or_extends(&wanted)
                            && wanted.as_ref().is_some_and(|w| w.mode == "COMPLIANCE")) =>
                {
                    return Err(StoreError::ObjectLocked);
                }
                Some(r) if r.mode != "COMPLIANCE" && !keeps_or_extends(&wanted) && !bypass => {
                    return Err(StoreError::ObjectLocked);
                }
                _ => {}
            }
            v.retention = wanted;
            Ok(())
        })
    })
    .await?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub(super) async fn get_object_legal_hold(
    s: &Leadshop,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let input = req.input;
    let v = locked_version(s, input.bucket, input.key, input.version_id).await?;
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(ObjectLockLegalHoldStatus::from_static(if v.legal_hold {
                ObjectLockLegalHoldStatus::ON
            } else {
                ObjectLockLegalHoldStatus::OFF
            })),
        }),
    }))
}

pub(super) async fn put_object_legal_hold(
    s: &Leadshop,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let input = req.input;
    let config = s.bucket_config(&input.bucket).await?;
    if config.object_lock.is_none() {
        return Err(missing());
    }
    let on = match input.legal_hold.and_then(|h| h.status) {
        Some(st) if st.as_str() == ObjectLockLegalHoldStatus::ON => true,
        Some(st) if st.as_str() == ObjectLockLegalHoldStatus::OFF => false,
        _ => {
            return Err(super::error::malformed_xml());
        }
    };
    let (bucket, key, vid) = (input.bucket, input.key, input.version_id);
    s.db(move |st| {
        st.update_version(&bucket, &key, vid.as_deref(), move |v| {
            v.legal_hold = on;
            Ok(())
        })
    })
    .await?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}
