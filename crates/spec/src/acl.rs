//! Access control lists, for buckets whose Object Ownership enables them (`ObjectWriter`,
//! `BucketOwnerPreferred`): grants, canned ACLs, the `x-amz-grant-*` header syntax, and what a
//! grant allows in the access decision.
//!
//! Every key belongs to the one account that owns every bucket, so the grants that can widen
//! access are the group grants: AllUsers (anyone, signed or not) and AuthenticatedUsers (any
//! valid key). A grant to the owner's canonical id restates ownership; grants to other
//! canonical ids or e-mail addresses name principals this server does not have and are
//! stored and returned but grant nothing. Public Access Block's IgnorePublicAcls makes the
//! group grants count for nothing; BlockPublicAcls refuses requests that set them.

use crate::refusal::{ErrorCode, Refusal};
use serde::{Deserialize, Serialize};

/// The AllUsers group.
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// The AuthenticatedUsers group.
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
/// The LogDelivery group.
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Type")]
pub enum Grantee {
    /// A canonical user id.
    CanonicalUser {
        /// The id.
        #[serde(rename = "ID")]
        id: String,
    },
    /// A predefined group.
    Group {
        /// Its URI.
        #[serde(rename = "URI")]
        uri: String,
    },
    /// An e-mail address (AWS resolves it to a canonical user; stored as given).
    AmazonCustomerByEmail {
        /// The address.
        #[serde(rename = "EmailAddress")]
        email: String,
    },
}

/// One grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Grant {
    /// Who.
    pub grantee: Grantee,
    /// `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP` or `FULL_CONTROL`.
    pub permission: String,
}

/// A bucket's or an object's ACL (the owner is always the account).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Acl {
    /// The grants, in order.
    pub grants: Vec<Grant>,
}

/// The permissions a grant may carry.
pub const PERMISSIONS: [&str; 5] = ["READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"];

fn group(uri: &str, permission: &str) -> Grant {
    Grant {
        grantee: Grantee::Group { uri: uri.into() },
        permission: permission.into(),
    }
}

impl Acl {
    /// The owner with FULL_CONTROL and nothing else (`private`).
    #[must_use]
    pub fn private(owner_id: &str) -> Self {
        Self {
            grants: vec![Grant {
                grantee: Grantee::CanonicalUser {
                    id: owner_id.into(),
                },
                permission: "FULL_CONTROL".into(),
            }],
        }
    }

    /// A canned ACL (`x-amz-acl`); `None` for a name S3 does not know. `log-delivery-write`
    /// is for buckets only, `aws-exec-read` and the `bucket-owner-*` ones for objects (where
    /// the bucket's owner is the owner here).
    #[must_use]
    pub fn canned(name: &str, owner_id: &str, bucket: bool) -> Option<Self> {
        let mut acl = Self::private(owner_id);
        match (name, bucket) {
            ("private" | "bucket-owner-read" | "bucket-owner-full-control", _) => {}
            ("aws-exec-read", false) => {}
            ("public-read", _) => acl.grants.push(group(ALL_USERS, "READ")),
            ("public-read-write", _) => {
                acl.grants.push(group(ALL_USERS, "READ"));
                acl.grants.push(group(ALL_USERS, "WRITE"));
            }
            ("authenticated-read", _) => acl.grants.push(group(AUTHENTICATED_USERS, "READ")),
            ("log-delivery-write", true) => {
                acl.grants.push(group(LOG_DELIVERY, "WRITE"));
                acl.grants.push(group(LOG_DELIVERY, "READ_ACP"));
            }
            _ => return None,
        }
        Some(acl)
    }

    /// An ACL from `x-amz-grant-<permission>` headers (`id="…"`, `uri="…"`,
    /// `emailAddress="…"`, comma-separated), given as `(permission, value)`.
    ///
    /// # Errors
    /// [`Refusal`] for a value S3 cannot parse.
    pub fn from_grant_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Refusal> {
        let bad = || Refusal::invalid_argument("Invalid grant header value");
        let mut grants = Vec::new();
        for (permission, value) in headers {
            for one in value.split(',') {
                let (kind, who) = one.trim().split_once('=').ok_or_else(bad)?;
                let who = who.trim().trim_matches('"').to_string();
                let grantee = match kind.trim() {
                    "id" => Grantee::CanonicalUser { id: who },
                    "uri" => Grantee::Group { uri: who },
                    "emailAddress" => Grantee::AmazonCustomerByEmail { email: who },
                    _ => return Err(bad()),
                };
                grants.push(Grant {
                    grantee,
                    permission: permission.to_string(),
                });
            }
        }
        let acl = Self { grants };
        acl.validate()?;
        Ok(acl)
    }

    /// AWS's checks of the grants.
    ///
    /// # Errors
    /// [`Refusal`]: an unknown permission or group (`MalformedACLError`), an e-mail grantee
    /// (this server has no e-mail directory: `UnresolvableGrantByEmailAddress`).
    pub fn validate(&self) -> Result<(), Refusal> {
        for g in &self.grants {
            if !PERMISSIONS.contains(&g.permission.as_str()) {
                return Err(Refusal::new(
                    ErrorCode::MalformedACLError,
                    crate::refusal::MALFORMED_XML,
                ));
            }
            match &g.grantee {
                Grantee::Group { uri }
                    if ![ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY].contains(&uri.as_str()) =>
                {
                    return Err(Refusal::invalid_argument(format!(
                        "Invalid group uri: {uri}"
                    )));
                }
                Grantee::AmazonCustomerByEmail { .. } => {
                    return Err(Refusal::new(
                        ErrorCode::UnresolvableGrantByEmailAddress,
                        "The e-mail address you provided does not match any account on record.",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether anything is granted to AllUsers or AuthenticatedUsers.
    #[must_use]
    pub fn is_public(&self) -> bool {
        self.grants.iter().any(|g| {
            matches!(&g.grantee, Grantee::Group { uri } if uri == ALL_USERS || uri == AUTHENTICATED_USERS)
        })
    }

    /// Whether nothing but the owner's FULL_CONTROL is granted (what BucketOwnerEnforced
    /// allows).
    #[must_use]
    pub fn owner_only(&self, owner_id: &str) -> bool {
        self.grants.iter().all(|g| {
            g.permission == "FULL_CONTROL"
                && matches!(&g.grantee, Grantee::CanonicalUser { id } if id == owner_id)
        })
    }

    /// Whether a group grant allows `action` to a caller (`authenticated`: signed with a valid
    /// key) — the ACL permission mapping of AWS's documentation, for a bucket ACL or an
    /// object ACL.
    #[must_use]
    pub fn allows(&self, action: &str, authenticated: bool, object_acl: bool) -> bool {
        self.grants.iter().any(|g| {
            let for_caller = match &g.grantee {
                Grantee::Group { uri } => {
                    uri == ALL_USERS || (authenticated && uri == AUTHENTICATED_USERS)
                }
                _ => false,
            };
            for_caller && permits(&g.permission, action, object_acl)
        })
    }
}

/// Whether an ACL permission covers an IAM action.
fn permits(permission: &str, action: &str, object_acl: bool) -> bool {
    let read: &[&str] = if object_acl {
        &["s3:GetObject", "s3:GetObjectVersion"]
    } else {
        &[
            "s3:ListBucket",
            "s3:ListBucketVersions",
            "s3:ListBucketMultipartUploads",
        ]
    };
    let write: &[&str] = if object_acl {
        &[]
    } else {
        &["s3:PutObject", "s3:DeleteObject"]
    };
    let read_acp: &[&str] = if object_acl {
        &["s3:GetObjectAcl", "s3:GetObjectVersionAcl"]
    } else {
        &["s3:GetBucketAcl"]
    };
    let write_acp: &[&str] = if object_acl {
        &["s3:PutObjectAcl", "s3:PutObjectVersionAcl"]
    } else {
        &["s3:PutBucketAcl"]
    };
    let set = |s: &[&str]| s.contains(&action);
    match permission {
        "READ" => set(read),
        "WRITE" => set(write),
        "READ_ACP" => set(read_acp),
        "WRITE_ACP" => set(write_acp),
        "FULL_CONTROL" => set(read) || set(write) || set(read_acp) || set(write_acp),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "owner-id";

    #[test]
    fn canned_acls_expand_as_aws_documents_them() {
        let a = Acl::canned("public-read", OWNER, false).unwrap();
        assert!(a.is_public() && a.allows("s3:GetObject", false, true));
        assert!(!a.allows("s3:PutObjectAcl", false, true));
        let b = Acl::canned("public-read-write", OWNER, true).unwrap();
        assert!(b.allows("s3:PutObject", false, false) && b.allows("s3:ListBucket", false, false));
        let c = Acl::canned("authenticated-read", OWNER, false).unwrap();
        assert!(c.allows("s3:GetObject", true, true) && !c.allows("s3:GetObject", false, true));
        assert!(
            Acl::canned("private", OWNER, true)
                .unwrap()
                .owner_only(OWNER)
        );
        assert!(Acl::canned("log-delivery-write", OWNER, false).is_none());
        assert!(Acl::canned("nonsense", OWNER, true).is_none());
    }

    #[test]
    fn grant_headers_parse_and_are_checked() {
        let a = Acl::from_grant_headers([
            (
                "READ",
                r#"uri="http://acs.amazonaws.com/groups/global/AllUsers", id="abc""#,
            ),
            ("FULL_CONTROL", r#"id="owner-id""#),
        ])
        .unwrap();
        assert_eq!(a.grants.len(), 3);
        assert!(a.is_public());
        assert_eq!(
            Acl::from_grant_headers([("READ", r#"uri="http://example.com/x""#)])
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
        assert_eq!(
            Acl::from_grant_headers([("READ", r#"emailAddress="a@b.c""#)])
                .unwrap_err()
                .code,
            "UnresolvableGrantByEmailAddress"
        );
        assert_eq!(
            Acl::from_grant_headers([("READ", "nonsense")])
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
    }
}
