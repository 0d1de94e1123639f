//! CopyObject, and the copy source UploadPartCopy shares.

use leadshop_store::{NULL_VERSION_ID, NewVersion, VersionRecord};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::body::{self, ChecksumPlan};
use super::convert::{self, content_headers, etag, set_checksums, ts};
use super::object::{version_header, write_preamble, write_precondition, write_version};
use super::read::check_read_conditions;
use super::reader::ObjectReader;
use super::{sse, sse_c};

pub(super) fn copy_source(src: &CopySource) -> S3Result<(String, String, Option<String>)> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((
            bucket.to_string(),
            key.to_string(),
            version_id.as_deref().map(str::to_string),
        )),
        _ => Err(s3_error!(
            NotImplemented,
            "Copying from an access point is not supported"
        )),
    }
}

/// Reads the source version of a copy and checks the `x-amz-copy-source-if-*` conditions.
pub(super) async fn copy_source_version(
    s: &Leadshop,
    src: &CopySource,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<VersionRecord> {
    let (bucket, key, version_id) = copy_source(src)?;
    let v = s
        .db(move |st| st.get_version(&bucket, &key, version_id.as_deref()))
        .await?;
    // Every failed copy-source condition is 412, including the ones GET answers with 304.
    check_read_conditions(
        &v,
        if_match,
        if_none_match,
        if_modified_since,
        if_unmodified_since,
        S3ErrorCode::PreconditionFailed,
    )?;
    if !v.readable_at(s.now_ms()) {
        return Err(super::restore::archived());
    }
    Ok(v)
}

/// The source of CopyObject or UploadPartCopy (inputs with the same copy-source fields): its
/// version, checked against the `x-amz-copy-source-if-*` conditions.
macro_rules! source_version {
    ($s:expr, $input:expr) => {
        $crate::s3::copy::copy_source_version(
            $s,
            &$input.copy_source,
            $input.copy_source_if_match.as_ref(),
            $input.copy_source_if_none_match.as_ref(),
            $input.copy_source_if_modified_since.as_ref(),
            $input.copy_source_if_unmodified_since.as_ref(),
        )
    };
}
pub(super) use source_version;

pub(super) async fn copy_object(
    s: &Leadshop,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let input = req.input;
    write_preamble!(input);
    let customer_key = sse_c::customer_key!(input)?;
    let source_key = sse_c::source_customer_key!(input)?;
    let src = source_version!(s, input).await?;
    let (src_bucket, src_key, src_version) = copy_source(&input.copy_source)?;
    let replace_meta = match input
        .metadata_directive
        .as_ref()
        .map(MetadataDirective::as_str)
    {
        None | Some(MetadataDirective::COPY) => false,
        Some(MetadataDirective::REPLACE) => true,
        Some(other) => {
            return Err(s3_error!(
                InvalidArgument,
                "Unknown metadata directive {other}"
            ));
        }
    };
    let replace_tags = match input
        .tagging_directive
        .as_ref()
        .map(TaggingDirective::as_str)
    {
        None | Some(TaggingDirective::COPY) => false,
        Some(TaggingDirective::REPLACE) => true,
        Some(other) => {
            return Err(s3_error!(
                InvalidArgument,
                "Unknown tagging directive {other}"
            ));
        }
    };
    let storage_class = convert::storage_class(input.storage_class.as_ref())?;
    if src_bucket == input.bucket
        && src_key == input.key
        && src_version.is_none()
        && !replace_meta
        && !replace_tags
        && input.storage_class.is_none()
        && input.website_redirect_location.is_none()
        // Changing the encryption (e.g. re-encrypting under a KMS key) is a change.
        && input.server_side_encryption.is_none()
        && input.ssekms_key_id.is_none()
        && customer_key.is_none()
        && source_key.is_none()
    {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    let (headers, metadata) = if replace_meta {
        (content_headers!(input), convert::metadata(input.metadata))
    } else {
        let mut h = src.headers.clone();
        if input.website_redirect_location.is_some() {
            h.website_redirect_location = input.website_redirect_location;
        }
        (h, src.metadata.clone())
    };
    let tags = if replace_tags {
        convert::tagging_header(input.tagging.as_deref())?
    } else {
        src.tags.clone()
    };
    let enc = sse::for_input!(s, input, customer_key).await?;

    let algorithm = input
        .checksum_algorithm
        .as_ref()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            src.checksums
                .first_algorithm()
                .map(|a| a.upper().to_string())
        });
    let plan = ChecksumPlan::computing(algorithm.as_deref());
    // The source opens with its own key (x-amz-copy-source-server-side-encryption-customer-*).
    let (src_wrapping_key, _) = sse::for_read(s, &src.segments, source_key.as_ref())?;
    let reader = ObjectReader::new(s.store().clone(), src.segments.clone(), 0, src.size)
        .named(&src_bucket, &src_key, &src.version_id)
        .with_customer_key(src_wrapping_key);
    let ingested = body::ingest(
        s,
        Some(reader.into_blob()),
        &plan,
        None,
        None,
        enc.wrapping.clone(),
        body::Inline::Allowed,
    )
    .await?;
    // The copy is a new version: the destination's lock headers or default retention (the
    // source's retention is not copied, as on AWS).
    let dest_config = s.bucket_config(&input.bucket).await?;
    let acl = super::object::object_acl!(&dest_config, input)?;
    let (retention, legal_hold) = super::object_lock::for_write(
        s,
        &dest_config,
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
        None,
    )?;
    let new = NewVersion {
        key: input.key,
        storage_class,
        headers,
        metadata,
        tags,
        retention,
        legal_hold,
        acl,
        ..NewVersion::default()
    };
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let outcome = write_version(s, input.bucket.clone(), new, ingested, precondition).await?;
    let v = &outcome.version;
    let expiration = super::lifecycle::expiration_of_new(s, &dest_config, v);
    let mut result = CopyObjectResult {
        e_tag: Some(etag(&v.etag)),
        last_modified: Some(ts(v.last_modified_ms)),
        checksum_type: convert::checksum_type(&v.checksums),
        ..Default::default()
    };
    set_checksums!(result, &v.checksums);
    Ok(S3Response::new(CopyObjectOutput {
        expiration,
        server_side_encryption: convert::sse(&v.segments),
        copy_object_result: Some(result),
        copy_source_version_id: (src.version_id != NULL_VERSION_ID).then(|| src.version_id.clone()),
        version_id: version_header(v, outcome.versioning),
        ssekms_key_id: enc.kms_key_arn,
        sse_customer_algorithm: super::sse_c::algorithm(enc.customer.as_ref()),
        sse_customer_key_md5: enc.customer.map(|k| k.md5),
        ..Default::default()
    }))
}
