//! Put/Get/DeleteBucketCors: the bucket's CORS rules, kept as the AWS JSON document
//! (`bucket_config::CORS_DOC`) and validated as AWS does. The rules are applied by the shell
//! (`shell::cors`) to preflights and to every response.

use leadshop_spec::cors::{CorsConfiguration, CorsRule};
use s3s::dto::{
    CORSRule, DeleteBucketCorsInput, DeleteBucketCorsOutput, GetBucketCorsInput,
    GetBucketCorsOutput, PutBucketCorsInput, PutBucketCorsOutput,
};
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use crate::bucket_config::CORS_DOC;

pub(super) async fn get_bucket_cors(
    s: &Leadshop,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let config = s.bucket_config(&req.input.bucket).await?;
    let Some(cors) = config.cors.as_ref() else {
        return Err(s3_error!(
            NoSuchCORSConfiguration,
            "The CORS configuration does not exist"
        ));
    };
    let rules = cors
        .rules
        .iter()
        .map(|r| CORSRule {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: (!r.allowed_headers.is_empty()).then(|| r.allowed_headers.clone()),
            expose_headers: (!r.expose_headers.is_empty()).then(|| r.expose_headers.clone()),
            max_age_seconds: r.max_age_seconds,
        })
        .collect();
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(rules),
    }))
}

pub(super) async fn put_bucket_cors(
    s: &Leadshop,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let input = req.input;
    let doc = CorsConfiguration {
        rules: input
            .cors_configuration
            .cors_rules
            .into_iter()
            .map(|r| CorsRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: r.allowed_headers.unwrap_or_default(),
                expose_headers: r.expose_headers.unwrap_or_default(),
                max_age_seconds: r.max_age_seconds,
            })
            .collect(),
    };
    doc.validate().map_err(super::error::refused)?;
    let value = serde_json::to_value(&doc).map_err(S3Error::internal_error)?;
    super::policy::set_document(s, input.bucket, CORS_DOC, Some(value)).await?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub(super) async fn delete_bucket_cors(
    s: &Leadshop,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    super::policy::set_document(s, req.input.bucket, CORS_DOC, None).await?;
    Ok(S3Response::new(DeleteBucketCorsOutput::default()))
}
