//! DeleteObject and DeleteObjects (each key authorised on its own).

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use crate::access::Authz;

pub(super) async fn delete_object(
    s: &Leadshop,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    if let Some(source) = super::object::replica_of(&req.headers)? {
        if input.version_id.is_some() {
            return Err(s3_error!(
                InvalidArgument,
                "a replicated delete marker names no version"
            ));
        }
        let out = super::replica::delete_marker(s, input.bucket, input.key, source).await?;
        return Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: out.delete_marker.then_some(true),
            version_id: out.version_id,
            request_charged: None,
        }));
    }
    // AWS accepts these two on directory buckets (S3 Express) only.
    if input.if_match_last_modified_time.is_some() || input.if_match_size.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "x-amz-if-match-last-modified-time and x-amz-if-match-size are supported only for directory buckets"
        ));
    }
    let pre = super::object::write_precondition(input.if_match.as_ref(), None)?;
    let bypass = super::object_lock::may_bypass(
        s,
        &req.extensions,
        input.bypass_governance_retention,
        &input.bucket,
        &input.key,
    )
    .await;
    let (bucket, key, vid) = (input.bucket, input.key, input.version_id);
    let out = s
        .db(move |st| st.delete_object_if(&bucket, &key, vid.as_deref(), pre, bypass))
        .await?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: out.delete_marker.then_some(true),
        version_id: out.version_id,
        request_charged: None,
    }))
}

pub(super) async fn delete_objects(
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
        if let Err(e) = s
            .core
            .access
            .authorize(&authz, action, &bucket, &resource)
            .await
        {
            errors.push(s3s::dto::Error {
                code: Some(e.code().as_str().to_string()),
                key: Some(obj.key),
                message: e.message().map(str::to_string),
                version_id: obj.version_id,
            });
            continue;
        }
        if obj.last_modified_time.is_some() || obj.size.is_some() {
            errors.push(s3s::dto::Error {
                code: Some("NotImplemented".into()),
                key: Some(obj.key),
                message: Some(
                    "LastModifiedTime and Size conditions are supported only for directory buckets"
                        .into(),
                ),
                version_id: obj.version_id,
            });
            continue;
        }
        // An ETag makes this key's delete conditional, as If-Match does for DeleteObject.
        let pre = obj
            .e_tag
            .as_ref()
            .map(|e| super::object::write_precondition(Some(&ETagCondition::ETag(e.clone())), None))
            .transpose()?
            .flatten();
        let bypass = super::object_lock::may_bypass(
            s,
            &req.extensions,
            input.bypass_governance_retention,
            &bucket,
            &obj.key,
        )
        .await;
        let (b, k, v) = (bucket.clone(), obj.key.clone(), obj.version_id.clone());
        match s
            .db(move |st| st.delete_object_if(&b, &k, v.as_deref(), pre, bypass))
            .await
        {
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
