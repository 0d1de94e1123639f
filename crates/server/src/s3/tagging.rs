//! Object tagging: PutObjectTagging, GetObjectTagging, DeleteObjectTagging.

use std::collections::BTreeMap;

use leadshop_store::NULL_VERSION_ID;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::convert::{self};

pub(super) async fn put_object_tagging(
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

pub(super) async fn get_object_tagging(
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

pub(super) async fn delete_object_tagging(
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
