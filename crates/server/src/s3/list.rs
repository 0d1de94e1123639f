//! Listings: ListObjects (v1), ListObjectsV2, ListObjectVersions.

use leadshop_store::{ListQuery, ListVersionsQuery, NULL_VERSION_ID};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::acl::owner;
use super::convert::{self, etag, maybe_encode, ts};

fn prefixes(cps: Vec<String>, encode: bool) -> Option<Vec<CommonPrefix>> {
    (!cps.is_empty()).then(|| {
        cps.into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(maybe_encode(&p, encode)),
            })
            .collect()
    })
}

/// Continuation tokens are opaque to clients; ours carry the last key or prefix returned.
fn encode_token(last: &str) -> String {
    hex::encode(last.as_bytes())
}

fn decode_token(token: &str) -> S3Result<String> {
    hex::decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

pub(super) async fn list_objects_v2(
    s: &Leadshop,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let encode = convert::wants_url_encoding(input.encoding_type.as_ref())?;
    let max_keys = convert::max_keys(input.max_keys)?;
    // An empty delimiter is no delimiter, and AWS does not echo it.
    let mut input = input;
    input.delimiter = input.delimiter.filter(|d| !d.is_empty());
    let token = input
        .continuation_token
        .as_deref()
        .map(decode_token)
        .transpose()?;
    let start_after = match (&token, &input.start_after) {
        (Some(t), Some(a)) => Some(t.clone().max(a.clone())),
        (Some(t), None) => Some(t.clone()),
        (None, a) => a.clone(),
    };
    let q = ListQuery {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone(),
        start_after,
        max_keys,
    };
    let bucket = input.bucket.clone();
    let mut page = s.db(move |st| st.list_objects(&bucket, &q)).await?;
    // `max-keys=0` asks for nothing: AWS answers an empty, untruncated page.
    page.truncated &= max_keys > 0;
    let fetch_owner = input.fetch_owner.unwrap_or(false);
    let contents: Vec<Object> = page
        .objects
        .iter()
        .map(|v| {
            let mut o = convert::object_entry(v, encode);
            if fetch_owner {
                o.owner = Some(owner());
            }
            o
        })
        .collect();
    let key_count = i32::try_from(contents.len() + page.common_prefixes.len()).unwrap_or(i32::MAX);
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(maybe_encode(&input.prefix.unwrap_or_default(), encode)),
        max_keys: Some(i32::try_from(max_keys).unwrap_or(1000)),
        key_count: Some(key_count),
        continuation_token: input.continuation_token,
        is_truncated: Some(page.truncated),
        next_continuation_token: page
            .truncated
            .then(|| page.last.as_deref().map(encode_token))
            .flatten(),
        contents: Some(contents),
        common_prefixes: prefixes(page.common_prefixes, encode),
        delimiter: input.delimiter.map(|d| maybe_encode(&d, encode)),
        encoding_type: input.encoding_type,
        start_after: input.start_after.map(|a| maybe_encode(&a, encode)),
        request_charged: None,
    }))
}

pub(super) async fn list_objects(
    s: &Leadshop,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let encode = convert::wants_url_encoding(input.encoding_type.as_ref())?;
    let max_keys = convert::max_keys(input.max_keys)?;
    // An empty delimiter is no delimiter, and AWS does not echo it.
    let mut input = input;
    input.delimiter = input.delimiter.filter(|d| !d.is_empty());
    let q = ListQuery {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone(),
        start_after: input.marker.clone().filter(|m| !m.is_empty()),
        max_keys,
    };
    let bucket = input.bucket.clone();
    let mut page = s.db(move |st| st.list_objects(&bucket, &q)).await?;
    // `max-keys=0` asks for nothing: AWS answers an empty, untruncated page.
    page.truncated &= max_keys > 0;
    let contents: Vec<Object> = page
        .objects
        .iter()
        .map(|v| {
            let mut o = convert::object_entry(v, encode);
            o.owner = Some(owner());
            o
        })
        .collect();
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(maybe_encode(&input.prefix.unwrap_or_default(), encode)),
        marker: Some(maybe_encode(&input.marker.unwrap_or_default(), encode)),
        max_keys: Some(i32::try_from(max_keys).unwrap_or(1000)),
        is_truncated: Some(page.truncated),
        // AWS returns NextMarker only when a delimiter was given (else the last key is it).
        next_marker: (page.truncated && input.delimiter.is_some())
            .then(|| page.last.as_deref().map(|l| maybe_encode(l, encode)))
            .flatten(),
        contents: Some(contents),
        common_prefixes: prefixes(page.common_prefixes, encode),
        delimiter: input.delimiter.map(|d| maybe_encode(&d, encode)),
        encoding_type: input.encoding_type,
        request_charged: None,
    }))
}

pub(super) async fn list_object_versions(
    s: &Leadshop,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let input = req.input;
    let encode = convert::wants_url_encoding(input.encoding_type.as_ref())?;
    let max_keys = convert::max_keys(input.max_keys)?;
    // An empty delimiter is no delimiter, and AWS does not echo it.
    let mut input = input;
    input.delimiter = input.delimiter.filter(|d| !d.is_empty());
    if input.version_id_marker.is_some() && input.key_marker.is_none() {
        return Err(s3_error!(
            InvalidArgument,
            "A version-id marker cannot be specified without a key marker."
        ));
    }
    let q = ListVersionsQuery {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone(),
        key_marker: input.key_marker.clone().filter(|m| !m.is_empty()),
        version_id_marker: input.version_id_marker.clone().filter(|m| !m.is_empty()),
        max_keys,
    };
    let bucket = input.bucket.clone();
    let mut page = s.db(move |st| st.list_versions(&bucket, &q)).await?;
    page.truncated &= max_keys > 0;
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    for (v, latest) in &page.versions {
        if v.delete_marker {
            markers.push(DeleteMarkerEntry {
                is_latest: Some(*latest),
                key: Some(maybe_encode(&v.key, encode)),
                last_modified: Some(ts(v.last_modified_ms)),
                owner: Some(owner()),
                version_id: Some(v.version_id.clone()),
            });
        } else {
            versions.push(ObjectVersion {
                checksum_algorithm: convert::checksum_algorithms(&v.checksums),
                checksum_type: convert::checksum_type(&v.checksums),
                e_tag: Some(etag(&v.etag)),
                is_latest: Some(*latest),
                key: Some(maybe_encode(&v.key, encode)),
                last_modified: Some(ts(v.last_modified_ms)),
                owner: Some(owner()),
                restore_status: None,
                size: Some(i64::try_from(v.size).unwrap_or(i64::MAX)),
                storage_class: Some(super::convert::class_dto(v.storage_class)),
                version_id: Some(v.version_id.clone()),
            });
        }
    }
    let (next_key, next_vid) = match (page.truncated, page.next) {
        (true, Some((k, vid))) => (
            Some(maybe_encode(&k, encode)),
            vid.map(|v| {
                if v.is_empty() {
                    NULL_VERSION_ID.into()
                } else {
                    v
                }
            }),
        ),
        _ => (None, None),
    };
    Ok(S3Response::new(ListObjectVersionsOutput {
        common_prefixes: prefixes(page.common_prefixes, encode),
        delete_markers: (!markers.is_empty()).then_some(markers),
        delimiter: input.delimiter.map(|d| maybe_encode(&d, encode)),
        encoding_type: input.encoding_type,
        is_truncated: Some(page.truncated),
        key_marker: Some(maybe_encode(&input.key_marker.unwrap_or_default(), encode)),
        max_keys: Some(i32::try_from(max_keys).unwrap_or(1000)),
        name: Some(input.bucket),
        next_key_marker: next_key,
        next_version_id_marker: next_vid,
        prefix: Some(maybe_encode(&input.prefix.unwrap_or_default(), encode)),
        request_charged: None,
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        versions: (!versions.is_empty()).then_some(versions),
    }))
}
