//! Bucket operations.

use leadshop_store::{BucketRecord, VersioningState};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::convert::ts;
use crate::bucket_config::ENCRYPTION_DOC;

pub(super) async fn create_bucket(
    s: &Leadshop,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let input = req.input;
    if let Some(why) = leadshop_spec::names::bucket_name_refusal(&input.bucket) {
        return Err(S3Error::with_message(S3ErrorCode::InvalidBucketName, why));
    }
    let region = s.core.config.region.clone();
    if let Some(lc) = input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
        && lc.as_str() != region
    {
        return Err(s3_error!(
            IllegalLocationConstraintException,
            "The {} location constraint is incompatible for the region specific endpoint this request was sent to.",
            lc.as_str()
        ));
    }
    // Object Lock: the bucket is versioned from the start, as on AWS.
    let locked = input.object_lock_enabled_for_bucket == Some(true);
    // Object Ownership (AWS's default BucketOwnerEnforced when absent) and, where it enables
    // ACLs, the bucket ACL the request sets.
    let ownership = input
        .object_ownership
        .as_ref()
        .map(super::acl::ownership_name)
        .transpose()?;
    let acl = super::acl::for_new_bucket(
        ownership,
        input.acl.as_ref().map(BucketCannedACL::as_str),
        &super::acl::grant_headers!(input, write),
    )?;
    let rec = BucketRecord {
        name: input.bucket.clone(),
        created_ms: s.now_ms(),
        region,
        versioning: if locked {
            VersioningState::Enabled
        } else {
            VersioningState::Unversioned
        },
        documents: {
            let mut docs = std::collections::BTreeMap::new();
            // Every Public Access Block setting on, AWS's default for new buckets since 2023:
            // a bucket is made public only by lifting it (Put/DeletePublicAccessBlock).
            docs.insert(
                crate::bucket_config::PUBLIC_ACCESS_BLOCK_DOC.to_string(),
                serde_json::to_value(leadshop_spec::PublicAccessBlock::all_on())
                    .map_err(s3s::S3Error::internal_error)?,
            );
            if locked {
                let doc = leadshop_spec::object_lock::ObjectLockConfiguration::enabled();
                docs.insert(
                    crate::bucket_config::OBJECT_LOCK_DOC.to_string(),
                    serde_json::to_value(doc).map_err(s3s::S3Error::internal_error)?,
                );
            }
            if let Some(o) = ownership {
                docs.insert(
                    crate::bucket_config::OWNERSHIP_DOC.to_string(),
                    serde_json::Value::String(o.into()),
                );
            }
            if let Some(acl) = acl {
                docs.insert(crate::bucket_config::ACL_DOC.to_string(), acl);
            }
            docs
        },
    };
    let max = s.core.config.max_buckets;
    s.db(move |st| st.create_bucket_within(&rec, max)).await?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", input.bucket)),
        ..Default::default()
    }))
}

pub(super) async fn head_bucket(
    s: &Leadshop,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let name = req.input.bucket;
    let b = s.db(move |st| st.bucket(&name)).await?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(b.region),
        ..Default::default()
    }))
}

pub(super) async fn list_buckets(
    s: &Leadshop,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let input = req.input;
    let all = s.db(leadshop_store::Store::buckets).await?;
    let max = input.max_buckets.map_or(10_000, |m| {
        usize::try_from(m.clamp(1, 10_000)).unwrap_or(10_000)
    });
    let mut buckets: Vec<&BucketRecord> = all
        .iter()
        .filter(|b| {
            input
                .prefix
                .as_deref()
                .is_none_or(|p| b.name.starts_with(p))
        })
        .filter(|b| {
            input
                .continuation_token
                .as_deref()
                .is_none_or(|t| b.name.as_str() > t)
        })
        .filter(|b| input.bucket_region.as_deref().is_none_or(|r| b.region == r))
        .collect();
    let truncated = buckets.len() > max;
    buckets.truncate(max);
    let next = truncated
        .then(|| buckets.last().map(|b| b.name.clone()))
        .flatten();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(
            buckets
                .into_iter()
                .map(|b| Bucket {
                    creation_date: Some(ts(b.created_ms)),
                    name: Some(b.name.clone()),
                    bucket_region: Some(b.region.clone()),
                    bucket_arn: None,
                })
                .collect(),
        ),
        continuation_token: next,
        owner: Some(super::acl::owner()),
        prefix: input.prefix,
    }))
}

pub(super) async fn delete_bucket(
    s: &Leadshop,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let name = req.input.bucket;
    s.db(move |st| st.delete_bucket(&name)).await?;
    Ok(S3Response::new(DeleteBucketOutput::default()))
}

pub(super) async fn get_bucket_location(
    s: &Leadshop,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let name = req.input.bucket;
    let b = s.db(move |st| st.bucket(&name)).await?;
    // us-east-1 is reported as an empty LocationConstraint, as AWS does.
    let location_constraint =
        (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}

pub(super) async fn put_bucket_versioning(
    s: &Leadshop,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let input = req.input;
    let cfg = input.versioning_configuration;
    if cfg
        .mfa_delete
        .as_ref()
        .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
        || input.mfa.is_some()
    {
        return Err(s3_error!(NotImplemented, "MFA delete is not supported"));
    }
    let state = match cfg.status.as_ref().map(BucketVersioningStatus::as_str) {
        Some(BucketVersioningStatus::ENABLED) => VersioningState::Enabled,
        Some(BucketVersioningStatus::SUSPENDED) => VersioningState::Suspended,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "Status must be Enabled or Suspended"
            ));
        }
    };
    let name = input.bucket;
    s.db(move |st| {
        st.update_bucket(&name, move |b| {
            if state == VersioningState::Suspended
                && b.documents.contains_key(crate::bucket_config::OBJECT_LOCK_DOC)
            {
                return Err(leadshop_store::StoreError::InvalidBucketState(
                    "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
                ));
            }
            if state == VersioningState::Suspended
                && b.documents.contains_key(crate::bucket_config::REPLICATION_DOC)
            {
                return Err(leadshop_store::StoreError::InvalidBucketState(
                    "A replication configuration is present on this bucket, so the versioning state cannot be changed.",
                ));
            }
            b.versioning = state;
            Ok(())
        })
    })
    .await?;
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}

pub(super) async fn get_bucket_versioning(
    s: &Leadshop,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let name = req.input.bucket;
    let b = s.db(move |st| st.bucket(&name)).await?;
    let status = match b.versioning {
        VersioningState::Unversioned => None,
        VersioningState::Enabled => Some(BucketVersioningStatus::from_static(
            BucketVersioningStatus::ENABLED,
        )),
        VersioningState::Suspended => Some(BucketVersioningStatus::from_static(
            BucketVersioningStatus::SUSPENDED,
        )),
    };
    Ok(S3Response::new(GetBucketVersioningOutput {
        mfa_delete: None,
        status,
    }))
}

pub(super) async fn get_bucket_encryption(
    s: &Leadshop,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    // Every object is encrypted with SSE-S3 whatever the document says; a bucket without one
    // reports AWS's default configuration.
    let doc = s
        .bucket_config(&req.input.bucket)
        .await?
        .encryption
        .clone()
        .unwrap_or_else(|| leadshop_spec::encryption::EncryptionConfiguration::sse_s3(false));
    let rules = doc
        .rules
        .iter()
        .map(|r| ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                kms_master_key_id: r.default.kms_master_key_id.clone(),
                sse_algorithm: ServerSideEncryption::from(r.default.sse_algorithm.clone()),
            }),
            blocked_encryption_types: r.blocked_encryption_types.as_ref().map(|b| {
                BlockedEncryptionTypes {
                    encryption_type: Some(
                        b.encryption_type
                            .iter()
                            .map(|t| EncryptionType::from(t.clone()))
                            .collect(),
                    ),
                }
            }),
            bucket_key_enabled: r.bucket_key_enabled,
        })
        .collect();
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration { rules }),
    }))
}

pub(super) async fn put_bucket_encryption(
    s: &Leadshop,
    req: S3Request<PutBucketEncryptionInput>,
) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
    use leadshop_spec::encryption::{EncryptionConfiguration, EncryptionDefault, EncryptionRule};
    let input = req.input;
    let mut rules = Vec::new();
    for r in input.server_side_encryption_configuration.rules {
        let Some(d) = r.apply_server_side_encryption_by_default else {
            return Err(s3_error!(
                MalformedXML,
                "ApplyServerSideEncryptionByDefault is required"
            ));
        };
        // A default key must exist in the keyring (an unknown one would fail every upload).
        if let Some(k) = &d.kms_master_key_id {
            match s.core.keyring.resolve(k) {
                Ok(_) | Err(leadshop_keys::keyring::KmsError::Disabled(_)) => {}
                Err(e) => return Err(super::sse::kms_error(e)),
            }
        }
        rules.push(EncryptionRule {
            default: EncryptionDefault {
                sse_algorithm: d.sse_algorithm.as_str().to_string(),
                kms_master_key_id: d.kms_master_key_id,
            },
            bucket_key_enabled: r.bucket_key_enabled,
            blocked_encryption_types: r.blocked_encryption_types.map(|b| {
                leadshop_spec::encryption::BlockedEncryptionTypes {
                    encryption_type: b
                        .encryption_type
                        .unwrap_or_default()
                        .iter()
                        .map(|t| t.as_str().to_string())
                        .collect(),
                }
            }),
        });
    }
    let doc = EncryptionConfiguration { rules };
    doc.validate()
        .map_err(|m| S3Error::with_message(S3ErrorCode::MalformedXML, m))?;
    let value = serde_json::to_value(&doc).map_err(S3Error::internal_error)?;
    super::policy::set_document(s, input.bucket, ENCRYPTION_DOC, Some(value)).await?;
    Ok(S3Response::new(PutBucketEncryptionOutput::default()))
}

/// Removes the bucket's encryption document: as on AWS, the bucket then reports (and uses)
/// the SSE-S3 default.
pub(super) async fn delete_bucket_encryption(
    s: &Leadshop,
    req: S3Request<DeleteBucketEncryptionInput>,
) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
    super::policy::set_document(s, req.input.bucket, ENCRYPTION_DOC, None).await?;
    Ok(S3Response::new(DeleteBucketEncryptionOutput::default()))
}
