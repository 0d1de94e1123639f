//! Bucket policies and Public Access Block: stored in the bucket record, enforced by the
//! access hook ([`crate::access`]) from the bucket's [`BucketConfig`](crate::bucket_config),
//! which the store's change notice refreshes.

use leadshop_spec::PublicAccessBlock;
use leadshop_spec::policy::Policy;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use crate::bucket_config::{POLICY_DOC, PUBLIC_ACCESS_BLOCK_DOC};

/// Changes one document of a bucket record (`None` removes it).
pub(super) async fn set_document(
    s: &Leadshop,
    bucket: String,
    name: &'static str,
    value: Option<serde_json::Value>,
) -> S3Result<()> {
    s.db(move |st| {
        st.update_bucket(&bucket, move |rec| {
            match value {
                Some(v) => rec.documents.insert(name.into(), v),
                None => rec.documents.remove(name),
            };
            Ok(())
        })
    })
    .await?;
    Ok(())
}

fn public_access_block(rec: &leadshop_store::BucketRecord) -> Option<PublicAccessBlock> {
    rec.documents
        .get(PUBLIC_ACCESS_BLOCK_DOC)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The bucket's policy text, or NoSuchBucketPolicy.
async fn stored_policy(s: &Leadshop, bucket: String) -> S3Result<String> {
    let rec = s.db(move |st| st.bucket(&bucket)).await?;
    rec.documents
        .get(POLICY_DOC)
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))
}

pub(super) async fn put_bucket_policy(
    s: &Leadshop,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let input = req.input;
    let policy = Policy::parse(&input.policy)
        .and_then(|p| p.check_bucket_policy(&input.bucket).map(|()| p))
        .map_err(|e| S3Error::with_message(S3ErrorCode::MalformedPolicy, e.to_string()))?;
    let name = input.bucket.clone();
    let rec = s.db(move |st| st.bucket(&name)).await?;
    if policy.is_public() && public_access_block(&rec).is_some_and(|p| p.block_public_policy) {
        return Err(s3_error!(
            AccessDenied,
            "Access Denied: the policy grants public access and the bucket's BlockPublicPolicy setting is on"
        ));
    }
    set_document(
        s,
        input.bucket,
        POLICY_DOC,
        Some(serde_json::Value::String(input.policy)),
    )
    .await?;
    let mut resp = S3Response::new(PutBucketPolicyOutput::default());
    resp.status = Some(http::StatusCode::NO_CONTENT);
    Ok(resp)
}

pub(super) async fn get_bucket_policy(
    s: &Leadshop,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let policy = stored_policy(s, req.input.bucket).await?;
    Ok(S3Response::new(GetBucketPolicyOutput {
        policy: Some(policy),
    }))
}

pub(super) async fn delete_bucket_policy(
    s: &Leadshop,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    set_document(s, req.input.bucket, POLICY_DOC, None).await?;
    Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
}

pub(super) async fn get_bucket_policy_status(
    s: &Leadshop,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let policy = stored_policy(s, req.input.bucket).await?;
    let is_public = Policy::parse(&policy).is_ok_and(|p| p.is_public());
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(is_public),
        }),
    }))
}

pub(super) async fn put_public_access_block(
    s: &Leadshop,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let c = req.input.public_access_block_configuration;
    let pab = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    let value = serde_json::to_value(pab).map_err(S3Error::internal_error)?;
    set_document(s, req.input.bucket, PUBLIC_ACCESS_BLOCK_DOC, Some(value)).await?;
    Ok(S3Response::new(PutPublicAccessBlockOutput::default()))
}

pub(super) async fn get_public_access_block(
    s: &Leadshop,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let name = req.input.bucket;
    let rec = s.db(move |st| st.bucket(&name)).await?;
    let Some(p) = public_access_block(&rec) else {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
            "The public access block configuration was not found",
        );
        e.set_status_code(http::StatusCode::NOT_FOUND);
        return Err(e);
    };
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(p.block_public_acls),
            ignore_public_acls: Some(p.ignore_public_acls),
            block_public_policy: Some(p.block_public_policy),
            restrict_public_buckets: Some(p.restrict_public_buckets),
        }),
    }))
}

pub(super) async fn delete_public_access_block(
    s: &Leadshop,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    set_document(s, req.input.bucket, PUBLIC_ACCESS_BLOCK_DOC, None).await?;
    Ok(S3Response::new(DeletePublicAccessBlockOutput::default()))
}
