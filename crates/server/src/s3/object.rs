//! Object operations: put, get, head, copy, delete, tagging.

use std::collections::BTreeMap;
use std::sync::Arc;

use leadshop_spec::names::{KeyError, validate_key};
use leadshop_store::{
    NULL_VERSION_ID, NewVersion, VersionRecord, VersioningState, WritePrecondition,
};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::body::{self, ChecksumPlan, ObjectReader};
use super::convert::{self, HeaderFields, etag, set_checksums, ts};
use super::{sse, sse_c};
use crate::access::{Authz, PostAuthorized};
use crate::shell::post_form::PostForm;

/// Refuses keys S3 refuses, with S3's error codes.
pub(super) fn check_key(key: &str) -> S3Result<()> {
    validate_key(key).map_err(|e| match e {
        KeyError::TooLong(_) => {
            S3Error::with_message(S3ErrorCode::KeyTooLongError, "Your key is too long")
        }
        other => S3Error::with_message(S3ErrorCode::InvalidArgument, other.to_string()),
    })
}

/// Object ACLs are disabled (ObjectOwnership = BucketOwnerEnforced), as on new AWS buckets.
pub(super) fn refuse_acl(acl: Option<&ObjectCannedACL>, grants: bool) -> S3Result<()> {
    let ok = acl.is_none_or(|a| {
        a.as_str() == ObjectCannedACL::PRIVATE
            || a.as_str() == ObjectCannedACL::BUCKET_OWNER_FULL_CONTROL
    });
    if !ok || grants {
        return Err(s3_error!(
            AccessControlListNotSupported,
            "The bucket does not allow ACLs"
        ));
    }
    Ok(())
}

/// S3's limit on user-defined metadata: the UTF-8 bytes of every key and value, together.
const MAX_METADATA_BYTES: usize = 2 * 1024;

/// Refuses user metadata beyond [`MAX_METADATA_BYTES`], with S3's `MetadataTooLarge`.
pub(super) fn check_metadata(m: Option<&Metadata>) -> S3Result<()> {
    let size: usize = m.map_or(0, |m| m.iter().map(|(k, v)| k.len() + v.len()).sum());
    if size > MAX_METADATA_BYTES {
        return Err(S3Error::with_message(
            S3ErrorCode::MetadataTooLarge,
            format!(
                "Your metadata headers exceed the maximum allowed metadata size ({size} of {MAX_METADATA_BYTES} bytes)."
            ),
        ));
    }
    Ok(())
}

/// The checks every object-creating request shares (PutObject, CopyObject,
/// CreateMultipartUpload): key rules, ACLs and the metadata limit.
macro_rules! write_preamble {
    ($input:expr) => {{
        let input = &$input;
        $crate::s3::object::check_key(&input.key)?;
        $crate::s3::object::check_metadata(input.metadata.as_ref())?;
        $crate::s3::object::refuse_acl(
            input.acl.as_ref(),
            input.grant_full_control.is_some()
                || input.grant_read.is_some()
                || input.grant_read_acp.is_some()
                || input.grant_write_acp.is_some(),
        )?;
    }};
}
pub(super) use write_preamble;

/// The precondition of a conditional write (`If-None-Match: *`, `If-Match: "etag"`).
pub(super) fn write_precondition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<Option<WritePrecondition>> {
    match (if_match, if_none_match) {
        (Some(_), Some(_)) => Err(s3_error!(
            NotImplemented,
            "If-Match with If-None-Match is not supported"
        )),
        (None, Some(c)) if c.is_any() => Ok(Some(WritePrecondition::IfNoneMatchAny)),
        (None, Some(_)) => Err(s3_error!(NotImplemented, "If-None-Match supports only *")),
        (Some(ETagCondition::ETag(e)), None) => {
            Ok(Some(WritePrecondition::IfMatch(e.value().to_string())))
        }
        (Some(_), None) => Err(s3_error!(NotImplemented, "If-Match: * is not supported")),
        (None, None) => Ok(None),
    }
}

/// The form fields s3s does not carry into PutObject: `acl` (AWS's name for it in a form)
/// and `tagging` (a `<Tagging>` document).
fn apply_post_form(input: &mut PutObjectInput, form: &PostForm) -> S3Result<()> {
    if input.acl.is_none()
        && let Some(acl) = form.get("acl")
    {
        input.acl = Some(ObjectCannedACL::from(acl.to_string()));
    }
    if input.tagging.is_none()
        && let Some(xml) = form.get("tagging")
    {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let pairs: Vec<String> = crate::access::post_form_tags(xml)?
            .into_iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(&k, NON_ALPHANUMERIC),
                    utf8_percent_encode(&v, NON_ALPHANUMERIC)
                )
            })
            .collect();
        input.tagging = Some(pairs.join("&"));
    }
    Ok(())
}

fn version_header(v: &VersionRecord, state: VersioningState) -> Option<String> {
    (state != VersioningState::Unversioned || v.version_id != NULL_VERSION_ID)
        .then(|| v.version_id.clone())
}

pub(super) async fn handle_put_object(
    s: &Leadshop,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let S3Request {
        mut input,
        headers,
        trailing_headers,
        extensions,
        ..
    } = req;
    // A browser POST upload arrives here as the PutObject it is, once the access hook has
    // authorised it on its form (never without that).
    if let Some(form) = extensions.get::<Arc<PostForm>>() {
        if extensions.get::<PostAuthorized>().is_none() {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        apply_post_form(&mut input, form)?;
    }
    write_preamble!(input);
    let customer_key = sse_c::from_headers(
        input.sse_customer_algorithm.as_deref(),
        input.sse_customer_key.as_deref(),
        input.sse_customer_key_md5.as_deref(),
    )?;
    if input.write_offset_bytes.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Appending with x-amz-write-offset-bytes is not supported"
        ));
    }
    if input.object_lock_mode.is_some() || input.object_lock_legal_hold_status.is_some() {
        return Err(s3_error!(
            InvalidRequest,
            "Bucket is missing Object Lock Configuration"
        ));
    }
    let storage_class = convert::storage_class(input.storage_class.as_ref())?;
    let tags = convert::tagging_header(input.tagging.as_deref())?;
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let bucket = input.bucket.clone();
    let bucket_rec = s.db(move |st| st.bucket(&bucket)).await?;
    let enc = sse::for_write(
        s,
        &bucket_rec,
        &input.key,
        sse::write_request!(input, customer_key),
    )?;

    let plan = ChecksumPlan::from_headers(&headers)?;
    let ingested = body::ingest(
        s,
        input.body,
        &plan,
        input.content_md5.as_deref(),
        trailing_headers.as_ref(),
        enc.wrapping.clone(),
    )
    .await?;
    let new = NewVersion {
        key: input.key,
        storage_class,
        headers: HeaderFields {
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires,
            website_redirect_location: input.website_redirect_location,
        }
        .into(),
        metadata: convert::metadata(input.metadata),
        tags,
        ..NewVersion::default()
    };
    let outcome = write_version(s, input.bucket, new, ingested, precondition).await?;
    let v = &outcome.version;
    let mut out = PutObjectOutput {
        server_side_encryption: convert::sse(&v.segments),
        e_tag: Some(etag(&v.etag)),
        version_id: version_header(v, outcome.versioning),
        checksum_type: convert::checksum_type(&v.checksums),
        sse_customer_algorithm: enc.customer.as_ref().map(|_| "AES256".to_string()),
        sse_customer_key_md5: enc.customer.map(|k| k.md5),
        ssekms_key_id: enc.kms_key_arn,
        ..Default::default()
    };
    set_checksums!(out, &v.checksums);
    Ok(S3Response::new(out))
}

/// The end of every object write: the ingested data sealed (durable), then committed as a
/// new version by the store, which removes the data again if the commit is refused.
pub(super) async fn write_version(
    s: &Leadshop,
    bucket: String,
    new: NewVersion,
    ingested: body::Ingested,
    precondition: Option<WritePrecondition>,
) -> S3Result<leadshop_store::PutOutcome> {
    let new = NewVersion {
        etag: ingested.etag(),
        checksums: ingested.checksums.clone(),
        ..new
    };
    let sealed = ingested.seal().await?;
    s.db(move |st| st.commit_version(&bucket, new, sealed, precondition))
        .await
}

/// Evaluates GET/HEAD conditions in the order RFC 9110 §13.2.2 gives (as S3 does).
fn check_read_conditions(
    v: &VersionRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
    not_modified: S3ErrorCode,
) -> S3Result<()> {
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == v.etag,
    };
    let modified_s = v.last_modified_ms.div_euclid(1000);
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    } else if let Some(t) = if_unmodified_since
        && modified_s > convert::ms(t).div_euclid(1000)
    {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    let precondition_failed_or_not_modified = |code: &S3ErrorCode| {
        let mut e = S3Error::new(code.clone());
        if *code == S3ErrorCode::PreconditionFailed {
            e.set_message("At least one of the pre-conditions you specified did not hold");
        }
        e
    };
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(precondition_failed_or_not_modified(&not_modified));
        }
    } else if let Some(t) = if_modified_since
        && modified_s <= convert::ms(t).div_euclid(1000)
    {
        return Err(precondition_failed_or_not_modified(&not_modified));
    }
    Ok(())
}

/// The bytes a `Range` selects of an object of `size` bytes: `start..end`, and the
/// `Content-Range` of a 206 (`None`: the whole object, 200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSpan {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// `bytes a-b/size`, or `None` for a 200 with the whole object.
    pub content_range: Option<String>,
}

/// Resolves a parsed `Range` against an object's size, as S3 does.
///
/// # Errors
/// 416 InvalidRange when no byte of the object is selected.
pub fn resolve_range(range: &Range, size: u64) -> S3Result<RangeSpan> {
    // A suffix range of an empty object is the whole (empty) object: RFC 9110 §14.1.1 makes
    // `bytes=-N` satisfiable, and a 206 cannot describe zero bytes.
    if let Range::Suffix { length } = *range
        && size == 0
        && length > 0
    {
        return Ok(RangeSpan {
            start: 0,
            end: 0,
            content_range: None,
        });
    }
    let r = range.check(size).map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        )
    })?;
    // `check` never selects nothing of a non-empty object; an empty selection would have no
    // last byte to name, so it is refused rather than described.
    let Some(last) = r.end.checked_sub(1).filter(|l| *l >= r.start) else {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ));
    };
    Ok(RangeSpan {
        start: r.start,
        end: r.end,
        content_range: Some(format!("bytes {}-{last}/{size}", r.start)),
    })
}

/// What GET and HEAD both answer: the version, the byte range and the headers.
struct ReadView {
    version: VersionRecord,
    start: u64,
    end: u64,
    content_range: Option<String>,
    parts_count: Option<i32>,
    with_checksums: bool,
}

#[allow(clippy::too_many_arguments)]
async fn read_view(
    s: &Leadshop,
    bucket: String,
    key: String,
    version_id: Option<String>,
    range: Option<Range>,
    part_number: Option<i32>,
    checksum_mode: Option<&ChecksumMode>,
) -> S3Result<ReadView> {
    let v = s
        .db(move |st| st.get_version(&bucket, &key, version_id.as_deref()))
        .await?;
    let size = v.size;
    let (start, end, content_range, parts_count) = match (range, part_number) {
        (Some(_), Some(_)) => {
            return Err(s3_error!(
                InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter"
            ));
        }
        (Some(r), None) => {
            let span = resolve_range(&r, size)?;
            (span.start, span.end, span.content_range, None)
        }
        (None, Some(n)) => {
            let count = v.parts_count().unwrap_or(1);
            let idx = usize::try_from(n)
                .ok()
                .filter(|n| *n >= 1 && *n <= count)
                .ok_or_else(|| {
                    let mut e = S3Error::with_message(
                        S3ErrorCode::Custom("InvalidPartNumber".into()),
                        "The requested partnumber is not satisfiable",
                    );
                    e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
                    e
                })?
                - 1;
            if v.parts_count().is_none() {
                (0, size, None, None)
            } else {
                let start: u64 = v.segments[..idx].iter().map(|s| s.len).sum();
                let end = start + v.segments[idx].len;
                let cr = (end > start).then(|| format!("bytes {}-{}/{size}", start, end - 1));
                (start, end, cr, i32::try_from(count).ok())
            }
        }
        (None, None) => (0, size, None, None),
    };
    let with_checksums = checksum_mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
        && start == 0
        && end == size;
    Ok(ReadView {
        version: v,
        start,
        end,
        content_range,
        parts_count,
        with_checksums,
    })
}

/// Reads the version a GET or HEAD asks for and checks its conditions; both inputs carry the
/// same fields, so one macro serves both.
macro_rules! prepare_read {
    ($s:expr, $input:expr) => {{
        let input = &$input;
        let customer_key = sse_c::from_headers(
            input.sse_customer_algorithm.as_deref(),
            input.sse_customer_key.as_deref(),
            input.sse_customer_key_md5.as_deref(),
        )?;
        let view = read_view(
            $s,
            input.bucket.clone(),
            input.key.clone(),
            input.version_id.clone(),
            input.range,
            input.part_number,
            input.checksum_mode.as_ref(),
        )
        .await?;
        check_read_conditions(
            &view.version,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
            S3ErrorCode::NotModified,
        )?;
        let (wrapping_key, kms_arn) =
            sse::for_read($s, &view.version.segments, customer_key.as_ref())?;
        (view, customer_key, wrapping_key, kms_arn)
    }};
}

/// Fills the fields GetObjectOutput and HeadObjectOutput share.
macro_rules! fill_read_output {
    ($out:ident, $view:expr, $input:expr) => {{
        let view: &ReadView = $view;
        let v = &view.version;
        let h = &v.headers;
        $out.accept_ranges = Some("bytes".into());
        $out.content_length = Some(i64::try_from(view.end - view.start).unwrap_or(i64::MAX));
        $out.content_range = view.content_range.clone();
        $out.e_tag = Some(etag(&v.etag));
        $out.last_modified = Some(ts(v.last_modified_ms));
        $out.version_id = (v.version_id != NULL_VERSION_ID).then(|| v.version_id.clone());
        $out.storage_class =
            (v.storage_class != "STANDARD").then(|| StorageClass::from(v.storage_class.clone()));
        $out.metadata = (!v.metadata.is_empty()).then(|| v.metadata.clone().into_iter().collect());
        $out.parts_count = view.parts_count;
        $out.server_side_encryption = convert::sse(&v.segments);
        $out.tag_count = (!v.tags.is_empty()).then(|| i32::try_from(v.tags.len()).unwrap_or(0));
        $out.website_redirect_location = h.website_redirect_location.clone();
        $out.content_type = $input
            .response_content_type
            .clone()
            .or_else(|| h.content_type.clone())
            .and_then(|c| c.parse().ok());
        $out.content_encoding = $input
            .response_content_encoding
            .clone()
            .or_else(|| h.content_encoding.clone());
        $out.content_disposition = $input
            .response_content_disposition
            .clone()
            .or_else(|| h.content_disposition.clone());
        $out.content_language = $input
            .response_content_language
            .clone()
            .or_else(|| h.content_language.clone());
        $out.cache_control = $input
            .response_cache_control
            .clone()
            .or_else(|| h.cache_control.clone());
        $out.expires = $input
            .response_expires
            .clone()
            .map(|t: Timestamp| {
                let mut buf = Vec::new();
                let _ = t.format(s3s::dto::TimestampFormat::HttpDate, &mut buf);
                String::from_utf8(buf).unwrap_or_default()
            })
            .or_else(|| h.expires.clone());
        if view.with_checksums {
            set_checksums!($out, &v.checksums);
            $out.checksum_type = convert::checksum_type(&v.checksums);
        }
    }};
}

pub(super) async fn handle_get_object(
    s: &Leadshop,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let (view, customer_key, wrapping_key, kms_arn) = prepare_read!(s, input);
    let mut out = GetObjectOutput::default();
    fill_read_output!(out, &view, input);
    out.ssekms_key_id = kms_arn;
    out.sse_customer_algorithm = customer_key.as_ref().map(|_| "AES256".to_string());
    out.sse_customer_key_md5 = customer_key.as_ref().map(|k| k.md5.clone());
    let reader = ObjectReader::new(
        s.store().clone(),
        view.version.segments.clone(),
        view.start,
        view.end,
    )
    .named(&input.bucket, &input.key, &view.version.version_id)
    .with_customer_key(wrapping_key);
    out.body = Some(reader.into_blob());
    Ok(S3Response::new(out))
}

pub(super) async fn handle_head_object(
    s: &Leadshop,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    let (view, customer_key, _, kms_arn) = prepare_read!(s, input);
    let mut out = HeadObjectOutput::default();
    fill_read_output!(out, &view, input);
    out.ssekms_key_id = kms_arn;
    out.sse_customer_algorithm = customer_key.as_ref().map(|_| "AES256".to_string());
    out.sse_customer_key_md5 = customer_key.map(|k| k.md5);
    Ok(S3Response::new(out))
}

/// The source of a copy: bucket, key and optional version.
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
    Ok(v)
}

pub(super) async fn handle_copy_object(
    s: &Leadshop,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let input = req.input;
    write_preamble!(input);
    let customer_key = sse_c::from_headers(
        input.sse_customer_algorithm.as_deref(),
        input.sse_customer_key.as_deref(),
        input.sse_customer_key_md5.as_deref(),
    )?;
    let source_key = sse_c::from_headers(
        input.copy_source_sse_customer_algorithm.as_deref(),
        input.copy_source_sse_customer_key.as_deref(),
        input.copy_source_sse_customer_key_md5.as_deref(),
    )?;
    let src = copy_source_version(
        s,
        &input.copy_source,
        input.copy_source_if_match.as_ref(),
        input.copy_source_if_none_match.as_ref(),
        input.copy_source_if_modified_since.as_ref(),
        input.copy_source_if_unmodified_since.as_ref(),
    )
    .await?;
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
        let h = HeaderFields {
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires,
            website_redirect_location: input.website_redirect_location,
        };
        (h.into(), convert::metadata(input.metadata))
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
    let bucket = input.bucket.clone();
    let bucket_rec = s.db(move |st| st.bucket(&bucket)).await?;
    let enc = sse::for_write(
        s,
        &bucket_rec,
        &input.key,
        sse::write_request!(input, customer_key),
    )?;

    let algorithm = input
        .checksum_algorithm
        .as_ref()
        .map(|a| a.as_str().to_string())
        .or_else(|| body::stored_algorithm(&src.checksums));
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
    )
    .await?;
    let new = NewVersion {
        key: input.key,
        storage_class,
        headers,
        metadata,
        tags,
        ..NewVersion::default()
    };
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let outcome = write_version(s, input.bucket, new, ingested, precondition).await?;
    let v = &outcome.version;
    let mut result = CopyObjectResult {
        e_tag: Some(etag(&v.etag)),
        last_modified: Some(ts(v.last_modified_ms)),
        checksum_type: convert::checksum_type(&v.checksums),
        ..Default::default()
    };
    set_checksums!(result, &v.checksums);
    Ok(S3Response::new(CopyObjectOutput {
        server_side_encryption: convert::sse(&v.segments),
        copy_object_result: Some(result),
        copy_source_version_id: (src.version_id != NULL_VERSION_ID).then(|| src.version_id.clone()),
        version_id: version_header(v, outcome.versioning),
        ssekms_key_id: enc.kms_key_arn,
        sse_customer_algorithm: enc.customer.as_ref().map(|_| "AES256".to_string()),
        sse_customer_key_md5: enc.customer.map(|k| k.md5),
        ..Default::default()
    }))
}

pub(super) async fn handle_delete_object(
    s: &Leadshop,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    if input.if_match.is_some()
        || input.if_match_last_modified_time.is_some()
        || input.if_match_size.is_some()
    {
        return Err(s3_error!(
            NotImplemented,
            "Conditional deletes are not supported"
        ));
    }
    let (bucket, key, vid) = (input.bucket, input.key, input.version_id);
    let out = s
        .db(move |st| st.delete_object(&bucket, &key, vid.as_deref()))
        .await?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: out.delete_marker.then_some(true),
        version_id: out.version_id,
        request_charged: None,
    }))
}

pub(super) async fn handle_delete_objects(
    s: &Leadshop,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    let objects = input.delete.objects;
    if objects.len() > 1000 {
        return Err(s3_error!(
            MalformedXML,
            "The request may not contain more than 1000 keys"
        ));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    let bucket = input.bucket;
    let b = bucket.clone();
    s.db(move |st| st.bucket(&b)).await?;
    // The access hook left who is asking; each key is authorised as its own DeleteObject.
    let Some(authz) = req.extensions.get::<Arc<Authz>>().cloned() else {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    };
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for obj in objects {
        let action = if obj.version_id.is_some() {
            "s3:DeleteObjectVersion"
        } else {
            "s3:DeleteObject"
        };
        let resource = format!("arn:aws:s3:::{bucket}/{}", obj.key);
        if let Err(e) = s.state.access.authorize(&authz, action, &bucket, &resource) {
            errors.push(s3s::dto::Error {
                code: Some(e.code().as_str().to_string()),
                key: Some(obj.key),
                message: e.message().map(str::to_string),
                version_id: obj.version_id,
            });
            continue;
        }
        let (b, k, v) = (bucket.clone(), obj.key.clone(), obj.version_id.clone());
        match s.db(move |st| st.delete_object(&b, &k, v.as_deref())).await {
            Ok(out) => {
                if !quiet {
                    let marker_created = out.delete_marker && obj.version_id.is_none();
                    deleted.push(DeletedObject {
                        delete_marker: out.delete_marker.then_some(true),
                        delete_marker_version_id: marker_created
                            .then(|| out.version_id.clone())
                            .flatten(),
                        key: Some(obj.key),
                        version_id: if marker_created { None } else { obj.version_id },
                    });
                }
            }
            Err(e) => errors.push(s3s::dto::Error {
                code: Some(e.code().as_str().to_string()),
                key: Some(obj.key),
                message: e.message().map(str::to_string),
                version_id: obj.version_id,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(errors),
        request_charged: None,
    }))
}

pub(super) async fn handle_put_object_tagging(
    s: &Leadshop,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let input = req.input;
    let mut tags = BTreeMap::new();
    for t in input.tagging.tag_set {
        let (Some(k), v) = (t.key, t.value) else {
            return Err(s3_error!(InvalidTag, "A tag needs a key"));
        };
        if tags.insert(k, v.unwrap_or_default()).is_some() {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    convert::check_tags(&tags)?;
    let (bucket, key, vid) = (input.bucket, input.key, input.version_id);
    let v = s
        .db(move |st| {
            st.update_version(&bucket, &key, vid.as_deref(), move |r| {
                r.tags = tags;
                Ok(())
            })
        })
        .await?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: (v.version_id != NULL_VERSION_ID).then_some(v.version_id),
    }))
}

pub(super) async fn handle_get_object_tagging(
    s: &Leadshop,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let input = req.input;
    let (bucket, key, vid) = (input.bucket, input.key, input.version_id);
    let v = s
        .db(move |st| st.get_version(&bucket, &key, vid.as_deref()))
        .await?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: convert::tag_set(&v.tags),
        version_id: (v.version_id != NULL_VERSION_ID).then_some(v.version_id),
    }))
}

pub(super) async fn handle_delete_object_tagging(
    s: &Leadshop,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let input = req.input;
    let (bucket, key, vid) = (input.bucket, input.key, input.version_id);
    let v = s
        .db(move |st| {
            st.update_version(&bucket, &key, vid.as_deref(), move |r| {
                r.tags.clear();
                Ok(())
            })
        })
        .await?;
    Ok(S3Response::new(DeleteObjectTaggingOutput {
        version_id: (v.version_id != NULL_VERSION_ID).then_some(v.version_id),
    }))
}
