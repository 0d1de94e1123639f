//! Conversions between engine records and s3s DTOs, and small parsing helpers.

use std::collections::BTreeMap;

use leadshop_store::{Checksums, VersionRecord};
use s3s::dto::{self, ETag, Timestamp};
use s3s::{S3Result, s3_error};

/// Milliseconds since the epoch → S3 timestamp.
pub(crate) fn ts(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

/// Milliseconds since the epoch as an HTTP date (`x-amz-restore`, `x-amz-expiration`).
pub(crate) fn http_date(ms: i64) -> Option<String> {
    let mut out = Vec::new();
    ts(ms)
        .format(dto::TimestampFormat::HttpDate, &mut out)
        .ok()?;
    String::from_utf8(out).ok()
}

/// S3 timestamp → milliseconds since the epoch.
pub(crate) fn ms(t: &Timestamp) -> i64 {
    let t: time::OffsetDateTime = t.clone().into();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A stored ETag (no quotes) as the DTO value.
pub(crate) fn etag(s: &str) -> ETag {
    ETag::Strong(s.to_string())
}

/// Validates a requested storage class (default STANDARD): one of
/// [`leadshop_spec::StorageClass::ALL`].
pub(crate) fn storage_class(
    sc: Option<&dto::StorageClass>,
) -> S3Result<leadshop_spec::StorageClass> {
    let Some(sc) = sc else {
        return Ok(leadshop_spec::StorageClass::Standard);
    };
    leadshop_spec::StorageClass::parse(sc.as_str()).ok_or_else(|| {
        s3_error!(
            InvalidStorageClass,
            "The storage class you specified is not valid: {}",
            sc.as_str()
        )
    })
}

/// A stored storage class as a DTO value (`StorageClass`, `ObjectStorageClass`, …).
pub(crate) fn class_dto<T: From<String>>(class: leadshop_spec::StorageClass) -> T {
    T::from(class.name().to_string())
}

/// User metadata from the request (keys lower-cased, as S3 returns them).
pub(crate) fn metadata(m: Option<dto::Metadata>) -> BTreeMap<String, String> {
    m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// Parses an `x-amz-tagging` header (URL query encoding) and checks S3's tag limits.
pub(crate) fn tagging_header(h: Option<&str>) -> S3Result<BTreeMap<String, String>> {
    let Some(h) = h.filter(|h| !h.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let mut tags = BTreeMap::new();
    for pair in h.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = url_decode(k)?;
        let v = url_decode(v)?;
        if tags.insert(k, v).is_some() {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    check_tags(&tags)?;
    Ok(tags)
}

fn url_decode(s: &str) -> S3Result<String> {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            s3_error!(
                InvalidArgument,
                "The tagging header is not valid URL encoding"
            )
        })
}

/// S3's tag limits: at most 10 per object, keys 1–128 and values 0–256 characters.
pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> S3Result<()> {
    if tags.len() > 10 {
        return Err(s3_error!(
            InvalidTag,
            "Object tags cannot be greater than 10"
        ));
    }
    check_tag_sizes(tags)
}

/// Keys 1–128 and values 0–256 characters.
pub(crate) fn check_tag_sizes(tags: &BTreeMap<String, String>) -> S3Result<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid"
            ));
        }
        if v.chars().count() > 256 {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is invalid"
            ));
        }
    }
    Ok(())
}

/// Tags as the DTO tag set.
pub(crate) fn tag_set(tags: &BTreeMap<String, String>) -> Vec<dto::Tag> {
    tags.iter()
        .map(|(k, v)| dto::Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

/// The stored content headers of a write (PutObject, CopyObject replacing metadata,
/// CreateMultipartUpload), from the request's fields of the same names.
macro_rules! content_headers {
    ($input:expr) => {
        leadshop_store::ContentHeaders {
            content_type: $input.content_type,
            content_encoding: $crate::s3::convert::stored_encoding($input.content_encoding),
            content_disposition: $input.content_disposition,
            content_language: $input.content_language,
            cache_control: $input.cache_control,
            expires: $input.expires,
            website_redirect_location: $input.website_redirect_location,
        }
    };
}
pub(crate) use content_headers;

/// The Content-Encoding stored with an object: aws-chunked is a transfer detail of the upload,
/// not a property of the object.
pub(crate) fn stored_encoding(e: Option<String>) -> Option<String> {
    e.and_then(|e| {
        let kept: Vec<&str> = e
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    })
}

/// Fills the checksum fields of any output that has the usual set.
macro_rules! set_checksums {
    ($out:expr, $c:expr) => {{
        let c: &leadshop_store::Checksums = $c;
        $out.checksum_crc32 = c.crc32.clone();
        $out.checksum_crc32c = c.crc32c.clone();
        $out.checksum_crc64nvme = c.crc64nvme.clone();
        $out.checksum_sha1 = c.sha1.clone();
        $out.checksum_sha256 = c.sha256.clone();
    }};
}
pub(crate) use set_checksums;

/// The checksum type of stored checksums, as a DTO value.
pub(crate) fn checksum_type(c: &Checksums) -> Option<dto::ChecksumType> {
    c.checksum_type
        .map(|t| dto::ChecksumType::from(t.as_str().to_string()))
}

/// The checksum algorithm of a stored object for listings.
pub(crate) fn checksum_algorithms(c: &Checksums) -> Option<Vec<dto::ChecksumAlgorithm>> {
    let algs: Vec<dto::ChecksumAlgorithm> = [
        (c.crc32.is_some(), "CRC32"),
        (c.crc32c.is_some(), "CRC32C"),
        (c.crc64nvme.is_some(), "CRC64NVME"),
        (c.sha1.is_some(), "SHA1"),
        (c.sha256.is_some(), "SHA256"),
    ]
    .into_iter()
    .filter(|(has, _)| *has)
    .map(|(_, a)| dto::ChecksumAlgorithm::from(a.to_string()))
    .collect();
    (!algs.is_empty()).then_some(algs)
}

/// A listing entry for the current version of a key.
pub(crate) fn object_entry(v: &VersionRecord, encode: bool) -> dto::Object {
    dto::Object {
        checksum_algorithm: checksum_algorithms(&v.checksums),
        checksum_type: checksum_type(&v.checksums),
        e_tag: Some(etag(&v.etag)),
        key: Some(maybe_encode(&v.key, encode)),
        last_modified: Some(ts(v.last_modified_ms)),
        owner: None,
        restore_status: None,
        size: Some(i64::try_from(v.size).unwrap_or(i64::MAX)),
        storage_class: Some(class_dto(v.storage_class)),
    }
}

/// Characters `encoding-type=url` leaves as they are (as AWS does: unreserved plus `/`).
const URL_KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// URL-encodes a key when `encoding-type=url` was asked for.
pub(crate) fn maybe_encode(s: &str, encode: bool) -> String {
    if encode {
        percent_encoding::utf8_percent_encode(s, URL_KEEP).to_string()
    } else {
        s.to_string()
    }
}

/// Whether the request asked for `encoding-type=url`.
pub(crate) fn wants_url_encoding(e: Option<&dto::EncodingType>) -> S3Result<bool> {
    match e {
        None => Ok(false),
        Some(e) if e.as_str() == "url" => Ok(true),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request"
        )),
    }
}

/// `max-keys` as S3 reads it: default and ceiling 1000, negative refused.
pub(crate) fn max_keys(m: Option<i32>) -> S3Result<usize> {
    match m {
        None => Ok(1000),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys cannot be negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(0).min(1000)),
    }
}

/// `x-amz-server-side-encryption` for data stored under these segments.
pub(crate) fn sse(segments: &[leadshop_store::Segment]) -> Option<dto::ServerSideEncryption> {
    segments
        .first()
        .and_then(|s| s.envelope.as_ref())
        // SSE-C objects report the customer algorithm instead (x-amz-server-side-encryption-
        // customer-algorithm), not x-amz-server-side-encryption.
        .and_then(|e| e.algorithm.header())
        .map(|name| dto::ServerSideEncryption::from(name.to_string()))
}
