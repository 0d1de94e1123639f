//! Put/Get/DeleteBucketLifecycleConfiguration: the bucket's lifecycle rules, kept as the AWS
//! JSON document (`bucket_config::LIFECYCLE_DOC`) and validated as AWS does; applied by the
//! lifecycle worker (`workers::lifecycle`). Also `x-amz-expiration`, which names the rule that
//! will expire an object.

use leadshop_spec::lifecycle as lc;
use s3s::dto::{
    AbortIncompleteMultipartUpload, DeleteBucketLifecycleInput, DeleteBucketLifecycleOutput,
    ExpirationStatus, GetBucketLifecycleConfigurationInput, GetBucketLifecycleConfigurationOutput,
    LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter,
    NoncurrentVersionExpiration, NoncurrentVersionTransition, PutBucketLifecycleConfigurationInput,
    PutBucketLifecycleConfigurationOutput, Tag, Timestamp, TimestampFormat, Transition,
    TransitionDefaultMinimumObjectSize, TransitionStorageClass,
};
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use crate::bucket_config::{BucketConfig, LIFECYCLE_DOC};

fn date_text(t: &Timestamp) -> S3Result<String> {
    let mut out = Vec::new();
    t.format(TimestampFormat::DateTime, &mut out)
        .map_err(|_| super::error::malformed_xml())?;
    String::from_utf8(out).map_err(|_| super::error::malformed_xml())
}

fn date_of(text: &str) -> Option<Timestamp> {
    lc::parse_date(text).ok().map(super::convert::ts)
}

pub(super) fn tag_in(t: Tag) -> S3Result<lc::Tag> {
    Ok(lc::Tag {
        key: t.key.ok_or_else(super::error::malformed_xml)?,
        value: t.value.unwrap_or_default(),
    })
}

pub(super) fn tag_out(t: &lc::Tag) -> Tag {
    Tag {
        key: Some(t.key.clone()),
        value: Some(t.value.clone()),
    }
}

fn filter_in(f: LifecycleRuleFilter) -> S3Result<lc::Filter> {
    Ok(lc::Filter {
        prefix: f.prefix,
        tag: f.tag.map(tag_in).transpose()?,
        and: f
            .and
            .map(|a| -> S3Result<lc::And> {
                Ok(lc::And {
                    prefix: a.prefix,
                    tags: a
                        .tags
                        .unwrap_or_default()
                        .into_iter()
                        .map(tag_in)
                        .collect::<S3Result<_>>()?,
                    object_size_greater_than: a.object_size_greater_than,
                    object_size_less_than: a.object_size_less_than,
                })
            })
            .transpose()?,
        object_size_greater_than: f.object_size_greater_than,
        object_size_less_than: f.object_size_less_than,
    })
}

fn filter_out(f: &lc::Filter) -> LifecycleRuleFilter {
    LifecycleRuleFilter {
        prefix: f.prefix.clone(),
        tag: f.tag.as_ref().map(tag_out),
        and: f.and.as_ref().map(|a| LifecycleRuleAndOperator {
            prefix: a.prefix.clone(),
            tags: (!a.tags.is_empty()).then(|| a.tags.iter().map(tag_out).collect()),
            object_size_greater_than: a.object_size_greater_than,
            object_size_less_than: a.object_size_less_than,
        }),
        object_size_greater_than: f.object_size_greater_than,
        object_size_less_than: f.object_size_less_than,
    }
}

fn class_in(c: Option<TransitionStorageClass>) -> S3Result<String> {
    Ok(c.ok_or_else(super::error::malformed_xml)?
        .as_str()
        .to_string())
}

fn rule_in(r: LifecycleRule) -> S3Result<lc::Rule> {
    Ok(lc::Rule {
        id: r.id,
        status: r.status.as_str().to_string(),
        filter: r.filter.map(filter_in).transpose()?,
        prefix: r.prefix,
        transitions: r
            .transitions
            .unwrap_or_default()
            .into_iter()
            .map(|t| -> S3Result<lc::Transition> {
                Ok(lc::Transition {
                    days: t.days,
                    date: t.date.as_ref().map(date_text).transpose()?,
                    storage_class: class_in(t.storage_class)?,
                })
            })
            .collect::<S3Result<_>>()?,
        expiration: r
            .expiration
            .map(|e| -> S3Result<lc::Expiration> {
                Ok(lc::Expiration {
                    days: e.days,
                    date: e.date.as_ref().map(date_text).transpose()?,
                    expired_object_delete_marker: e.expired_object_delete_marker,
                })
            })
            .transpose()?,
        noncurrent_version_transitions: r
            .noncurrent_version_transitions
            .unwrap_or_default()
            .into_iter()
            .map(|t| -> S3Result<lc::NoncurrentVersionTransition> {
                Ok(lc::NoncurrentVersionTransition {
                    noncurrent_days: t.noncurrent_days,
                    storage_class: class_in(t.storage_class)?,
                    newer_noncurrent_versions: t.newer_noncurrent_versions,
                })
            })
            .collect::<S3Result<_>>()?,
        noncurrent_version_expiration: r.noncurrent_version_expiration.map(|e| {
            lc::NoncurrentVersionExpiration {
                noncurrent_days: e.noncurrent_days,
                newer_noncurrent_versions: e.newer_noncurrent_versions,
            }
        }),
        abort_incomplete_multipart_upload: r
            .abort_incomplete_multipart_upload
            .map(|a| -> S3Result<lc::AbortIncompleteMultipartUpload> {
                Ok(lc::AbortIncompleteMultipartUpload {
                    days_after_initiation: a
                        .days_after_initiation
                        .ok_or_else(super::error::malformed_xml)?,
                })
            })
            .transpose()?,
    })
}

fn rule_out(r: &lc::Rule) -> LifecycleRule {
    LifecycleRule {
        id: r.id.clone(),
        status: ExpirationStatus::from(r.status.clone()),
        filter: r.filter.as_ref().map(filter_out),
        prefix: r.prefix.clone(),
        transitions: (!r.transitions.is_empty()).then(|| {
            r.transitions
                .iter()
                .map(|t| Transition {
                    days: t.days,
                    date: t.date.as_deref().and_then(date_of),
                    storage_class: Some(TransitionStorageClass::from(t.storage_class.clone())),
                })
                .collect()
        }),
        expiration: r.expiration.as_ref().map(|e| LifecycleExpiration {
            days: e.days,
            date: e.date.as_deref().and_then(date_of),
            expired_object_delete_marker: e.expired_object_delete_marker,
        }),
        noncurrent_version_transitions: (!r.noncurrent_version_transitions.is_empty()).then(|| {
            r.noncurrent_version_transitions
                .iter()
                .map(|t| NoncurrentVersionTransition {
                    noncurrent_days: t.noncurrent_days,
                    storage_class: Some(TransitionStorageClass::from(t.storage_class.clone())),
                    newer_noncurrent_versions: t.newer_noncurrent_versions,
                })
                .collect()
        }),
        noncurrent_version_expiration: r.noncurrent_version_expiration.as_ref().map(|e| {
            NoncurrentVersionExpiration {
                noncurrent_days: e.noncurrent_days,
                newer_noncurrent_versions: e.newer_noncurrent_versions,
            }
        }),
        abort_incomplete_multipart_upload: r.abort_incomplete_multipart_upload.as_ref().map(|a| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: Some(a.days_after_initiation),
            }
        }),
    }
}

pub(super) async fn get_bucket_lifecycle_configuration(
    s: &Leadshop,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let config = s.bucket_config(&req.input.bucket).await?;
    let Some(lifecycle) = config.lifecycle.as_ref() else {
        return Err(s3_error!(
            NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist"
        ));
    };
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(lifecycle.rules.iter().map(rule_out).collect()),
        transition_default_minimum_object_size: Some(TransitionDefaultMinimumObjectSize::from(
            lifecycle.min_size_behaviour().to_string(),
        )),
    }))
}

pub(super) async fn put_bucket_lifecycle_configuration(
    s: &Leadshop,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let input = req.input;
    let Some(config) = input.lifecycle_configuration else {
        return Err(super::error::malformed_xml());
    };
    let doc = lc::LifecycleConfiguration {
        rules: config
            .rules
            .into_iter()
            .map(rule_in)
            .collect::<S3Result<_>>()?,
        transition_default_minimum_object_size: input
            .transition_default_minimum_object_size
            .map(|m| m.as_str().to_string()),
    };
    doc.validate().map_err(super::error::refused)?;
    let min_size = doc.min_size_behaviour().to_string();
    let value = serde_json::to_value(&doc).map_err(S3Error::internal_error)?;
    super::policy::set_document(s, input.bucket, LIFECYCLE_DOC, Some(value)).await?;
    Ok(S3Response::new(PutBucketLifecycleConfigurationOutput {
        transition_default_minimum_object_size: Some(TransitionDefaultMinimumObjectSize::from(
            min_size,
        )),
    }))
}

pub(super) async fn delete_bucket_lifecycle(
    s: &Leadshop,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    super::policy::set_document(s, req.input.bucket, LIFECYCLE_DOC, None).await?;
    Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
}

/// `x-amz-expiration` for a version just written (PUT, copy, completed upload).
pub(super) fn expiration_of_new(
    s: &Leadshop,
    config: &BucketConfig,
    v: &leadshop_store::VersionRecord,
) -> Option<String> {
    expiration_header(s, config, &v.key, v.size, &v.tags, v.last_modified_ms)
}

/// `x-amz-expiration` for the current version of `key` (created at `created_ms`): the rule
/// that will expire it and when, as `expiry-date="<HTTP date>", rule-id="<id>"`.
pub(super) fn expiration_header(
    s: &Leadshop,
    config: &BucketConfig,
    key: &str,
    size: u64,
    tags: &std::collections::BTreeMap<String, String>,
    created_ms: i64,
) -> Option<String> {
    let lifecycle = config.lifecycle.as_ref()?;
    let subject = lc::Subject {
        key,
        size,
        tags,
        base_ms: created_ms,
    };
    let (due, rule) = lifecycle.expiration_of(&subject, s.day_ms())?;
    Some(format!(
        "expiry-date=\"{}\", rule-id=\"{}\"",
        super::convert::http_date(due)?,
        rule.label()
    ))
}
