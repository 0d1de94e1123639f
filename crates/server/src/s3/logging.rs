//! Put/GetBucketLogging: server access logging, kept as the AWS JSON document
//! (`bucket_config::LOGGING_DOC`); the access-log subscriber and delivery worker
//! (`events::access_log`, `workers::log_delivery`) do the logging.
//!
//! As on AWS with Object Ownership `BucketOwnerEnforced`, the target bucket must exist, must
//! not have a default Object Lock retention, takes no target grants, and its bucket policy
//! must let `logging.s3.amazonaws.com` `s3:PutObject` under the target prefix for this source
//! bucket; otherwise PutBucketLogging answers `InvalidTargetBucketForLogging`.

use leadshop_spec::logging::{self as spec, LogObject};
use leadshop_spec::{ErrorCode, Refusal};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use crate::bucket_config::LOGGING_DOC;

fn format_in(f: TargetObjectKeyFormat) -> spec::TargetObjectKeyFormat {
    spec::TargetObjectKeyFormat {
        simple_prefix: f.simple_prefix.map(|_| serde_json::Map::new()),
        partitioned_prefix: f.partitioned_prefix.map(|p| spec::PartitionedPrefix {
            partition_date_source: p.partition_date_source.map(|d| d.as_str().to_string()),
        }),
    }
}

fn format_out(f: &spec::TargetObjectKeyFormat) -> TargetObjectKeyFormat {
    TargetObjectKeyFormat {
        simple_prefix: f.simple_prefix.as_ref().map(|_| SimplePrefix {}),
        partitioned_prefix: f.partitioned_prefix.as_ref().map(|p| PartitionedPrefix {
            partition_date_source: p
                .partition_date_source
                .clone()
                .map(PartitionDateSource::from),
        }),
    }
}

fn invalid_target(message: &str) -> S3Error {
    super::error::refused(Refusal::new(
        ErrorCode::InvalidTargetBucketForLogging,
        message,
    ))
}

pub(super) async fn put_bucket_logging(
    s: &Leadshop,
    req: S3Request<PutBucketLoggingInput>,
) -> S3Result<S3Response<PutBucketLoggingOutput>> {
    let input = req.input;
    let status = spec::BucketLoggingStatus {
        logging_enabled: match input.bucket_logging_status.logging_enabled {
            None => None,
            Some(l) => {
                if l.target_grants.as_ref().is_some_and(|g| !g.is_empty()) {
                    return Err(invalid_target(
                        "Target grants are not supported for buckets with the bucket owner enforced setting for Object Ownership",
                    ));
                }
                Some(spec::LoggingEnabled {
                    target_bucket: l.target_bucket,
                    target_prefix: l.target_prefix,
                    target_object_key_format: l.target_object_key_format.map(format_in),
                })
            }
        },
    };
    status.validate().map_err(super::error::refused)?;
    // The source bucket must exist before its target is looked at.
    s.core
        .bucket_configs
        .load(&input.bucket)
        .await
        .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))?;
    if let Some(l) = &status.logging_enabled {
        let target = s
            .core
            .bucket_configs
            .load(&l.target_bucket)
            .await
            .ok_or_else(|| invalid_target("The target bucket for logging does not exist"))?;
        if target
            .object_lock
            .as_ref()
            .is_some_and(|c| c.rule.is_some())
        {
            return Err(invalid_target(
                "The target bucket for logging must not have a default Object Lock retention period",
            ));
        }
        // The first key a delivery would write, as the policy sees it.
        let probe = l.object_key(&LogObject {
            account_id: &s.core.config.account_id,
            region: &s.core.config.region,
            bucket: &input.bucket,
            event_secs: s.now_ms() / 1000,
            delivery_secs: s.now_ms() / 1000,
            unique: "0000000000000000",
        });
        if !crate::access::log_delivery::logging_may_write(
            &target,
            &input.bucket,
            &probe,
            &s.core.config.account_id,
        ) {
            return Err(invalid_target(&format!(
                "The target bucket's policy must allow the logging service principal ({}) s3:PutObject on arn:aws:s3:::{}/{}* for aws:SourceArn arn:aws:s3:::{}",
                spec::LOGGING_SERVICE,
                l.target_bucket,
                l.target_prefix,
                input.bucket
            )));
        }
    }
    let value = match &status.logging_enabled {
        Some(_) => Some(serde_json::to_value(&status).map_err(S3Error::internal_error)?),
        None => None,
    };
    super::policy::set_document(s, input.bucket, LOGGING_DOC, value).await?;
    Ok(S3Response::new(PutBucketLoggingOutput::default()))
}

pub(super) async fn get_bucket_logging(
    s: &Leadshop,
    req: S3Request<GetBucketLoggingInput>,
) -> S3Result<S3Response<GetBucketLoggingOutput>> {
    let config = s
        .core
        .bucket_configs
        .load(&req.input.bucket)
        .await
        .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))?;
    Ok(S3Response::new(GetBucketLoggingOutput {
        logging_enabled: config.logging.as_ref().map(|l| LoggingEnabled {
            target_bucket: l.target_bucket.clone(),
            target_grants: None,
            target_object_key_format: l.target_object_key_format.as_ref().map(format_out),
            target_prefix: l.target_prefix.clone(),
        }),
    }))
}
