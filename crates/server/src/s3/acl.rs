//! ACLs under Object Ownership `BucketOwnerEnforced`, AWS's default for new buckets and the
//! only setting this server has: ACLs are disabled and the bucket owner owns every object.
//! As on AWS with that setting:
//! - GetBucketAcl and GetObjectAcl answer the owner with FULL_CONTROL;
//! - PutBucketAcl and PutObjectAcl accept only what changes nothing (`private`,
//!   `bucket-owner-full-control`, or a policy granting the owner FULL_CONTROL and nothing
//!   else) and refuse anything else with `AccessControlListNotSupported`;
//! - GetBucketOwnershipControls answers `BucketOwnerEnforced`; PutBucketOwnershipControls
//!   accepts only that; ObjectWriter and BucketOwnerPreferred (ACLs enabled) answer
//!   NotImplemented, as does DeleteBucketOwnershipControls (no handler), since their ACLs
//!   could not be enforced.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use super::bucket::{OWNER_ID, owner};

fn owner_full_control() -> Vec<Grant> {
    vec![Grant {
        grantee: Some(Grantee {
            display_name: Some("leadshop".into()),
            email_address: None,
            id: Some(OWNER_ID.into()),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }]
}

fn not_supported() -> s3s::S3Error {
    s3_error!(
        AccessControlListNotSupported,
        "The bucket does not allow ACLs"
    )
}

/// Whether an ACL request only restates what BucketOwnerEnforced means.
fn changes_nothing(
    canned: Option<&str>,
    policy: Option<&AccessControlPolicy>,
    grant_full_control: Option<&str>,
    other_grants: bool,
) -> bool {
    let canned_ok = canned.is_none_or(|c| c == "private" || c == "bucket-owner-full-control");
    let policy_ok = policy.is_none_or(|p| {
        p.grants.as_ref().is_none_or(|gs| {
            gs.iter().all(|g| {
                g.permission.as_ref().map(Permission::as_str) == Some(Permission::FULL_CONTROL)
                    && g.grantee.as_ref().is_some_and(|e| {
                        e.type_.as_str() == Type::CANONICAL_USER
                            && e.id.as_deref() == Some(OWNER_ID)
                    })
            })
        })
    });
    let header_ok = grant_full_control.is_none_or(|g| {
        g.split(',')
            .all(|one| one.trim().trim_start_matches("id=").trim_matches('"') == OWNER_ID)
    });
    canned_ok && policy_ok && header_ok && !other_grants
}

/// PutBucketAcl and PutObjectAcl carry the same ACL fields (canned type aside): anything
/// but an owner-only ACL is refused.
macro_rules! refuse_unless_owner_only {
    ($input:expr, $canned:ty) => {
        let others = $input.grant_read.is_some()
            || $input.grant_read_acp.is_some()
            || $input.grant_write.is_some()
            || $input.grant_write_acp.is_some();
        if !changes_nothing(
            $input.acl.as_ref().map(<$canned>::as_str),
            $input.access_control_policy.as_ref(),
            $input.grant_full_control.as_deref(),
            others,
        ) {
            return Err(not_supported());
        }
    };
}

pub(super) async fn handle_get_bucket_acl(
    s: &Leadshop,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let b = req.input.bucket;
    s.db(move |st| st.bucket(&b)).await?;
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(owner_full_control()),
        owner: Some(owner()),
    }))
}

pub(super) async fn handle_put_bucket_acl(
    s: &Leadshop,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let input = req.input;
    let b = input.bucket.clone();
    s.db(move |st| st.bucket(&b)).await?;
    refuse_unless_owner_only!(input, BucketCannedACL);
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

pub(super) async fn handle_get_object_acl(
    s: &Leadshop,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let input = req.input;
    let (b, k, v) = (input.bucket, input.key, input.version_id);
    s.db(move |st| st.get_version(&b, &k, v.as_deref())).await?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(owner_full_control()),
        owner: Some(owner()),
        request_charged: None,
    }))
}

pub(super) async fn handle_put_object_acl(
    s: &Leadshop,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let input = req.input;
    let (b, k, v) = (
        input.bucket.clone(),
        input.key.clone(),
        input.version_id.clone(),
    );
    s.db(move |st| st.get_version(&b, &k, v.as_deref())).await?;
    refuse_unless_owner_only!(input, ObjectCannedACL);
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub(super) async fn handle_get_bucket_ownership_controls(
    s: &Leadshop,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    let b = req.input.bucket;
    s.db(move |st| st.bucket(&b)).await?;
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from_static(
                    ObjectOwnership::BUCKET_OWNER_ENFORCED,
                ),
            }],
        }),
    }))
}

pub(super) async fn handle_put_bucket_ownership_controls(
    s: &Leadshop,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
    let input = req.input;
    let b = input.bucket.clone();
    s.db(move |st| st.bucket(&b)).await?;
    let rules = &input.ownership_controls.rules;
    if rules.len() != 1 {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ));
    }
    if rules[0].object_ownership.as_str() != ObjectOwnership::BUCKET_OWNER_ENFORCED {
        return Err(s3_error!(
            NotImplemented,
            "Only BucketOwnerEnforced is supported: ACLs are disabled on every bucket"
        ));
    }
    Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
}
