//! PutObject (and browser POST uploads), and the rules every object write shares: key and
//! metadata checks, preconditions, and [`write_version`], the end of every write.

use std::sync::Arc;

use leadshop_spec::names::{KeyError, validate_key};
use leadshop_store::{
    NULL_VERSION_ID, NewVersion, VersionRecord, VersioningState, WritePrecondition,
};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::body::{self, ChecksumPlan};
use super::convert::{self, content_headers, etag, set_checksums};
use super::sse_c;
use crate::access::PostAuthorized;
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
/// CreateMultipartUpload): key rules and the metadata limit (ACLs: `object_acl!`).
macro_rules! write_preamble {
    ($input:expr) => {{
        let input = &$input;
        $crate::s3::object::check_key(&input.key)?;
        $crate::s3::object::check_metadata(input.metadata.as_ref())?;
    }};
}
pub(super) use write_preamble;

/// The ACL a write's headers give the new object (see `acl::for_new_object`).
macro_rules! object_acl {
    ($config:expr, $input:expr) => {
        $crate::s3::acl::for_new_object(
            $config,
            $input.acl.as_ref().map(|a| a.as_str()),
            &$crate::s3::acl::grant_headers!($input),
        )
    };
}
pub(super) use object_acl;

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
        (Some(c), None) if c.is_any() => Ok(Some(WritePrecondition::IfMatchAny)),
        (Some(_), None) => Err(s3_error!(InvalidArgument, "If-Match has an invalid value")),
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

pub(super) fn version_header(v: &VersionRecord, state: VersioningState) -> Option<String> {
    (state != VersioningState::Unversioned || v.version_id != NULL_VERSION_ID)
        .then(|| v.version_id.clone())
}

pub(super) async fn put_object(
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
    // A redirecting form's answer is s3s's 303 and its Location: nothing to add to it.
    let post = extensions
        .get::<Arc<PostForm>>()
        .filter(|f| f.get("success_action_redirect").is_none() && f.get("redirect").is_none())
        .map(|_| (input.bucket.clone(), input.key.clone()));
    if let Some(form) = extensions.get::<Arc<PostForm>>() {
        if extensions.get::<PostAuthorized>().is_none() {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        apply_post_form(&mut input, form)?;
    }
    write_preamble!(input);
    let customer_key = sse_c::customer_key!(input)?;
    if input.write_offset_bytes.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Appending with x-amz-write-offset-bytes is not supported"
        ));
    }
    let lock_config = s.bucket_config(&input.bucket).await?;
    let integrity = input.content_md5.is_some()
        || headers.contains_key("x-amz-trailer")
        || headers
            .keys()
            .any(|k| k.as_str().starts_with("x-amz-checksum-") && k != "x-amz-checksum-type");
    let acl = object_acl!(&lock_config, input)?;
    let (retention, legal_hold) = super::object_lock::for_write(
        s,
        &lock_config,
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
        Some(integrity),
    )?;
    let storage_class = convert::storage_class(input.storage_class.as_ref())?;
    let tags = convert::tagging_header(input.tagging.as_deref())?;
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let enc = super::sse::for_input!(s, input, customer_key).await?;

    let replica_of = replica_of(&headers)?;
    let plan = ChecksumPlan::from_headers(&headers)?;
    let ingested = body::ingest(
        s,
        input.body,
        &plan,
        input.content_md5.as_deref(),
        trailing_headers.as_ref(),
        enc.wrapping.clone(),
        body::Inline::Allowed,
    )
    .await?;
    let new = NewVersion {
        key: input.key,
        storage_class,
        headers: content_headers!(input),
        metadata: convert::metadata(input.metadata),
        tags,
        retention,
        legal_hold,
        acl,
        replica_of,
        ..NewVersion::default()
    };
    let outcome = write_version(s, input.bucket.clone(), new, ingested, precondition).await?;
    let v = &outcome.version;
    let mut out = PutObjectOutput {
        expiration: super::lifecycle::expiration_of_new(s, &lock_config, v),
        server_side_encryption: convert::sse(&v.segments),
        e_tag: Some(etag(&v.etag)),
        version_id: version_header(v, outcome.versioning),
        checksum_type: convert::checksum_type(&v.checksums),
        sse_customer_algorithm: super::sse_c::algorithm(enc.customer.as_ref()),
        sse_customer_key_md5: enc.customer.map(|k| k.md5),
        ssekms_key_id: enc.kms_key_arn,
        ..Default::default()
    };
    set_checksums!(out, &v.checksums);
    let mut resp = S3Response::new(out);
    if let Some((bucket, key)) = post {
        post_response_headers(
            &mut resp.headers,
            &headers,
            &bucket,
            &key,
            v,
            outcome.versioning,
        );
    }
    Ok(resp)
}

/// What AWS answers a POST upload in headers, whatever its status: `ETag`, `Location` (the
/// object's URL) and the version id and encryption. s3s's POST serializer writes only the
/// status (or the 201 document), and a browser page reads these through CORS's
/// `Access-Control-Expose-Headers`.
fn post_response_headers(
    out: &mut http::HeaderMap,
    request: &http::HeaderMap,
    bucket: &str,
    key: &str,
    v: &VersionRecord,
    versioning: VersioningState,
) {
    use percent_encoding::utf8_percent_encode;
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            out.insert(name, v);
        }
    };
    set("etag", format!("\"{}\"", v.etag));
    if let Some(host) = request
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        let key = utf8_percent_encode(key, crate::sigv4::PATH);
        // Virtual-hosted (`<bucket>.<domain>`) or path-style, as the request was addressed.
        let virtual_host = host
            .strip_prefix(bucket)
            .is_some_and(|rest| rest.starts_with('.'));
        set(
            "location",
            if virtual_host {
                format!("https://{host}/{key}")
            } else {
                format!("https://{host}/{bucket}/{key}")
            },
        );
    }
    if let Some(id) = version_header(v, versioning) {
        set("x-amz-version-id", id);
    }
    if let Some(sse) = convert::sse(&v.segments) {
        set("x-amz-server-side-encryption", sse.as_str().to_string());
    }
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
    s.db(move |st| {
        let sealed = ingested.seal()?;
        st.commit_version(&bucket, new, sealed, precondition)
    })
    .await
}

/// The longest `x-leadshop-replica-of` value taken (`<bucket>/<version id>`).
const MAX_SOURCE_LEN: usize = 1100;

/// The `x-leadshop-replica-of` header of a request, if it carries one.
///
/// # Errors
/// InvalidArgument: not `<bucket>/<version id>` of printable ASCII.
pub(super) fn replica_of(headers: &http::HeaderMap) -> S3Result<Option<String>> {
    let Some(v) = headers.get(leadshop_spec::replication::REPLICA_HEADER) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or_default();
    let ok = !text.is_empty()
        && text.len() <= MAX_SOURCE_LEN
        && text
            .split_once('/')
            .is_some_and(|(b, v)| !b.is_empty() && !v.is_empty())
        && text.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(s3_error!(
            InvalidArgument,
            "x-leadshop-replica-of must be <source bucket>/<source version id>"
        ));
    }
    Ok(Some(text.to_string()))
}
