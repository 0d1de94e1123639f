//! The Public Access Block document (`PutPublicAccessBlock`'s configuration) in AWS JSON shape.
//!
//! What each setting does here (the server has no ACLs: object ownership is always
//! BucketOwnerEnforced):
//! - `BlockPublicAcls`: requests that carry a public canned ACL or grant are refused.
//! - `IgnorePublicAcls`: ACLs never grant anything (always true in effect).
//! - `BlockPublicPolicy`: `PutBucketPolicy` with a public policy is refused (403).
//! - `RestrictPublicBuckets`: a public bucket policy grants nothing to anonymous callers.

use serde::{Deserialize, Serialize};

/// The four settings; a missing one is off, as on AWS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct PublicAccessBlock {
    /// Refuse public ACLs on requests.
    #[serde(default)]
    pub block_public_acls: bool,
    /// Ignore public ACLs.
    #[serde(default)]
    pub ignore_public_acls: bool,
    /// Refuse public bucket policies at `PutBucketPolicy`.
    #[serde(default)]
    pub block_public_policy: bool,
    /// Public bucket policies grant nothing to anonymous callers.
    #[serde(default)]
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// All four on: the baseline.
    #[must_use]
    pub const fn all_on() -> Self {
        Self {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }
}
