//! GetObject and HeadObject: conditions, ranges, and the response headers of a stored version.

use leadshop_store::{NULL_VERSION_ID, Store, VersionRecord};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::convert::{self, etag, set_checksums, ts};
use super::reader::ObjectReader;
use super::{sse, sse_c};

pub(super) fn check_read_conditions(
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
    /// The server's time of the read (restored copies come and go with it).
    now_ms: i64,
    /// `x-amz-expiration`: the lifecycle rule that will expire the current version.
    expiration: Option<String>,
    /// A GET's inline object data as stored, read with the record (HEAD reads none).
    inline: Option<Vec<u8>>,
}

/// Whether a read brings the object's data along with its record (GET) or not (HEAD).
#[derive(Clone, Copy)]
enum Want {
    Data,
    Headers,
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
    want: Want,
) -> S3Result<ReadView> {
    let current = version_id.is_none();
    let point = Store::version_lookup_is_point(version_id.as_deref());
    let config = s.bucket_config(&bucket).await?;
    let lookup = move |st: &Store| match want {
        Want::Data => st.get_version_with_inline(&bucket, &key, version_id.as_deref()),
        Want::Headers => Ok((st.get_version(&bucket, &key, version_id.as_deref())?, None)),
    };
    // A point lookup runs on the request's own task (a hop to the blocking pool and back cost a
    // third of small GETs' throughput); a walk over the key's versions goes to the pool.
    let (v, inline) = if point {
        s.point_lookup(lookup)?
    } else {
        s.db(lookup).await?
    };
    let expiration = current
        .then(|| {
            super::lifecycle::expiration_header(
                s,
                &config,
                &v.key,
                v.size,
                &v.tags,
                v.last_modified_ms,
            )
        })
        .flatten();
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
        now_ms: s.now_ms(),
        expiration,
        inline,
    })
}

/// Reads the version a GET or HEAD asks for and checks its conditions; both inputs carry the
/// same fields, so one macro serves both.
macro_rules! prepare_read {
    ($s:expr, $input:expr, $want:expr) => {{
        let input = &$input;
        let customer_key = sse_c::customer_key!(input)?;
        let view = read_view(
            $s,
            input.bucket.clone(),
            input.key.clone(),
            input.version_id.clone(),
            input.range,
            input.part_number,
            input.checksum_mode.as_ref(),
            $want,
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
        $out.storage_class = (v.storage_class != leadshop_spec::StorageClass::Standard)
            .then(|| $crate::s3::convert::class_dto(v.storage_class));
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
        $out.restore = super::restore::restore_header(v, view.now_ms);
        $out.expiration = view.expiration.clone();
        $out.replication_status = v
            .replication
            .map(|r| s3s::dto::ReplicationStatus::from_static(r.as_str()));
        let lock = super::object_lock::headers_of(v);
        $out.object_lock_mode = lock.mode;
        $out.object_lock_retain_until_date = lock.until;
        $out.object_lock_legal_hold_status = lock.legal_hold;
    }};
}

pub(super) async fn get_object(
    s: &Leadshop,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let (view, customer_key, wrapping_key, kms_arn) = prepare_read!(s, input, Want::Data);
    // An archived version's data is readable only through a restored copy (HEAD answers).
    if !view.version.readable_at(view.now_ms) {
        return Err(super::restore::archived());
    }
    // Found damaged by the scrubber: an error before a byte is sent (its data would fail its
    // tag check mid-body).
    if s.health
        .is_damaged(&input.bucket, &input.key, &view.version.version_id)
    {
        return Err(s3_error!(
            InternalError,
            "The object version's data is damaged (found by the scrubber); restore it from a backup or an earlier version."
        ));
    }
    let mut out = GetObjectOutput::default();
    fill_read_output!(out, &view, input);
    out.ssekms_key_id = kms_arn;
    out.sse_customer_algorithm = super::sse_c::algorithm(customer_key.as_ref());
    out.sse_customer_key_md5 = customer_key.as_ref().map(|k| k.md5.clone());
    let reader = ObjectReader::new(
        s.store().clone(),
        view.version.segments.clone(),
        view.start,
        view.end,
    )
    .named(&input.bucket, &input.key, &view.version.version_id)
    .with_customer_key(wrapping_key)
    .with_inline(view.inline);
    // A download draws on its client's response budget (the console's in-process requests
    // and tests without a shell have none).
    let reader = match req.extensions.get::<crate::context::RequestContext>() {
        Some(cx) => reader.with_budget(cx.conn.client.budget()),
        None => reader,
    };
    out.body = Some(reader.into_blob());
    Ok(S3Response::new(out))
}

pub(super) async fn head_object(
    s: &Leadshop,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    let (view, customer_key, _, kms_arn) = prepare_read!(s, input, Want::Headers);
    let mut out = HeadObjectOutput::default();
    fill_read_output!(out, &view, input);
    out.ssekms_key_id = kms_arn;
    out.sse_customer_algorithm = super::sse_c::algorithm(customer_key.as_ref());
    out.sse_customer_key_md5 = customer_key.map(|k| k.md5);
    Ok(S3Response::new(out))
}
