//! CompleteMultipartUpload: the chosen parts become one version in one metadata transaction
//! (no bytes copied), with the multipart ETag and the checksum of the parts' checksums.

use base64::Engine as _;
use leadshop_store::{
    ChecksumAlgorithm as Algorithm, Checksums, CompletePart, CompletedObject, PartRecord,
    StoreError,
};
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::convert::{self, etag, set_checksums};
use super::error;
use super::multipart::{B64, upload_for};
use super::object::write_precondition;

fn crc_algorithm(alg: Algorithm) -> Option<crc_fast::CrcAlgorithm> {
    match alg {
        Algorithm::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
        Algorithm::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
        Algorithm::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
        Algorithm::Sha1 | Algorithm::Sha256 => None,
    }
}

fn decode_int(b64: &str) -> Result<u64, StoreError> {
    let raw = B64
        .decode(b64)
        .map_err(|_| StoreError::Corrupt("stored checksum is not base64".into()))?;
    if raw.len() > 8 {
        return Err(StoreError::Corrupt("stored CRC is too long".into()));
    }
    Ok(raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// The object checksum of a multipart upload from its parts' checksums.
fn object_checksum(
    alg: Algorithm,
    ty: leadshop_store::ChecksumType,
    parts: &[PartRecord],
) -> Result<Option<String>, StoreError> {
    let mut values = Vec::with_capacity(parts.len());
    for p in parts {
        match p.checksums.get(alg) {
            Some(v) => values.push(v),
            // A part uploaded without this checksum: no object checksum can be given.
            None => return Ok(None),
        }
    }
    if ty == leadshop_store::ChecksumType::FullObject {
        let crc = crc_algorithm(alg)
            .ok_or_else(|| StoreError::InvalidArgument(format!("{alg} cannot be combined")))?;
        let mut acc: Option<u64> = None;
        for (p, v) in parts.iter().zip(&values) {
            let v = decode_int(v)?;
            acc = Some(match acc {
                None => v,
                Some(a) => crc_fast::checksum_combine(crc, a, v, p.size),
            });
        }
        let width = if alg == Algorithm::Crc64Nvme { 8 } else { 4 };
        let acc = acc.unwrap_or(0);
        return Ok(Some(B64.encode(&acc.to_be_bytes()[8 - width..])));
    }
    let mut concat = Vec::new();
    for v in &values {
        concat.extend(
            B64.decode(v)
                .map_err(|_| StoreError::Corrupt("stored checksum is not base64".into()))?,
        );
    }
    let digest: Vec<u8> = match alg {
        Algorithm::Crc32 | Algorithm::Crc32c => {
            let crc = crc_algorithm(alg).expect("crc algorithm");
            let v = crc_fast::checksum(crc, &concat);
            (v as u32).to_be_bytes().to_vec()
        }
        Algorithm::Sha1 => sha1::Sha1::digest(&concat).to_vec(),
        Algorithm::Sha256 => sha2::Sha256::digest(&concat).to_vec(),
        Algorithm::Crc64Nvme => {
            return Err(StoreError::InvalidArgument(format!(
                "{} cannot be composed",
                alg.name()
            )));
        }
    };
    Ok(Some(format!("{}-{}", B64.encode(digest), parts.len())))
}

/// The per-part checksum a client listed in CompleteMultipartUpload, if any.
fn listed_checksum(p: &CompletedPart, alg: Algorithm) -> Option<String> {
    match alg {
        Algorithm::Crc32 => p.checksum_crc32.clone(),
        Algorithm::Crc32c => p.checksum_crc32c.clone(),
        Algorithm::Crc64Nvme => p.checksum_crc64nvme.clone(),
        Algorithm::Sha1 => p.checksum_sha1.clone(),
        Algorithm::Sha256 => p.checksum_sha256.clone(),
    }
}

pub(super) async fn complete_multipart_upload(
    s: &Leadshop,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let input = req.input;
    let up = upload_for(s, &input.upload_id, &input.bucket, &input.key).await?;
    let listed = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    if listed.is_empty() {
        return Err(super::error::malformed_xml());
    }
    let alg = match up.checksum_algorithm.as_deref() {
        None => Algorithm::Crc64Nvme,
        Some(name) => Algorithm::parse(name).ok_or_else(|| {
            error::from_store(StoreError::Corrupt(format!(
                "the upload's checksum algorithm {name} is unknown"
            )))
        })?,
    };
    let ty = up
        .checksum_type
        .unwrap_or(leadshop_store::ChecksumType::FullObject);
    let mut wanted = Vec::with_capacity(listed.len());
    let mut listed_sums = Vec::with_capacity(listed.len());
    for p in &listed {
        let n = p
            .part_number
            .ok_or_else(|| s3_error!(MalformedXML, "A part is missing its PartNumber"))?;
        let e = p
            .e_tag
            .as_ref()
            .ok_or_else(|| s3_error!(MalformedXML, "A part is missing its ETag"))?;
        wanted.push(CompletePart {
            part_number: n,
            etag: e.value().trim_matches('"').to_string(),
        });
        listed_sums.push((n, listed_checksum(p, alg)));
    }
    let announced = {
        let mut c = Checksums::default();
        for (a, v) in [
            (Algorithm::Crc32, input.checksum_crc32),
            (Algorithm::Crc32c, input.checksum_crc32c),
            (Algorithm::Crc64Nvme, input.checksum_crc64nvme),
            (Algorithm::Sha1, input.checksum_sha1),
            (Algorithm::Sha256, input.checksum_sha256),
        ] {
            if let Some(v) = v {
                c.set(a, v);
            }
        }
        c
    };
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let expected_size = input.mpu_object_size;
    let upload_id = input.upload_id.clone();
    let (a2, ty2) = (alg, ty);
    let outcome = s
        .db(move |st| {
            st.complete_upload(&upload_id, wanted, precondition, move |_upload, parts| {
                for (p, (n, sum)) in parts.iter().zip(&listed_sums) {
                    if let Some(sum) = sum
                        && p.checksums.get(a2) != Some(sum.as_str())
                    {
                        return Err(StoreError::InvalidPart(*n));
                    }
                }
                let size: u64 = parts.iter().map(|p| p.size).sum();
                if let Some(expected) = expected_size
                    && u64::try_from(expected).ok() != Some(size)
                {
                    return Err(StoreError::InvalidArgument(format!("The provided object size {expected} does not match the size of the parts, {size}")));
                }
                let mut md5 = Md5::new();
                for p in parts {
                    md5.update(hex::decode(&p.etag).map_err(|_| StoreError::Corrupt("stored part ETag is not hex".into()))?);
                }
                let mut checksums = Checksums { checksum_type: Some(ty2), ..Default::default() };
                if let Some(v) = object_checksum(a2, ty2, parts)? {
                    if let Some(claimed) = announced.get(a2)
                        && claimed != v
                    {
                        return Err(StoreError::ChecksumMismatch(a2.upper().to_string()));
                    }
                    checksums.set(a2, v);
                } else {
                    checksums.checksum_type = None;
                }
                Ok(CompletedObject {
                    etag: format!("{}-{}", hex::encode(md5.finalize()), parts.len()),
                    checksums,
                })
            })
        })
        .await?;
    let v = &outcome.version;
    let config = s.bucket_config(&input.bucket).await?;
    let mut out = CompleteMultipartUploadOutput {
        expiration: super::lifecycle::expiration_of_new(s, &config, v),
        server_side_encryption: convert::sse(&v.segments),
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        e_tag: Some(etag(&v.etag)),
        location: Some(format!(
            "{}/{}/{}",
            s.core.endpoints.s3, input.bucket, input.key
        )),
        version_id: (outcome.versioning != leadshop_store::VersioningState::Unversioned)
            .then(|| v.version_id.clone()),
        checksum_type: convert::checksum_type(&v.checksums),
        ..Default::default()
    };
    set_checksums!(out, &v.checksums);
    Ok(S3Response::new(out))
}
