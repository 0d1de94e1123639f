//! Multipart uploads. Parts are data files of their own; completing an upload makes them the
//! segments of the new version in one metadata transaction, without copying bytes.

use leadshop_store::ChecksumType as StoredChecksumType;
use leadshop_store::{
    ChecksumAlgorithm as Algorithm, Checksums, NULL_VERSION_ID, NewPart, PartRecord, StoreError,
    UploadRecord,
};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::body::{self, ChecksumPlan};
use super::convert::{self, content_headers, etag, set_checksums, ts};
use super::copy::{copy_source, source_version};
use super::object::write_preamble;
use super::reader::ObjectReader;
use super::sse_c::source_customer_key;

pub(super) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Resolves a checksum algorithm and type as AWS does: CRC64NVME is full-object only, SHA
/// algorithms composite only, CRC32/CRC32C composite unless asked otherwise. With no
/// algorithm the object gets a full-object CRC64NVME.
fn checksum_choice(
    alg: Option<&ChecksumAlgorithm>,
    ty: Option<&ChecksumType>,
) -> S3Result<(String, StoredChecksumType)> {
    let alg = alg.map(|a| a.as_str().to_ascii_uppercase());
    let ty = ty.map(|t| t.as_str().to_string());
    let (alg, default_ty) = match alg.as_deref() {
        None if ty.is_some() => {
            return Err(s3_error!(
                InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            ));
        }
        None | Some("CRC64NVME") => ("CRC64NVME".to_string(), StoredChecksumType::FullObject),
        Some(a @ ("CRC32" | "CRC32C" | "SHA1" | "SHA256")) => {
            (a.to_string(), StoredChecksumType::Composite)
        }
        Some(other) => {
            return Err(s3_error!(
                InvalidRequest,
                "Checksum algorithm {other} is not supported"
            ));
        }
    };
    let refused = |ty: &str| {
        s3_error!(
            InvalidRequest,
            "The {ty} checksum type cannot be used with the {alg} checksum algorithm."
        )
    };
    let ty = match ty {
        None => default_ty,
        Some(name) => StoredChecksumType::parse(&name).ok_or_else(|| refused(&name))?,
    };
    let allowed = match alg.as_str() {
        "CRC64NVME" => ty == StoredChecksumType::FullObject,
        "SHA1" | "SHA256" => ty == StoredChecksumType::Composite,
        _ => true,
    };
    if !allowed {
        return Err(refused(ty.as_str()));
    }
    Ok((alg, ty))
}

pub(super) async fn create_multipart_upload(
    s: &Leadshop,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let input = req.input;
    write_preamble!(input);
    let customer_key = super::sse_c::customer_key!(input)?;
    let (algorithm, checksum_type) = checksum_choice(
        input.checksum_algorithm.as_ref(),
        input.checksum_type.as_ref(),
    )?;
    // Every part is encrypted under the key chosen now (SSE-KMS), or the master key.
    let enc = super::sse::for_input!(s, input, customer_key).await?;
    let sse_c_key_md5 = enc.customer.as_ref().map(|c| c.md5.clone());
    let kms = enc
        .kms_key_arn
        .as_ref()
        .and(enc.wrapping.as_ref())
        .map(|w| leadshop_store::UploadKms {
            key_id: w.key_id.clone(),
            context: w.context.clone().unwrap_or_default(),
            dual_layer: w.algorithm == leadshop_store::SseAlgorithm::KmsDsse,
        });
    let kms_algorithm = kms
        .as_ref()
        .map(|k| ServerSideEncryption::from(k.algorithm().to_string()));
    let config = s.bucket_config(&input.bucket).await?;
    let acl = super::object::object_acl!(&config, input)?;
    let (retention, legal_hold) = super::object_lock::for_write(
        s,
        &config,
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
        None,
    )?;
    let rec = UploadRecord {
        upload_id: hex::encode(rand::random::<[u8; 24]>()),
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        initiated_ms: s.now_ms(),
        storage_class: convert::storage_class(input.storage_class.as_ref())?,
        checksum_algorithm: Some(algorithm),
        checksum_type: Some(checksum_type),
        headers: content_headers!(input),
        metadata: convert::metadata(input.metadata),
        tags: convert::tagging_header(input.tagging.as_deref())?,
        kms,
        sse_c_key_md5: sse_c_key_md5.clone(),
        retention,
        legal_hold,
        acl,
    };
    let upload_id = rec.upload_id.clone();
    s.db(move |st| st.create_upload(&rec)).await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload_id),
        // Only echoed when the client chose one, as AWS does.
        checksum_algorithm: input.checksum_algorithm,
        checksum_type: input.checksum_type,
        server_side_encryption: kms_algorithm,
        ssekms_key_id: enc.kms_key_arn,
        sse_customer_algorithm: super::sse_c::algorithm(sse_c_key_md5.as_ref()),
        sse_customer_key_md5: sse_c_key_md5,
        ..Default::default()
    }))
}

/// The key an upload's parts are encrypted under (SSE-KMS), resolved now: a key disabled since
/// the upload began refuses further parts.
fn upload_wrapping(
    s: &Leadshop,
    up: &UploadRecord,
    customer: Option<&super::sse_c::CustomerKey>,
) -> S3Result<Option<body::OwnedWrapping>> {
    // SSE-C uploads: every part comes with the key the upload began with.
    match (&up.sse_c_key_md5, customer) {
        (Some(md5), Some(c)) if *md5 == c.md5 => {
            return Ok(Some(body::OwnedWrapping::customer(c.key.clone())));
        }
        (Some(_), Some(_)) => {
            return Err(s3_error!(
                InvalidArgument,
                "The provided customer key does not match the one the multipart upload was initiated with"
            ));
        }
        (Some(_), None) => {
            return Err(s3_error!(
                InvalidRequest,
                "The multipart upload was initiated with a customer-provided key; every part must send it"
            ));
        }
        (None, Some(_)) => {
            return Err(s3_error!(
                InvalidRequest,
                "The multipart upload was not initiated with a customer-provided key"
            ));
        }
        (None, None) => {}
    }
    let Some(kms) = &up.kms else {
        return Ok(None);
    };
    let key = s
        .core
        .keyring
        .resolve(&kms.key_id)
        .map_err(super::sse::kms_error)?;
    Ok(Some(body::OwnedWrapping {
        key: key.key,
        algorithm: kms.algorithm(),
        key_id: key.key_id,
        context: Some(kms.context.clone()),
    }))
}

/// The upload, checked to belong to this bucket and key.
pub(super) async fn upload_for(
    s: &Leadshop,
    upload_id: &str,
    bucket: &str,
    key: &str,
) -> S3Result<UploadRecord> {
    let id = upload_id.to_string();
    let up = s.db(move |st| st.upload(&id)).await?;
    if up.bucket != bucket || up.key != key {
        return Err(super::error::from_store(StoreError::NoSuchUpload(
            upload_id.into(),
        )));
    }
    Ok(up)
}

fn check_part_number(n: i32) -> S3Result<()> {
    if (1..=10_000).contains(&n) {
        Ok(())
    } else {
        Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ))
    }
}

async fn store_part(
    s: &Leadshop,
    upload_id: String,
    part_number: i32,
    ingested: body::Ingested,
) -> S3Result<PartRecord> {
    let new = NewPart {
        part_number,
        etag: ingested.etag(),
        checksums: ingested.checksums.clone(),
    };
    s.db(move |st| {
        let sealed = ingested.seal()?;
        st.commit_part(&upload_id, new, sealed)
    })
    .await
}

pub(super) async fn upload_part(
    s: &Leadshop,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let S3Request {
        input,
        headers,
        trailing_headers,
        ..
    } = req;
    check_part_number(input.part_number)?;
    let customer_key = super::sse_c::customer_key!(input)?;
    let up = upload_for(s, &input.upload_id, &input.bucket, &input.key).await?;
    let mut plan = ChecksumPlan::from_headers(&headers)?;
    if let Some(a) = &up.checksum_algorithm {
        plan.ensure(a);
    }
    let wrapping = upload_wrapping(s, &up, customer_key.as_ref())?;
    let ingested = body::ingest(
        s,
        input.body,
        &plan,
        input.content_md5.as_deref(),
        trailing_headers.as_ref(),
        wrapping,
        body::Inline::Never,
    )
    .await?;
    let part = store_part(s, input.upload_id, input.part_number, ingested).await?;
    let mut out = UploadPartOutput {
        server_side_encryption: convert::sse(std::slice::from_ref(&leadshop_store::Segment {
            file: part.file,
            len: part.size,
            envelope: part.envelope.clone(),
            part_checksums: None,
            inline: false,
        })),
        e_tag: Some(etag(&part.etag)),
        sse_customer_algorithm: super::sse_c::algorithm(customer_key.as_ref()),
        sse_customer_key_md5: customer_key.map(|k| k.md5),
        ..Default::default()
    };
    set_checksums!(out, &only(&part.checksums, plan.algorithms()));
    Ok(S3Response::new(out))
}

/// The checksums of `c` for the given algorithms only.
fn only(c: &Checksums, algorithms: &[Algorithm]) -> Checksums {
    let mut out = Checksums::default();
    for a in algorithms {
        if let Some(v) = c.get(*a) {
            out.set(*a, v.to_string());
        }
    }
    out
}

/// Parses `bytes=first-last` of UploadPartCopy.
fn copy_range(r: Option<&str>, size: u64) -> S3Result<(u64, u64)> {
    let Some(r) = r else { return Ok((0, size)) };
    let invalid = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (a, b) = r
        .strip_prefix("bytes=")
        .and_then(|x| x.split_once('-'))
        .ok_or_else(invalid)?;
    let (a, b): (u64, u64) = (
        a.parse().map_err(|_| invalid())?,
        b.parse().map_err(|_| invalid())?,
    );
    if a > b || b >= size {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ));
    }
    Ok((a, b + 1))
}

pub(super) async fn upload_part_copy(
    s: &Leadshop,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let input = req.input;
    check_part_number(input.part_number)?;
    let customer_key = super::sse_c::customer_key!(input)?;
    let source_key = source_customer_key!(input)?;
    let up = upload_for(s, &input.upload_id, &input.bucket, &input.key).await?;
    let src = source_version!(s, input).await?;
    let (start, end) = copy_range(input.copy_source_range.as_deref(), src.size)?;
    let plan = ChecksumPlan::computing(up.checksum_algorithm.as_deref());
    let (src_bucket, src_key, _) = copy_source(&input.copy_source)?;
    let (src_wrapping_key, _) = super::sse::for_read(s, &src.segments, source_key.as_ref())?;
    let reader = ObjectReader::new(s.store().clone(), src.segments.clone(), start, end)
        .with_customer_key(src_wrapping_key)
        .named(&src_bucket, &src_key, &src.version_id);
    let wrapping = upload_wrapping(s, &up, customer_key.as_ref())?;
    let ingested = body::ingest(
        s,
        Some(reader.into_blob()),
        &plan,
        None,
        None,
        wrapping,
        body::Inline::Never,
    )
    .await?;
    let part = store_part(s, input.upload_id, input.part_number, ingested).await?;
    let mut result = CopyPartResult {
        e_tag: Some(etag(&part.etag)),
        last_modified: Some(ts(part.last_modified_ms)),
        ..Default::default()
    };
    set_checksums!(result, &only(&part.checksums, plan.algorithms()));
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(result),
        copy_source_version_id: (src.version_id != NULL_VERSION_ID).then(|| src.version_id.clone()),
        ..Default::default()
    }))
}

pub(super) async fn abort_multipart_upload(
    s: &Leadshop,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    upload_for(s, &input.upload_id, &input.bucket, &input.key).await?;
    let id = input.upload_id;
    s.db(move |st| st.abort_upload(&id)).await?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub(super) async fn list_parts(
    s: &Leadshop,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let input = req.input;
    let up = upload_for(s, &input.upload_id, &input.bucket, &input.key).await?;
    let id = input.upload_id.clone();
    let parts = s.db(move |st| st.parts(&id)).await?;
    let max = usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let marker = input.part_number_marker.unwrap_or(0);
    let after: Vec<&PartRecord> = parts.iter().filter(|p| p.part_number > marker).collect();
    let truncated = after.len() > max;
    let page = &after[..after.len().min(max)];
    let algorithms: Vec<Algorithm> = up
        .checksum_algorithm
        .as_deref()
        .and_then(Algorithm::parse)
        .into_iter()
        .collect();
    let list: Vec<Part> = page
        .iter()
        .map(|p| {
            let mut part = Part {
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(ts(p.last_modified_ms)),
                part_number: Some(p.part_number),
                size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                ..Default::default()
            };
            set_checksums!(part, &only(&p.checksums, &algorithms));
            part
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        max_parts: Some(i32::try_from(max).unwrap_or(1000)),
        part_number_marker: Some(marker),
        next_part_number_marker: page.last().map(|p| p.part_number),
        is_truncated: Some(truncated),
        storage_class: Some(super::convert::class_dto(up.storage_class)),
        checksum_algorithm: up.checksum_algorithm.clone().map(ChecksumAlgorithm::from),
        checksum_type: up
            .checksum_type
            .map(|t| ChecksumType::from(t.as_str().to_string())),
        parts: Some(list),
        ..Default::default()
    }))
}

pub(super) async fn list_multipart_uploads(
    s: &Leadshop,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let input = req.input;
    let encode = convert::wants_url_encoding(input.encoding_type.as_ref())?;
    let bucket = input.bucket.clone();
    let all = s.db(move |st| st.uploads(&bucket)).await?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let max = usize::try_from(input.max_uploads.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let mut uploads = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut last: Option<(String, Option<String>)> = None;
    for u in all.iter().filter(|u| u.key.starts_with(&prefix)) {
        if let Some(km) = &input.key_marker {
            let after = match &input.upload_id_marker {
                Some(um) => (u.key.as_str(), u.upload_id.as_str()) > (km.as_str(), um.as_str()),
                None => u.key.as_str() > km.as_str(),
            };
            if !after {
                continue;
            }
        }
        if let Some(d) = input.delimiter.as_deref().filter(|d| !d.is_empty())
            && let Some(at) = u.key[prefix.len()..].find(d)
        {
            let cp = u.key[..prefix.len() + at + d.len()].to_string();
            if prefixes.last() != Some(&cp) {
                if uploads.len() + prefixes.len() == max {
                    truncated = true;
                    break;
                }
                last = Some((cp.clone(), None));
                prefixes.push(cp);
            }
            continue;
        }
        if uploads.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        last = Some((u.key.clone(), Some(u.upload_id.clone())));
        uploads.push(MultipartUpload {
            checksum_algorithm: u.checksum_algorithm.clone().map(ChecksumAlgorithm::from),
            checksum_type: u
                .checksum_type
                .map(|t| ChecksumType::from(t.as_str().to_string())),
            initiated: Some(ts(u.initiated_ms)),
            key: Some(convert::maybe_encode(&u.key, encode)),
            storage_class: Some(super::convert::class_dto(u.storage_class)),
            upload_id: Some(u.upload_id.clone()),
            ..Default::default()
        });
    }
    let (next_key, next_upload) = match (truncated, last) {
        (true, Some((k, u))) => (Some(k), u),
        _ => (None, None),
    };
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        common_prefixes: (!prefixes.is_empty()).then(|| {
            prefixes
                .into_iter()
                .map(|p| CommonPrefix {
                    prefix: Some(convert::maybe_encode(&p, encode)),
                })
                .collect()
        }),
        delimiter: input.delimiter,
        encoding_type: input.encoding_type,
        is_truncated: Some(truncated),
        key_marker: input.key_marker,
        max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
        next_key_marker: next_key,
        next_upload_id_marker: next_upload,
        prefix: input.prefix,
        upload_id_marker: input.upload_id_marker,
        uploads: Some(uploads),
        request_charged: None,
    }))
}
