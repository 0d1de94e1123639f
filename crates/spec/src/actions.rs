//! IAM actions and the resources they are evaluated on. Each operation's action is in its
//! descriptor ([`crate::operations`]); an operation s3s routes that leadshop does not serve has
//! no action, and the access hook denies it.

/// What an action's resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `arn:aws:s3:::bucket`.
    Bucket,
    /// `arn:aws:s3:::bucket/key`.
    Object,
    /// `*` (ListBuckets).
    Account,
}

/// The IAM side of one S3 request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// The IAM action, e.g. `s3:GetObject`.
    pub name: &'static str,
    /// The resource kind.
    pub scope: Scope,
}

pub use crate::operations::Operation;

impl Operation {
    /// The IAM action a policy must allow, and the resource it is evaluated on. `versioned` is
    /// whether the request names a `versionId`, which selects the `…Version` actions where AWS
    /// has them ([`Operation::describe`]).
    #[must_use]
    pub const fn action(self, versioned: bool) -> Action {
        let d = self.describe();
        if versioned {
            d.versioned_action
        } else {
            d.action
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The IAM action of an S3 operation by its name ([`Operation::action`]); `None` for an
/// operation the server does not know, which the access hook denies.
#[must_use]
pub fn action_for(operation: &str, versioned: bool) -> Option<Action> {
    Operation::from_name(operation).map(|o| o.action(versioned))
}

/// Actions the server checks beyond the operation table: the Object Lock bypass header, the
/// CloudWatch operations leadshop answers, and the write headers' own permissions.
const OTHER_ACTIONS: [&str; 4] = [
    "s3:BypassGovernanceRetention",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics",
];

/// Every IAM action a leadshop server ever evaluates a policy for, sorted: a policy naming
/// anything else (`s3:GetObjekt`) allows or denies nothing here.
#[must_use]
pub fn known_actions() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Operation::ALL
        .iter()
        .flat_map(|o| [o.action(false).name, o.action(true).name])
        .chain(OTHER_ACTIONS)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The resource ARN an action is evaluated on.
#[must_use]
pub fn resource_arn(scope: Scope, bucket: &str, key: Option<&str>) -> String {
    match scope {
        Scope::Account => "*".to_string(),
        Scope::Bucket => format!("arn:aws:s3:::{bucket}"),
        Scope::Object => format!("arn:aws:s3:::{bucket}/{}", key.unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // That every operation the server handles has an action is tested where the operation
    // table is: leadshop-server's `s3::tests::every_handled_operation_has_an_action`.

    #[test]
    fn actions_follow_aws() {
        let cases = [
            ("GetObject", false, "s3:GetObject", Scope::Object),
            ("HeadObject", true, "s3:GetObjectVersion", Scope::Object),
            (
                "DeleteObject",
                true,
                "s3:DeleteObjectVersion",
                Scope::Object,
            ),
            ("UploadPart", false, "s3:PutObject", Scope::Object),
            (
                "CompleteMultipartUpload",
                false,
                "s3:PutObject",
                Scope::Object,
            ),
            (
                "ListParts",
                false,
                "s3:ListMultipartUploadParts",
                Scope::Object,
            ),
            ("HeadBucket", false, "s3:ListBucket", Scope::Bucket),
            (
                "ListObjectVersions",
                false,
                "s3:ListBucketVersions",
                Scope::Bucket,
            ),
            (
                "DeletePublicAccessBlock",
                false,
                "s3:PutBucketPublicAccessBlock",
                Scope::Bucket,
            ),
            ("DeleteBucketCors", false, "s3:PutBucketCORS", Scope::Bucket),
            ("ListBuckets", false, "s3:ListAllMyBuckets", Scope::Account),
        ];
        for (op, versioned, name, scope) in cases {
            assert_eq!(
                action_for(op, versioned),
                Some(Action { name, scope }),
                "{op}"
            );
        }
        assert_eq!(
            action_for("WriteGetObjectResponse", false),
            None,
            "unknown operations have no action"
        );
        assert_eq!(
            resource_arn(Scope::Object, "b", Some("a/b.pdf")),
            "arn:aws:s3:::b/a/b.pdf"
        );
        assert_eq!(resource_arn(Scope::Bucket, "b", None), "arn:aws:s3:::b");
        assert_eq!(resource_arn(Scope::Account, "b", None), "*");
    }

    #[test]
    fn operation_names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(*op));
        }
        assert_eq!(
            Operation::from_name("GetObject"),
            Some(Operation::GetObject)
        );
        assert_eq!(Operation::from_name("getobject"), None);
    }
}
