//! ACLs and Object Ownership. With `BucketOwnerEnforced` (AWS's default for new buckets, and
//! every bucket's here unless changed) ACLs are disabled, as on AWS:
//! - GetBucketAcl and GetObjectAcl answer the owner with FULL_CONTROL;
//! - PutBucketAcl, PutObjectAcl and ACL headers on writes accept only what changes nothing
//!   (`private`, `bucket-owner-full-control`, or grants of FULL_CONTROL to the owner alone) and
//!   refuse anything else with `AccessControlListNotSupported`.
//!
//! With `ObjectWriter` or `BucketOwnerPreferred` (PutBucketOwnershipControls, CreateBucket's
//! `x-amz-object-ownership`, or after DeleteBucketOwnershipControls) ACLs are stored — the
//! bucket's as a document, an object's in its version record — returned, and enforced by the
//! access decision (`spec::acl`: AllUsers and AuthenticatedUsers grants; Public Access Block's
//! BlockPublicAcls refuses setting them, IgnorePublicAcls makes them grant nothing). Switching
//! back to `BucketOwnerEnforced` is refused while the bucket ACL grants anyone but the owner.

use leadshop_spec::acl::{self as spec, Acl};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use crate::bucket_config::{ACL_DOC, BucketConfig, OWNERSHIP_DOC};

/// The canonical user id of the single account this server serves.
pub(super) const OWNER_ID: &str = crate::config::OWNER_CANONICAL_ID;

/// The owner every bucket and object has (one account).
pub(super) fn owner() -> Owner {
    Owner {
        display_name: Some("leadshop".into()),
        id: Some(OWNER_ID.into()),
    }
}

fn owner_full_control() -> Vec<Grant> {
    grants_dto(&Acl::private(OWNER_ID))
}

fn not_supported() -> S3Error {
    s3_error!(
        AccessControlListNotSupported,
        "The bucket does not allow ACLs"
    )
}

/// The DTO grants of an ACL.
fn grants_dto(acl: &Acl) -> Vec<Grant> {
    acl.grants
        .iter()
        .map(|g| {
            let (type_, id, uri, email) = match &g.grantee {
                spec::Grantee::CanonicalUser { id } => {
                    (Type::CANONICAL_USER, Some(id.clone()), None, None)
                }
                spec::Grantee::Group { uri } => (Type::GROUP, None, Some(uri.uri().into()), None),
                spec::Grantee::AmazonCustomerByEmail { email } => (
                    Type::AMAZON_CUSTOMER_BY_EMAIL,
                    None,
                    None,
                    Some(email.clone()),
                ),
            };
            Grant {
                grantee: Some(Grantee {
                    display_name: (id.as_deref() == Some(OWNER_ID)).then(|| "leadshop".into()),
                    email_address: email,
                    id,
                    type_: Type::from_static(type_),
                    uri,
                }),
                permission: Some(Permission::from_static(g.permission.as_str())),
            }
        })
        .collect()
}

/// The ACL of an AccessControlPolicy body.
fn acl_of_policy(p: &AccessControlPolicy) -> S3Result<Acl> {
    let malformed = || {
        super::error::refused(leadshop_spec::Refusal::new(
            leadshop_spec::ErrorCode::MalformedACLError,
            leadshop_spec::refusal::MALFORMED_XML,
        ))
    };
    let mut grants = Vec::new();
    for g in p.grants.as_deref().unwrap_or_default() {
        let e = g.grantee.as_ref().ok_or_else(malformed)?;
        let grantee = match e.type_.as_str() {
            Type::CANONICAL_USER => spec::Grantee::CanonicalUser {
                id: e.id.clone().ok_or_else(malformed)?,
            },
            Type::GROUP => spec::Grantee::Group {
                uri: spec::Group::parse(e.uri.as_deref().ok_or_else(malformed)?)
                    .map_err(super::error::refused)?,
            },
            Type::AMAZON_CUSTOMER_BY_EMAIL => spec::Grantee::AmazonCustomerByEmail {
                email: e.email_address.clone().ok_or_else(malformed)?,
            },
            _ => return Err(malformed()),
        };
        grants.push(spec::Grant {
            grantee,
            permission: spec::Permission::parse(
                g.permission.as_ref().ok_or_else(malformed)?.as_str(),
            )
            .map_err(super::error::refused)?,
        });
    }
    let acl = Acl { grants };
    acl.validate().map_err(super::error::refused)?;
    Ok(acl)
}

/// The ACL a request sets: a canned ACL, `x-amz-grant-*` headers, or a body — exactly one;
/// `None` when it sets none.
fn requested_acl(
    canned: Option<&str>,
    headers: &[(spec::Permission, Option<&str>)],
    policy: Option<&AccessControlPolicy>,
    bucket: bool,
) -> S3Result<Option<Acl>> {
    let grants: Vec<(spec::Permission, &str)> = headers
        .iter()
        .filter_map(|(p, v)| v.map(|v| (*p, v)))
        .collect();
    let sources = usize::from(canned.is_some())
        + usize::from(!grants.is_empty())
        + usize::from(policy.is_some());
    if sources > 1 {
        return Err(s3_error!(
            InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed"
        ));
    }
    if let Some(c) = canned {
        return Acl::canned(c, OWNER_ID, bucket)
            .map(Some)
            .ok_or_else(|| s3_error!(InvalidArgument, "Invalid canned ACL: {}", c));
    }
    if !grants.is_empty() {
        return Acl::from_grant_headers(grants)
            .map(Some)
            .map_err(super::error::refused);
    }
    policy.map(acl_of_policy).transpose()
}

/// Setting a public ACL where BlockPublicAcls is on.
fn check_public(config: &BucketConfig, acl: &Acl) -> S3Result<()> {
    if acl.is_public() && config.public_access_block.block_public_acls {
        return Err(s3_error!(
            AccessDenied,
            "Access Denied: public ACLs are blocked by the bucket's BlockPublicAcls setting"
        ));
    }
    Ok(())
}

/// The ACL a new object gets from its write's headers (PutObject, POST, CopyObject,
/// CreateMultipartUpload): stored where ACLs are enabled; under BucketOwnerEnforced only an
/// owner-only ACL is accepted (and nothing stored).
pub(super) fn for_new_object(
    config: &BucketConfig,
    canned: Option<&str>,
    headers: &[(spec::Permission, Option<&str>)],
) -> S3Result<Option<serde_json::Value>> {
    let Some(acl) = requested_acl(canned, headers, None, false)? else {
        return Ok(None);
    };
    if !config.acls_enabled() {
        if acl.owner_only(OWNER_ID) {
            return Ok(None);
        }
        return Err(not_supported());
    }
    check_public(config, &acl)?;
    serde_json::to_value(acl)
        .map(Some)
        .map_err(S3Error::internal_error)
}

/// The ACL a new bucket gets (CreateBucket): under BucketOwnerEnforced (the default) only an
/// owner-only one, refused otherwise with InvalidBucketAclWithObjectOwnership, as on AWS.
pub(super) fn for_new_bucket(
    ownership: Option<&str>,
    canned: Option<&str>,
    headers: &[(spec::Permission, Option<&str>)],
) -> S3Result<Option<serde_json::Value>> {
    let Some(acl) = requested_acl(canned, headers, None, true)? else {
        return Ok(None);
    };
    if ownership.is_none_or(|o| o == ObjectOwnership::BUCKET_OWNER_ENFORCED) {
        if acl.owner_only(OWNER_ID) {
            return Ok(None);
        }
        return Err(s3_error!(
            InvalidBucketAclWithObjectOwnership,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
        ));
    }
    // A new bucket starts with every Public Access Block setting on, as on AWS since 2023.
    if acl.is_public() {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("InvalidBucketAclWithBlockPublicAccessError".into()),
            "Bucket cannot have public ACLs set with BlockPublicAccess enabled",
        );
        e.set_status_code(http::StatusCode::BAD_REQUEST);
        return Err(e);
    }
    serde_json::to_value(acl)
        .map(Some)
        .map_err(S3Error::internal_error)
}

/// A request's `x-amz-grant-*` headers, by permission (`write` where the request has
/// `x-amz-grant-write`: bucket requests).
macro_rules! grant_headers {
    ($input:expr) => {
        [
            (
                leadshop_spec::acl::Permission::Read,
                $input.grant_read.as_deref(),
            ),
            (
                leadshop_spec::acl::Permission::ReadAcp,
                $input.grant_read_acp.as_deref(),
            ),
            (
                leadshop_spec::acl::Permission::WriteAcp,
                $input.grant_write_acp.as_deref(),
            ),
            (
                leadshop_spec::acl::Permission::FullControl,
                $input.grant_full_control.as_deref(),
            ),
        ]
    };
    ($input:expr, write) => {{
        let [read, read_acp, write_acp, full] = $crate::s3::acl::grant_headers!($input);
        [
            read,
            (
                leadshop_spec::acl::Permission::Write,
                $input.grant_write.as_deref(),
            ),
            read_acp,
            write_acp,
            full,
        ]
    }};
}
pub(super) use grant_headers;

/// The ACL fields of Put{Bucket,Object}Acl.
macro_rules! requested {
    ($input:expr, $bucket:expr) => {
        requested_acl(
            $input.acl.as_ref().map(|a| a.as_str()),
            &grant_headers!($input, write),
            $input.access_control_policy.as_ref(),
            $bucket,
        )
    };
}

pub(super) async fn get_bucket_acl(
    s: &Leadshop,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let config = s.bucket_config(&req.input.bucket).await?;
    let grants = match config.acl.as_deref() {
        Some(acl) if config.acls_enabled() => grants_dto(acl),
        _ => owner_full_control(),
    };
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(grants),
        owner: Some(owner()),
    }))
}

pub(super) async fn put_bucket_acl(
    s: &Leadshop,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let input = req.input;
    let config = s.bucket_config(&input.bucket).await?;
    let acl = requested!(input, true)?.ok_or_else(|| {
        s3_error!(
            MissingSecurityHeader,
            "Your request was missing a required header"
        )
    })?;
    if !config.acls_enabled() {
        if acl.owner_only(OWNER_ID) {
            return Ok(S3Response::new(PutBucketAclOutput::default()));
        }
        return Err(not_supported());
    }
    check_public(&config, &acl)?;
    let value = serde_json::to_value(&acl).map_err(S3Error::internal_error)?;
    let bucket = input.bucket;
    // Decided with the ownership as it is in the same transaction.
    s.db(move |st| {
        st.update_bucket(&bucket, move |b| {
            if b.documents
                .get(OWNERSHIP_DOC)
                .is_none_or(|o| o == "BucketOwnerEnforced")
            {
                return Err(leadshop_store::StoreError::InvalidBucketState(
                    "The bucket does not allow ACLs",
                ));
            }
            b.documents.insert(ACL_DOC.into(), value);
            Ok(())
        })
    })
    .await?;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

pub(super) async fn get_object_acl(
    s: &Leadshop,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let input = req.input;
    let config = s.bucket_config(&input.bucket).await?;
    let (b, k, v) = (input.bucket, input.key, input.version_id);
    let rec = s.db(move |st| st.get_version(&b, &k, v.as_deref())).await?;
    let acl = rec
        .acl
        .filter(|_| config.acls_enabled())
        .and_then(|v| serde_json::from_value::<Acl>(v).ok());
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(acl.as_ref().map_or_else(owner_full_control, grants_dto)),
        owner: Some(owner()),
        request_charged: None,
    }))
}

pub(super) async fn put_object_acl(
    s: &Leadshop,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let input = req.input;
    let config = s.bucket_config(&input.bucket).await?;
    let acl = requested!(input, false)?.ok_or_else(|| {
        s3_error!(
            MissingSecurityHeader,
            "Your request was missing a required header"
        )
    })?;
    let (b, k, v) = (
        input.bucket.clone(),
        input.key.clone(),
        input.version_id.clone(),
    );
    if !config.acls_enabled() {
        s.db(move |st| st.get_version(&b, &k, v.as_deref())).await?;
        if acl.owner_only(OWNER_ID) {
            return Ok(S3Response::new(PutObjectAclOutput::default()));
        }
        return Err(not_supported());
    }
    check_public(&config, &acl)?;
    let value = serde_json::to_value(&acl).map_err(S3Error::internal_error)?;
    s.db(move |st| {
        st.update_version(&b, &k, v.as_deref(), move |r| {
            r.acl = Some(value);
            Ok(())
        })
    })
    .await?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub(super) async fn get_bucket_ownership_controls(
    s: &Leadshop,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    let config = s.bucket_config(&req.input.bucket).await?;
    if config.ownership.as_deref() == Some("None") {
        return Err(s3_error!(
            OwnershipControlsNotFoundError,
            "The bucket ownership controls were not found"
        ));
    }
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from(config.object_ownership().to_string()),
            }],
        }),
    }))
}

/// Sets Object Ownership (`None`: deleted, which leaves ACLs in force as ObjectWriter).
/// `BucketOwnerEnforced` is refused while the bucket ACL grants anyone but the owner.
pub(super) async fn set_ownership(
    s: &Leadshop,
    bucket: String,
    value: &'static str,
) -> S3Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // Set inside the transaction when the bucket ACL forbids the change, so the refusal is
    // answered with its own code rather than recognised by its text.
    let acl_forbids = Arc::new(AtomicBool::new(false));
    let flag = acl_forbids.clone();
    let result = s
        .db(move |st| {
            st.update_bucket(&bucket, move |b| {
                if value == ObjectOwnership::BUCKET_OWNER_ENFORCED
                    && b.documents
                        .get(ACL_DOC)
                        .and_then(|v| serde_json::from_value::<Acl>(v.clone()).ok())
                        .is_some_and(|a| !a.owner_only(OWNER_ID))
                {
                    flag.store(true, Ordering::Relaxed);
                    return Err(leadshop_store::StoreError::InvalidArgument(String::new()));
                }
                b.documents.insert(
                    OWNERSHIP_DOC.into(),
                    serde_json::Value::String(value.into()),
                );
                Ok(())
            })
        })
        .await;
    match result {
        Err(_) if acl_forbids.load(Ordering::Relaxed) => Err(s3_error!(
            InvalidBucketAclWithObjectOwnership,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
        )),
        r => r.map(|_| ()),
    }
}

/// The ownership value of a request, as the static name it is stored under.
pub(super) fn ownership_name(o: &ObjectOwnership) -> S3Result<&'static str> {
    match o.as_str() {
        ObjectOwnership::BUCKET_OWNER_ENFORCED => Ok(ObjectOwnership::BUCKET_OWNER_ENFORCED),
        ObjectOwnership::OBJECT_WRITER => Ok(ObjectOwnership::OBJECT_WRITER),
        ObjectOwnership::BUCKET_OWNER_PREFERRED => Ok(ObjectOwnership::BUCKET_OWNER_PREFERRED),
        _ => Err(super::error::malformed_xml()),
    }
}

pub(super) async fn put_bucket_ownership_controls(
    s: &Leadshop,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
    let input = req.input;
    let rules = &input.ownership_controls.rules;
    if rules.len() != 1 {
        return Err(super::error::malformed_xml());
    }
    let value = ownership_name(&rules[0].object_ownership)?;
    set_ownership(s, input.bucket, value).await?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
}

pub(super) async fn delete_bucket_ownership_controls(
    s: &Leadshop,
    req: S3Request<DeleteBucketOwnershipControlsInput>,
) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
    set_ownership(s, req.input.bucket, "None").await?;
    Ok(S3Response::new(
        DeleteBucketOwnershipControlsOutput::default(),
    ))
}
