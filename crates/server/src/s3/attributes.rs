//! GetObjectAttributes: what an object is without its data — ETag, checksum, its parts (with
//! the checksums each part was uploaded with), storage class and size — for the attributes the
//! request lists. Read like HEAD: the same version lookup, delete-marker answers and SSE-C key
//! check.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::convert::{self, etag, set_checksums, ts};
use super::{sse, sse_c};
use leadshop_store::NULL_VERSION_ID;

/// AWS's default and largest page of parts.
const MAX_PARTS: i32 = 1000;

pub(super) async fn get_object_attributes(
    s: &Leadshop,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let input = req.input;
    // One header, `x-amz-object-attributes: ETag,ObjectSize`, or several.
    let attributes: Vec<&str> = input
        .object_attributes
        .iter()
        .flat_map(|a| a.as_str().split(','))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    let wanted = |a: &str| attributes.contains(&a);
    if attributes.is_empty() {
        return Err(s3_error!(
            InvalidArgument,
            "x-amz-object-attributes must name at least one attribute"
        ));
    }
    if let Some(unknown) = attributes.iter().find(|a| {
        !matches!(
            **a,
            "ETag" | "Checksum" | "ObjectParts" | "StorageClass" | "ObjectSize"
        )
    }) {
        return Err(s3_error!(
            InvalidArgument,
            "Invalid attribute name specified: {unknown}"
        ));
    }
    let max_parts = input.max_parts.unwrap_or(MAX_PARTS);
    if !(0..=MAX_PARTS).contains(&max_parts) {
        return Err(s3_error!(
            InvalidArgument,
            "max-parts must be an integer between 0 and 1000"
        ));
    }
    let marker = input.part_number_marker.unwrap_or(0);
    if marker < 0 {
        return Err(s3_error!(
            InvalidArgument,
            "part-number-marker must be a non-negative integer"
        ));
    }
    let customer_key = sse_c::customer_key!(input)?;
    let (bucket, key, vid) = (
        input.bucket.clone(),
        input.key.clone(),
        input.version_id.clone(),
    );
    let v = s
        .db(move |st| st.get_version(&bucket, &key, vid.as_deref()))
        .await?;
    // An SSE-C object's attributes need its key, as its HEAD does.
    sse::for_read(s, &v.segments, customer_key.as_ref())?;

    let mut out = GetObjectAttributesOutput {
        last_modified: Some(ts(v.last_modified_ms)),
        version_id: (v.version_id != NULL_VERSION_ID).then(|| v.version_id.clone()),
        ..Default::default()
    };
    if wanted("ETag") {
        out.e_tag = Some(etag(&v.etag));
    }
    if wanted("StorageClass") {
        out.storage_class = Some(super::convert::class_dto(v.storage_class));
    }
    if wanted("ObjectSize") {
        out.object_size = Some(i64::try_from(v.size).unwrap_or(i64::MAX));
    }
    if wanted("Checksum") && v.checksums.checksum_type.is_some() {
        let mut c = Checksum {
            checksum_type: convert::checksum_type(&v.checksums),
            ..Default::default()
        };
        set_checksums!(c, &v.checksums);
        out.checksum = Some(c);
    }
    if wanted("ObjectParts")
        && let Some(total) = v.parts_count()
    {
        let after = usize::try_from(marker).unwrap_or(0);
        let page: Vec<ObjectPart> = v
            .segments
            .iter()
            .enumerate()
            .skip(after)
            .take(usize::try_from(max_parts).unwrap_or(0))
            .map(|(i, seg)| {
                let mut p = ObjectPart {
                    part_number: i32::try_from(i + 1).ok(),
                    size: i64::try_from(seg.len).ok(),
                    ..Default::default()
                };
                if let Some(c) = &seg.part_checksums {
                    set_checksums!(p, c);
                }
                p
            })
            .collect();
        let last = after + page.len();
        let truncated = last < total;
        out.object_parts = Some(GetObjectAttributesParts {
            total_parts_count: i32::try_from(total).ok(),
            part_number_marker: Some(marker),
            next_part_number_marker: truncated.then(|| i32::try_from(last).unwrap_or(i32::MAX)),
            max_parts: Some(max_parts),
            is_truncated: Some(truncated),
            parts: Some(page),
        });
    }
    Ok(S3Response::new(out))
}
