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

/// The groups a grant may name (stored and sent as their URIs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Group {
    /// Anyone, signed or not.
    #[serde(rename = "http://acs.amazonaws.com/groups/global/AllUsers")]
    AllUsers,
    /// Any request signed with a valid key.
    #[serde(rename = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")]
    AuthenticatedUsers,
    /// The log delivery service.
    #[serde(rename = "http://acs.amazonaws.com/groups/s3/LogDelivery")]
    LogDelivery,
}

impl Group {
    /// Every group.
    pub const ALL: [Self; 3] = [Self::AllUsers, Self::AuthenticatedUsers, Self::LogDelivery];

    /// Its URI.
    #[must_use]
    pub fn uri(self) -> &'static str {
        match self {
            Self::AllUsers => "http://acs.amazonaws.com/groups/global/AllUsers",
            Self::AuthenticatedUsers => "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
            Self::LogDelivery => "http://acs.amazonaws.com/groups/s3/LogDelivery",
        }
    }

    /// The group of a URI.
    ///
    /// # Errors
    /// [`Refusal`] (`InvalidArgument`, as AWS answers) for a URI that names no group.
    pub fn parse(uri: &str) -> Result<Self, Refusal> {
        Self::ALL
            .into_iter()
            .find(|g| g.uri() == uri)
            .ok_or_else(|| Refusal::invalid_argument(format!("Invalid group uri: {uri}")))
    }
}

/// What a grant allows (stored and sent as S3's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    /// Read the object (object ACL) or list the bucket (bucket ACL).
    Read,
    /// Write objects into the bucket (bucket ACL only).
    Write,
    /// Read the ACL.
    ReadAcp,
    /// Write the ACL.
    WriteAcp,
    /// All four.
    FullControl,
}

impl Permission {
    /// Every permission, as the `x-amz-grant-*` headers list them.
    pub const ALL: [Self; 5] = [
        Self::Read,
        Self::Write,
        Self::ReadAcp,
        Self::WriteAcp,
        Self::FullControl,
    ];

    /// S3's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::ReadAcp => "READ_ACP",
            Self::WriteAcp => "WRITE_ACP",
            Self::FullControl => "FULL_CONTROL",
        }
    }

    /// The permission S3 names so.
    ///
    /// # Errors
    /// [`Refusal`] (`MalformedACLError`, as AWS answers an unknown one in a body).
    pub fn parse(name: &str) -> Result<Self, Refusal> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| {
                Refusal::new(ErrorCode::MalformedACLError, crate::refusal::MALFORMED_XML)
            })
    }

    /// Whether it covers an IAM action, in a bucket ACL or an object ACL (AWS's mapping of
    /// ACL permissions to actions).
    #[must_use]
    pub fn permits(self, action: &str, object_acl: bool) -> bool {
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
        match self {
            Self::Read => set(read),
            Self::Write => set(write),
            Self::ReadAcp => set(read_acp),
            Self::WriteAcp => set(write_acp),
            Self::FullControl => set(read) || set(write) || set(read_acp) || set(write_acp),
        }
    }
}

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
        /// Which (its URI in the stored form).
        #[serde(rename = "URI")]
        uri: Group,
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
    /// What it allows.
    pub permission: Permission,
}

/// A bucket's or an object's ACL (the owner is always the account).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Acl {
    /// The grants, in order.
    pub grants: Vec<Grant>,
}

fn group(uri: Group, permission: Permission) -> Grant {
    Grant {
        grantee: Grantee::Group { uri },
        permission,
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
                permission: Permission::FullControl,
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
            ("public-read", _) => acl.grants.push(group(Group::AllUsers, Permission::Read)),
            ("public-read-write", _) => {
                acl.grants.push(group(Group::AllUsers, Permission::Read));
                acl.grants.push(group(Group::AllUsers, Permission::Write));
            }
            ("authenticated-read", _) => {
                acl.grants
                    .push(group(Group::AuthenticatedUsers, Permission::Read));
            }
            ("log-delivery-write", true) => {
                acl.grants
                    .push(group(Group::LogDelivery, Permission::Write));
                acl.grants
                    .push(group(Group::LogDelivery, Permission::ReadAcp));
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
        headers: impl IntoIterator<Item = (Permission, &'a str)>,
    ) -> Result<Self, Refusal> {
        let bad = || Refusal::invalid_argument("Invalid grant header value");
        let mut grants = Vec::new();
        for (permission, value) in headers {
            for one in value.split(',') {
                let (kind, who) = one.trim().split_once('=').ok_or_else(bad)?;
                let who = who.trim().trim_matches('"').to_string();
                let grantee = match kind.trim() {
                    "id" => Grantee::CanonicalUser { id: who },
                    "uri" => Grantee::Group {
                        uri: Group::parse(&who)?,
                    },
                    "emailAddress" => Grantee::AmazonCustomerByEmail { email: who },
                    _ => return Err(bad()),
                };
                grants.push(Grant {
                    grantee,
                    permission,
                });
            }
        }
        let acl = Self { grants };
        acl.validate()?;
        Ok(acl)
    }

    /// AWS's checks of the grants a typed ACL can still fail (unknown permissions and
    /// groups cannot be represented: [`Permission::parse`] and [`Group::parse`] refuse them).
    ///
    /// # Errors
    /// [`Refusal`]: an e-mail grantee (this server has no e-mail directory:
    /// `UnresolvableGrantByEmailAddress`).
    pub fn validate(&self) -> Result<(), Refusal> {
        if self
            .grants
            .iter()
            .any(|g| matches!(g.grantee, Grantee::AmazonCustomerByEmail { .. }))
        {
            return Err(Refusal::new(
                ErrorCode::UnresolvableGrantByEmailAddress,
                "The e-mail address you provided does not match any account on record.",
            ));
        }
        Ok(())
    }

    /// Whether anything is granted to AllUsers or AuthenticatedUsers.
    #[must_use]
    pub fn is_public(&self) -> bool {
        self.grants.iter().any(|g| {
            matches!(
                g.grantee,
                Grantee::Group {
                    uri: Group::AllUsers | Group::AuthenticatedUsers
                }
            )
        })
    }

    /// Whether nothing but the owner's FULL_CONTROL is granted (what BucketOwnerEnforced
    /// allows).
    #[must_use]
    pub fn owner_only(&self, owner_id: &str) -> bool {
        self.grants.iter().all(|g| {
            g.permission == Permission::FullControl
                && matches!(&g.grantee, Grantee::CanonicalUser { id } if id == owner_id)
        })
    }

    /// Whether a group grant allows `action` to a caller (`authenticated`: signed with a valid
    /// key) — the ACL permission mapping of AWS's documentation, for a bucket ACL or an
    /// object ACL.
    #[must_use]
    pub fn allows(&self, action: &str, authenticated: bool, object_acl: bool) -> bool {
        self.grants.iter().any(|g| {
            let for_caller = match g.grantee {
                Grantee::Group {
                    uri: Group::AllUsers,
                } => true,
                Grantee::Group {
                    uri: Group::AuthenticatedUsers,
                } => authenticated,
                _ => false,
            };
            for_caller && g.permission.permits(action, object_acl)
        })
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
                Permission::Read,
                r#"uri="http://acs.amazonaws.com/groups/global/AllUsers", id="abc""#,
            ),
            (Permission::FullControl, r#"id="owner-id""#),
        ])
        .unwrap();
        assert_eq!(a.grants.len(), 3);
        assert!(a.is_public());
        assert_eq!(
            Acl::from_grant_headers([(Permission::Read, r#"uri="http://example.com/x""#)])
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
        assert_eq!(
            Acl::from_grant_headers([(Permission::Read, r#"emailAddress="a@b.c""#)])
                .unwrap_err()
                .code,
            "UnresolvableGrantByEmailAddress"
        );
        assert_eq!(
            Acl::from_grant_headers([(Permission::Read, "nonsense")])
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
    }

    #[test]
    fn the_stored_form_is_s3s_names_and_uris() {
        let stored = serde_json::json!({"Grants": [
            {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"},
            {"Grantee": {"Type": "CanonicalUser", "ID": "owner-id"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "Permission": "READ_ACP"},
        ]});
        let acl: Acl = serde_json::from_value(stored.clone()).unwrap();
        assert!(acl.is_public() && acl.allows("s3:GetObject", false, true));
        assert_eq!(serde_json::to_value(&acl).unwrap(), stored);
        let unknown_group = serde_json::json!({"Grants": [
            {"Grantee": {"Type": "Group", "URI": "http://example.com/x"}, "Permission": "READ"},
        ]});
        assert!(serde_json::from_value::<Acl>(unknown_group).is_err());
        assert_eq!(Permission::parse("READ_ACP").unwrap(), Permission::ReadAcp);
        assert_eq!(
            Permission::parse("read").unwrap_err().code,
            "MalformedACLError"
        );
        assert_eq!(
            Group::parse(Group::AuthenticatedUsers.uri()).unwrap(),
            Group::AuthenticatedUsers
        );
    }

    #[test]
    fn permissions_map_to_actions_as_aws_documents() {
        assert!(Permission::Write.permits("s3:PutObject", false));
        assert!(!Permission::Write.permits("s3:PutObject", true));
        assert!(Permission::Read.permits("s3:ListBucket", false));
        assert!(!Permission::Read.permits("s3:GetObjectAcl", true));
        assert!(Permission::FullControl.permits("s3:PutObjectAcl", true));
        assert!(!Permission::ReadAcp.permits("s3:PutBucketAcl", false));
    }
}
