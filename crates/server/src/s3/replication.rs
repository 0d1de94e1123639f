//! Put/Get/DeleteBucketReplication: the bucket's replication rules, kept as the AWS JSON
//! document (`bucket_config::REPLICATION_DOC`, written by `Store::set_replication`, which
//! also starts the batch of existing objects when a rule enables `ExistingObjectReplication`), validated as AWS validates them, and read by
//! the store in every write's transaction to queue what a rule selects
//! (`workers::replication` delivers it).
//!
//! Where a destination is: a bucket ARN that `[replication.destinations.<name>]` of the server's
//! configuration maps goes to that endpoint (another leadshop, AWS S3, any S3-compatible
//! store); any other must name a versioned bucket of this same server, other than the source.

use leadshop_spec::replication as rp;
use s3s::dto::{
    AccessControlTranslation, DeleteBucketReplicationInput, DeleteBucketReplicationOutput,
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration,
    ExistingObjectReplication, ExistingObjectReplicationStatus, GetBucketReplicationInput,
    GetBucketReplicationOutput, Metrics, MetricsStatus, OwnerOverride, PutBucketReplicationInput,
    PutBucketReplicationOutput, ReplicaModifications, ReplicaModificationsStatus,
    ReplicationConfiguration, ReplicationRule, ReplicationRuleAndOperator, ReplicationRuleFilter,
    ReplicationRuleStatus, ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue,
    SourceSelectionCriteria, SseKmsEncryptedObjects, SseKmsEncryptedObjectsStatus, StorageClass,
};
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::lifecycle::{tag_in, tag_out};

/// AWS's answer to a configuration on a bucket whose versioning is not enabled.
const SOURCE_UNVERSIONED: &str =
    "Versioning must be 'Enabled' on the bucket to apply a replication configuration";

fn status(s: &str) -> rp::StatusOnly {
    rp::StatusOnly {
        status: s.to_string(),
    }
}

fn minutes_in(m: Option<ReplicationTimeValue>) -> rp::Minutes {
    rp::Minutes {
        minutes: m.and_then(|m| m.minutes),
    }
}

fn rule_in(r: ReplicationRule) -> S3Result<rp::Rule> {
    let d = r.destination;
    Ok(rp::Rule {
        id: r.id,
        priority: r.priority,
        status: r.status.as_str().to_string(),
        filter: r
            .filter
            .map(|f| -> S3Result<rp::Filter> {
                Ok(rp::Filter {
                    prefix: f.prefix,
                    tag: f.tag.map(tag_in).transpose()?,
                    and: f
                        .and
                        .map(|a| -> S3Result<rp::And> {
                            Ok(rp::And {
                                prefix: a.prefix,
                                tags: a
                                    .tags
                                    .unwrap_or_default()
                                    .into_iter()
                                    .map(tag_in)
                                    .collect::<S3Result<_>>()?,
                            })
                        })
                        .transpose()?,
                })
            })
            .transpose()?,
        prefix: r.prefix,
        delete_marker_replication: r
            .delete_marker_replication
            .map(|d| status(d.status.as_ref().map_or("", |s| s.as_str()))),
        existing_object_replication: r
            .existing_object_replication
            .map(|e| status(e.status.as_str())),
        source_selection_criteria: r.source_selection_criteria.map(|c| {
            rp::SourceSelectionCriteria {
                sse_kms_encrypted_objects: c
                    .sse_kms_encrypted_objects
                    .map(|s| status(s.status.as_str())),
                replica_modifications: c.replica_modifications.map(|s| status(s.status.as_str())),
            }
        }),
        destination: rp::Destination {
            bucket: d.bucket,
            account: d.account,
            storage_class: d.storage_class.map(|c| c.as_str().to_string()),
            access_control_translation: d.access_control_translation.map(|t| {
                rp::AccessControlTranslation {
                    owner: t.owner.as_str().to_string(),
                }
            }),
            encryption_configuration: d.encryption_configuration.map(|e| {
                rp::EncryptionConfiguration {
                    replica_kms_key_id: e.replica_kms_key_id,
                }
            }),
            replication_time: d.replication_time.map(|t| rp::ReplicationTime {
                status: t.status.as_str().to_string(),
                time: minutes_in(Some(t.time)),
            }),
            metrics: d.metrics.map(|m| rp::Metrics {
                status: m.status.as_str().to_string(),
                event_threshold: m.event_threshold.map(|t| minutes_in(Some(t))),
            }),
        },
    })
}

fn minutes_out(m: &rp::Minutes) -> ReplicationTimeValue {
    ReplicationTimeValue { minutes: m.minutes }
}

fn rule_out(r: &rp::Rule) -> ReplicationRule {
    let d = &r.destination;
    ReplicationRule {
        id: r.id.clone(),
        priority: r.priority,
        status: ReplicationRuleStatus::from(r.status.clone()),
        filter: r.filter.as_ref().map(|f| ReplicationRuleFilter {
            prefix: f.prefix.clone(),
            tag: f.tag.as_ref().map(tag_out),
            and: f.and.as_ref().map(|a| ReplicationRuleAndOperator {
                prefix: a.prefix.clone(),
                tags: (!a.tags.is_empty()).then(|| a.tags.iter().map(tag_out).collect()),
            }),
        }),
        prefix: r.prefix.clone(),
        delete_marker_replication: r.delete_marker_replication.as_ref().map(|s| {
            DeleteMarkerReplication {
                status: Some(DeleteMarkerReplicationStatus::from(s.status.clone())),
            }
        }),
        existing_object_replication: r.existing_object_replication.as_ref().map(|s| {
            ExistingObjectReplication {
                status: ExistingObjectReplicationStatus::from(s.status.clone()),
            }
        }),
        source_selection_criteria: r.source_selection_criteria.as_ref().map(|c| {
            SourceSelectionCriteria {
                sse_kms_encrypted_objects: c.sse_kms_encrypted_objects.as_ref().map(|s| {
                    SseKmsEncryptedObjects {
                        status: SseKmsEncryptedObjectsStatus::from(s.status.clone()),
                    }
                }),
                replica_modifications: c.replica_modifications.as_ref().map(|s| {
                    ReplicaModifications {
                        status: ReplicaModificationsStatus::from(s.status.clone()),
                    }
                }),
            }
        }),
        destination: Destination {
            bucket: d.bucket.clone(),
            account: d.account.clone(),
            storage_class: d.storage_class.clone().map(StorageClass::from),
            access_control_translation: d.access_control_translation.as_ref().map(|t| {
                AccessControlTranslation {
                    owner: OwnerOverride::from(t.owner.clone()),
                }
            }),
            encryption_configuration: d.encryption_configuration.as_ref().map(|e| {
                EncryptionConfiguration {
                    replica_kms_key_id: e.replica_kms_key_id.clone(),
                }
            }),
            replication_time: d.replication_time.as_ref().map(|t| ReplicationTime {
                status: ReplicationTimeStatus::from(t.status.clone()),
                time: minutes_out(&t.time),
            }),
            metrics: d.metrics.as_ref().map(|m| Metrics {
                status: MetricsStatus::from(m.status.clone()),
                event_threshold: m.event_threshold.as_ref().map(minutes_out),
            }),
        },
    }
}

/// Each rule's destination: mapped by the configuration to an endpoint, or a versioned bucket
/// of this server other than the source.
async fn check_destinations(
    s: &Leadshop,
    source: &str,
    doc: &rp::ReplicationConfiguration,
) -> S3Result<()> {
    for rule in &doc.rules {
        if s.core
            .config
            .replication
            .destination_for(&rule.destination.bucket)
            .is_some()
        {
            continue;
        }
        let dest = rule.destination_bucket();
        if dest == source {
            return Err(s3_error!(
                InvalidRequest,
                "Destination bucket cannot be the same as the source bucket."
            ));
        }
        let config = match s.bucket_config(dest).await {
            Ok(c) => c,
            Err(e) if *e.code() == s3s::S3ErrorCode::NoSuchBucket => {
                return Err(s3_error!(InvalidRequest, "Destination bucket must exist."));
            }
            Err(e) => return Err(e),
        };
        if config.versioning != leadshop_store::VersioningState::Enabled {
            return Err(s3_error!(
                InvalidRequest,
                "Destination bucket must have versioning enabled."
            ));
        }
    }
    Ok(())
}

pub(super) async fn put_bucket_replication(
    s: &Leadshop,
    req: S3Request<PutBucketReplicationInput>,
) -> S3Result<S3Response<PutBucketReplicationOutput>> {
    let input = req.input;
    let config = input.replication_configuration;
    let doc = rp::ReplicationConfiguration {
        role: config.role,
        rules: config
            .rules
            .into_iter()
            .map(rule_in)
            .collect::<S3Result<_>>()?,
    };
    doc.validate().map_err(super::error::refused)?;
    if s.bucket_config(&input.bucket).await?.versioning != leadshop_store::VersioningState::Enabled
    {
        return Err(s3_error!(InvalidRequest, "{SOURCE_UNVERSIONED}"));
    }
    check_destinations(s, &input.bucket, &doc).await?;
    let value = serde_json::to_value(&doc).map_err(S3Error::internal_error)?;
    let backfill = doc.rules.iter().any(rp::Rule::replicates_existing);
    let bucket = input.bucket;
    // The source's versioning is checked again where the document is stored, in one
    // transaction with the start of the existing-object batch.
    s.db(move |st| st.set_replication(&bucket, Some(value), backfill, SOURCE_UNVERSIONED))
        .await?;
    Ok(S3Response::new(PutBucketReplicationOutput::default()))
}

pub(super) async fn get_bucket_replication(
    s: &Leadshop,
    req: S3Request<GetBucketReplicationInput>,
) -> S3Result<S3Response<GetBucketReplicationOutput>> {
    let config = s.bucket_config(&req.input.bucket).await?;
    let Some(doc) = config.replication.as_ref() else {
        return Err(s3_error!(
            ReplicationConfigurationNotFoundError,
            "The replication configuration was not found"
        ));
    };
    Ok(S3Response::new(GetBucketReplicationOutput {
        replication_configuration: Some(ReplicationConfiguration {
            role: doc.role.clone(),
            rules: doc.rules.iter().map(rule_out).collect(),
        }),
    }))
}

pub(super) async fn delete_bucket_replication(
    s: &Leadshop,
    req: S3Request<DeleteBucketReplicationInput>,
) -> S3Result<S3Response<DeleteBucketReplicationOutput>> {
    let bucket = req.input.bucket;
    s.db(move |st| st.set_replication(&bucket, None, false, SOURCE_UNVERSIONED))
        .await?;
    Ok(S3Response::new(DeleteBucketReplicationOutput::default()))
}
