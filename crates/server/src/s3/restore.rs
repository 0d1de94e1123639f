//! Archived storage classes (GLACIER, DEEP_ARCHIVE) and RestoreObject, on the server's clock.
//!
//! An archived version's data is not readable: GET and copies of it answer 403
//! `InvalidObjectState`, HEAD answers (and says `x-amz-restore` once a restore was asked for).
//! RestoreObject makes a temporary copy readable after the class's and tier's restore time —
//! GLACIER: Expedited 5 minutes, Standard 5 hours, Bulk 12 hours; DEEP_ARCHIVE: Standard 12
//! hours, Bulk 48 hours (AWS's upper bounds) — for `Days` days. Times scale with
//! `day_seconds`, so a test with 1-second days sees a 5-hour restore in about 0.2 s.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use leadshop_store::{Restore, VersionRecord};

/// GET or copy of an archived version that is not restored.
pub(super) fn archived() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidObjectState,
        "The operation is not valid for the object's storage class",
    )
}

/// `x-amz-restore` of a version at `now_ms`, once a restore was asked for.
pub(super) fn restore_header(v: &VersionRecord, now_ms: i64) -> Option<String> {
    let r = v.restore.as_ref()?;
    if now_ms < r.ready_ms {
        return Some("ongoing-request=\"true\"".into());
    }
    if now_ms >= r.expiry_ms {
        return None;
    }
    Some(format!(
        "ongoing-request=\"false\", expiry-date=\"{}\"",
        super::convert::http_date(r.expiry_ms)?
    ))
}

/// Hours a restore takes, by class and tier; `None` where AWS offers no such tier.
fn restore_hours(class: leadshop_spec::StorageClass, tier: &str) -> Option<f64> {
    use leadshop_spec::StorageClass::{DeepArchive, Glacier};
    match (class, tier) {
        (Glacier, "Expedited") => Some(5.0 / 60.0),
        (Glacier, "Standard") => Some(5.0),
        (Glacier, "Bulk") => Some(12.0),
        (DeepArchive, "Standard") => Some(12.0),
        (DeepArchive, "Bulk") => Some(48.0),
        _ => None,
    }
}

pub(super) async fn restore_object(
    s: &Leadshop,
    req: S3Request<RestoreObjectInput>,
) -> S3Result<S3Response<RestoreObjectOutput>> {
    let input = req.input;
    let request = input.restore_request.unwrap_or_default();
    if request.type_.is_some() || request.select_parameters.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "S3 Select restore requests are not supported"
        ));
    }
    let days = match request.days {
        Some(d) if d >= 1 => i64::from(d),
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "Days must be a positive integer when restoring an archived object"
            ));
        }
    };
    let tier = request
        .glacier_job_parameters
        .as_ref()
        .map(|g| g.tier.as_str().to_string())
        .or_else(|| request.tier.as_ref().map(|t| t.as_str().to_string()))
        .unwrap_or_else(|| "Standard".into());
    let now = s.now_ms();
    let day_ms = s.day_ms();
    let (bucket, key, vid) = (input.bucket, input.key, input.version_id);
    // Decided inside the store's transaction: two restores at once cannot both start one.
    let rec = s
        .db(move |st| {
            st.update_version(&bucket, &key, vid.as_deref(), move |v| {
                if !v.is_archived() {
                    return Err(leadshop_store::StoreError::InvalidObjectState(
                        "Restore is not allowed for the object's current storage class",
                    ));
                }
                let Some(hours) = restore_hours(v.storage_class, &tier) else {
                    return Err(leadshop_store::StoreError::InvalidArgument(format!(
                        "The {tier} retrieval tier is not available for {}",
                        v.storage_class.name()
                    )));
                };
                match &v.restore {
                    Some(r) if now < r.ready_ms => {
                        return Err(leadshop_store::StoreError::RestoreAlreadyInProgress);
                    }
                    // Restored already: the copy is kept `days` from now.
                    Some(r) if now < r.expiry_ms => {
                        v.restore = Some(Restore {
                            ready_ms: r.ready_ms,
                            expiry_ms: now.saturating_add(days.saturating_mul(day_ms)),
                        });
                    }
                    _ => {
                        #[allow(clippy::cast_possible_truncation)]
                        let takes = (hours * day_ms as f64 / 24.0).round() as i64;
                        let ready = now.saturating_add(takes);
                        v.restore = Some(Restore {
                            ready_ms: ready,
                            expiry_ms: ready.saturating_add(days.saturating_mul(day_ms)),
                        });
                    }
                }
                Ok(())
            })
        })
        .await?;
    // A restore started now is not ready yet; an extended one is.
    let started = rec.restore.as_ref().is_some_and(|r| r.ready_ms > now);
    let mut resp = S3Response::new(RestoreObjectOutput::default());
    // 202 when a restore starts, 200 when an existing copy's expiry moves (as on AWS).
    if started {
        resp.extensions
            .insert(crate::context::StatusOverride(http::StatusCode::ACCEPTED));
    }
    Ok(resp)
}
