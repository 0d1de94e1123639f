//! Bucket sub-resources beyond the baseline: bucket tagging (stored), and the configurations
//! leadshop does not offer — transfer acceleration, requester pays, event notifications,
//! static websites, replication, inventory reports — answered as AWS answers a bucket that has none,
//! since SDK tools and Terraform's AWS provider read them all when they refresh a bucket.
//! Writes that would turn one of them on answer NotImplemented (never a silent success); writes
//! that leave it off succeed.

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::{Leadshop, convert};

/// The bucket tag set, stored as `{"key": "value"}`.
pub const TAGGING_DOC: &str = "tagging";

pub(super) async fn get_bucket_tagging(
    s: &Leadshop,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let bucket = req.input.bucket;
    let rec = s.db(move |st| st.bucket(&bucket)).await?;
    let tags: Option<BTreeMap<String, String>> = rec
        .documents
        .get(TAGGING_DOC)
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    match tags {
        Some(tags) if !tags.is_empty() => Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: convert::tag_set(&tags),
        })),
        _ => Err(s3_error!(NoSuchTagSet, "The TagSet does not exist")),
    }
}

pub(super) async fn put_bucket_tagging(
    s: &Leadshop,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let input = req.input;
    let mut tags = BTreeMap::new();
    for t in input.tagging.tag_set {
        let (Some(k), v) = (t.key, t.value) else {
            return Err(s3_error!(InvalidTag, "A tag needs a key"));
        };
        if k.starts_with("aws:") {
            return Err(s3_error!(
                InvalidTag,
                "Your TagKey cannot be prefixed with aws:"
            ));
        }
        if tags.insert(k, v.unwrap_or_default()).is_some() {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    if tags.len() > 50 {
        return Err(s3_error!(
            InvalidTag,
            "Bucket tag count cannot be greater than 50"
        ));
    }
    convert::check_tag_sizes(&tags)?;
    let value = serde_json::to_value(&tags).map_err(s3s::S3Error::internal_error)?;
    super::policy::set_document(s, input.bucket, TAGGING_DOC, Some(value)).await?;
    Ok(S3Response::new(PutBucketTaggingOutput::default()))
}

pub(super) async fn delete_bucket_tagging(
    s: &Leadshop,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    super::policy::set_document(s, req.input.bucket, TAGGING_DOC, None).await?;
    Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
}

/// The bucket must exist (NoSuchBucket otherwise), as for every sub-resource.
async fn exists(s: &Leadshop, bucket: &str) -> S3Result<()> {
    s.bucket_config(bucket).await.map(|_| ())
}

pub(super) async fn list_bucket_inventory_configurations(
    s: &Leadshop,
    req: S3Request<ListBucketInventoryConfigurationsInput>,
) -> S3Result<S3Response<ListBucketInventoryConfigurationsOutput>> {
    exists(s, &req.input.bucket).await?;
    // No inventory reports: AWS answers an empty, complete list.
    Ok(S3Response::new(ListBucketInventoryConfigurationsOutput {
        is_truncated: Some(false),
        ..Default::default()
    }))
}

pub(super) async fn get_bucket_accelerate_configuration(
    s: &Leadshop,
    req: S3Request<GetBucketAccelerateConfigurationInput>,
) -> S3Result<S3Response<GetBucketAccelerateConfigurationOutput>> {
    exists(s, &req.input.bucket).await?;
    // Never enabled: AWS answers an empty configuration.
    Ok(S3Response::new(
        GetBucketAccelerateConfigurationOutput::default(),
    ))
}

pub(super) async fn put_bucket_accelerate_configuration(
    s: &Leadshop,
    req: S3Request<PutBucketAccelerateConfigurationInput>,
) -> S3Result<S3Response<PutBucketAccelerateConfigurationOutput>> {
    exists(s, &req.input.bucket).await?;
    match req.input.accelerate_configuration.status {
        Some(st) if st.as_str() == BucketAccelerateStatus::SUSPENDED => Ok(S3Response::new(
            PutBucketAccelerateConfigurationOutput::default(),
        )),
        _ => Err(s3_error!(
            NotImplemented,
            "Transfer acceleration is not offered by this server"
        )),
    }
}

pub(super) async fn get_bucket_request_payment(
    s: &Leadshop,
    req: S3Request<GetBucketRequestPaymentInput>,
) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
    exists(s, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketRequestPaymentOutput {
        payer: Some(Payer::from_static(Payer::BUCKET_OWNER)),
    }))
}

pub(super) async fn put_bucket_request_payment(
    s: &Leadshop,
    req: S3Request<PutBucketRequestPaymentInput>,
) -> S3Result<S3Response<PutBucketRequestPaymentOutput>> {
    exists(s, &req.input.bucket).await?;
    if req.input.request_payment_configuration.payer.as_str() == Payer::BUCKET_OWNER {
        return Ok(S3Response::new(PutBucketRequestPaymentOutput::default()));
    }
    Err(s3_error!(
        NotImplemented,
        "Requester Pays is not offered by this server"
    ))
}

pub(super) async fn get_bucket_notification_configuration(
    s: &Leadshop,
    req: S3Request<GetBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
    exists(s, &req.input.bucket).await?;
    Ok(S3Response::new(
        GetBucketNotificationConfigurationOutput::default(),
    ))
}

pub(super) async fn put_bucket_notification_configuration(
    s: &Leadshop,
    req: S3Request<PutBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
    exists(s, &req.input.bucket).await?;
    let c = &req.input.notification_configuration;
    let empty = |l: Option<usize>| l.unwrap_or(0) == 0;
    if c.event_bridge_configuration.is_none()
        && empty(c.lambda_function_configurations.as_ref().map(Vec::len))
        && empty(c.queue_configurations.as_ref().map(Vec::len))
        && empty(c.topic_configurations.as_ref().map(Vec::len))
    {
        return Ok(S3Response::new(
            PutBucketNotificationConfigurationOutput::default(),
        ));
    }
    Err(s3_error!(
        NotImplemented,
        "Event notifications are not offered by this server"
    ))
}

pub(super) async fn get_bucket_website(
    s: &Leadshop,
    req: S3Request<GetBucketWebsiteInput>,
) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
    exists(s, &req.input.bucket).await?;
    Err(s3_error!(
        NoSuchWebsiteConfiguration,
        "The specified bucket does not have a website configuration"
    ))
}

pub(super) async fn put_bucket_website(
    s: &Leadshop,
    req: S3Request<PutBucketWebsiteInput>,
) -> S3Result<S3Response<PutBucketWebsiteOutput>> {
    exists(s, &req.input.bucket).await?;
    Err(s3_error!(
        NotImplemented,
        "Static website hosting is not offered by this server"
    ))
}

pub(super) async fn delete_bucket_website(
    s: &Leadshop,
    req: S3Request<DeleteBucketWebsiteInput>,
) -> S3Result<S3Response<DeleteBucketWebsiteOutput>> {
    exists(s, &req.input.bucket).await?;
    Ok(S3Response::new(DeleteBucketWebsiteOutput::default()))
}
