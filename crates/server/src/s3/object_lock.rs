//! Object Lock, as AWS answers it for a bucket created without it. No bucket here can have
//! Object Lock yet (CreateBucket with `x-amz-bucket-object-lock-enabled: true` answers
//! NotImplemented), so these are the exact answers for every bucket: no configuration, and
//! retention and legal holds refused with AWS's InvalidRequest.

use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;

fn missing() -> S3Error {
    s3_error!(
        InvalidRequest,
        "Bucket is missing Object Lock Configuration"
    )
}

pub(super) async fn handle_get_object_lock_configuration(
    s: &Leadshop,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    s.bucket_config(&req.input.bucket).await?;
    Err(s3_error!(
        ObjectLockConfigurationNotFoundError,
        "Object Lock configuration does not exist for this bucket"
    ))
}

pub(super) async fn handle_put_object_lock_configuration(
    s: &Leadshop,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    s.bucket_config(&req.input.bucket).await?;
    Err(s3_error!(
        NotImplemented,
        "Object Lock is not offered by this server yet"
    ))
}

pub(super) async fn handle_get_object_retention(
    s: &Leadshop,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    s.bucket_config(&req.input.bucket).await?;
    Err(missing())
}

pub(super) async fn handle_put_object_retention(
    s: &Leadshop,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    s.bucket_config(&req.input.bucket).await?;
    Err(missing())
}

pub(super) async fn handle_get_object_legal_hold(
    s: &Leadshop,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    s.bucket_config(&req.input.bucket).await?;
    Err(missing())
}

pub(super) async fn handle_put_object_legal_hold(
    s: &Leadshop,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    s.bucket_config(&req.input.bucket).await?;
    Err(missing())
}
