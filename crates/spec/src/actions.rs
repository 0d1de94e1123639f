//! The one table from S3 operations to the IAM action a policy must allow and the resource it
//! is evaluated on, after AWS's "Actions, resources, and condition keys for Amazon S3" and the
//! per-operation permission notes of the S3 API reference. An operation missing from the table
//! has no action, and the access hook denies it.

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

const fn a(name: &'static str, scope: Scope) -> Action {
    Action { name, scope }
}

macro_rules! operations {
    ($($op:ident),* $(,)?) => {
        /// An S3 operation the server knows (s3s's operation names): what the access hook
        /// authorises, what a request record and the metrics name. An operation s3s parses
        /// that is not here has no IAM action, and the access hook denies it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation {
            $(
                #[doc = concat!("`", stringify!($op), "`.")]
                $op,
            )*
        }

        impl Operation {
            /// Every operation, in declaration order.
            pub const ALL: &'static [Operation] = &[$(Operation::$op),*];

            /// The S3 name, e.g. `GetObject`.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Operation::$op => stringify!($op),)*
                }
            }

            /// The operation of an S3 name; `None` for one the server does not know.
            #[must_use]
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($op) => Some(Operation::$op),)*
                    _ => None,
                }
            }
        }
    };
}

operations! {
    GetObject, HeadObject, DeleteObject, GetObjectTagging, PutObjectTagging,
    DeleteObjectTagging, GetObjectAcl, GetObjectAttributes, PutObject, PostObject, CopyObject,
    CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload, PutObjectAcl,
    AbortMultipartUpload, ListParts, DeleteObjects, ListObjects, ListObjectsV2, HeadBucket,
    ListObjectVersions, ListMultipartUploads, CreateBucket, DeleteBucket, GetBucketLocation,
    GetBucketVersioning, PutBucketVersioning, GetBucketPolicy, PutBucketPolicy,
    DeleteBucketPolicy, GetBucketPolicyStatus, GetPublicAccessBlock, PutPublicAccessBlock,
    DeletePublicAccessBlock, GetBucketCors, PutBucketCors, DeleteBucketCors,
    GetBucketEncryption, PutBucketEncryption, DeleteBucketEncryption,
    GetBucketLifecycleConfiguration, PutBucketLifecycleConfiguration, DeleteBucketLifecycle,
    GetBucketLogging, PutBucketLogging, GetBucketTagging, PutBucketTagging, DeleteBucketTagging,
    GetBucketAcl, PutBucketAcl, GetBucketOwnershipControls, PutBucketOwnershipControls,
    DeleteBucketOwnershipControls, ListBuckets, RestoreObject,
    GetBucketAccelerateConfiguration, PutBucketAccelerateConfiguration, GetBucketRequestPayment,
    PutBucketRequestPayment, GetBucketNotificationConfiguration,
    PutBucketNotificationConfiguration, GetBucketWebsite, PutBucketWebsite, DeleteBucketWebsite,
    GetBucketReplication, PutBucketReplication, DeleteBucketReplication,
    GetObjectLockConfiguration, PutObjectLockConfiguration, GetObjectRetention,
    PutObjectRetention, GetObjectLegalHold, PutObjectLegalHold,
    GetBucketMetricsConfiguration, PutBucketMetricsConfiguration,
    DeleteBucketMetricsConfiguration, ListBucketMetricsConfigurations,
}

impl Operation {
    /// The IAM action a policy must allow, and the resource it is evaluated on. `versioned` is
    /// whether the request names a `versionId`, which selects the `…Version` actions where AWS
    /// has them. The match is exhaustive: an operation cannot be added without its action.
    #[must_use]
    pub const fn action(self, versioned: bool) -> Action {
        use Operation as O;
        use Scope::{Account, Bucket, Object};
        match (self, versioned) {
            (O::GetObject | O::HeadObject, false) => a("s3:GetObject", Object),
            (O::GetObject | O::HeadObject, true) => a("s3:GetObjectVersion", Object),
            (O::DeleteObject, false) => a("s3:DeleteObject", Object),
            (O::DeleteObject, true) => a("s3:DeleteObjectVersion", Object),
            (O::GetObjectTagging, false) => a("s3:GetObjectTagging", Object),
            (O::GetObjectTagging, true) => a("s3:GetObjectVersionTagging", Object),
            (O::PutObjectTagging, false) => a("s3:PutObjectTagging", Object),
            (O::PutObjectTagging, true) => a("s3:PutObjectVersionTagging", Object),
            (O::DeleteObjectTagging, false) => a("s3:DeleteObjectTagging", Object),
            (O::DeleteObjectTagging, true) => a("s3:DeleteObjectVersionTagging", Object),
            (O::GetObjectAcl, false) => a("s3:GetObjectAcl", Object),
            (O::GetObjectAcl, true) => a("s3:GetObjectVersionAcl", Object),
            (O::GetObjectAttributes, false) => a("s3:GetObjectAttributes", Object),
            (O::GetObjectAttributes, true) => a("s3:GetObjectVersionAttributes", Object),
            (O::RestoreObject, _) => a("s3:RestoreObject", Object),
            // Uploads of every shape need s3:PutObject; copies also need read access to the
            // source, which the access hook checks separately.
            (
                O::PutObject
                | O::PostObject
                | O::CopyObject
                | O::CreateMultipartUpload
                | O::UploadPart
                | O::UploadPartCopy
                | O::CompleteMultipartUpload,
                _,
            ) => a("s3:PutObject", Object),
            (O::PutObjectAcl, _) => a("s3:PutObjectAcl", Object),
            (O::AbortMultipartUpload, _) => a("s3:AbortMultipartUpload", Object),
            (O::ListParts, _) => a("s3:ListMultipartUploadParts", Object),
            // DeleteObjects is authorised per key as s3:DeleteObject; the bucket-level check
            // uses it too.
            (O::DeleteObjects, _) => a("s3:DeleteObject", Bucket),
            (O::ListObjects | O::ListObjectsV2 | O::HeadBucket, _) => a("s3:ListBucket", Bucket),
            (O::ListObjectVersions, _) => a("s3:ListBucketVersions", Bucket),
            (O::ListMultipartUploads, _) => a("s3:ListBucketMultipartUploads", Bucket),
            (O::CreateBucket, _) => a("s3:CreateBucket", Bucket),
            (O::DeleteBucket, _) => a("s3:DeleteBucket", Bucket),
            (O::GetBucketLocation, _) => a("s3:GetBucketLocation", Bucket),
            (O::GetBucketVersioning, _) => a("s3:GetBucketVersioning", Bucket),
            (O::PutBucketVersioning, _) => a("s3:PutBucketVersioning", Bucket),
            (O::GetBucketPolicy, _) => a("s3:GetBucketPolicy", Bucket),
            (O::PutBucketPolicy, _) => a("s3:PutBucketPolicy", Bucket),
            (O::DeleteBucketPolicy, _) => a("s3:DeleteBucketPolicy", Bucket),
            (O::GetBucketPolicyStatus, _) => a("s3:GetBucketPolicyStatus", Bucket),
            (O::GetPublicAccessBlock, _) => a("s3:GetBucketPublicAccessBlock", Bucket),
            (O::PutPublicAccessBlock | O::DeletePublicAccessBlock, _) => {
                a("s3:PutBucketPublicAccessBlock", Bucket)
            }
            (O::GetBucketCors, _) => a("s3:GetBucketCORS", Bucket),
            (O::PutBucketCors | O::DeleteBucketCors, _) => a("s3:PutBucketCORS", Bucket),
            (O::GetBucketEncryption, _) => a("s3:GetEncryptionConfiguration", Bucket),
            (O::PutBucketEncryption | O::DeleteBucketEncryption, _) => {
                a("s3:PutEncryptionConfiguration", Bucket)
            }
            (O::GetBucketLifecycleConfiguration, _) => a("s3:GetLifecycleConfiguration", Bucket),
            (O::PutBucketLifecycleConfiguration | O::DeleteBucketLifecycle, _) => {
                a("s3:PutLifecycleConfiguration", Bucket)
            }
            (O::GetBucketLogging, _) => a("s3:GetBucketLogging", Bucket),
            (O::PutBucketLogging, _) => a("s3:PutBucketLogging", Bucket),
            (O::GetBucketMetricsConfiguration | O::ListBucketMetricsConfigurations, _) => {
                a("s3:GetMetricsConfiguration", Bucket)
            }
            (O::PutBucketMetricsConfiguration | O::DeleteBucketMetricsConfiguration, _) => {
                a("s3:PutMetricsConfiguration", Bucket)
            }
            (O::GetBucketTagging, _) => a("s3:GetBucketTagging", Bucket),
            (O::PutBucketTagging | O::DeleteBucketTagging, _) => a("s3:PutBucketTagging", Bucket),
            (O::GetBucketAcl, _) => a("s3:GetBucketAcl", Bucket),
            (O::PutBucketAcl, _) => a("s3:PutBucketAcl", Bucket),
            (O::GetBucketOwnershipControls, _) => a("s3:GetBucketOwnershipControls", Bucket),
            (O::PutBucketOwnershipControls | O::DeleteBucketOwnershipControls, _) => {
                a("s3:PutBucketOwnershipControls", Bucket)
            }
            (O::ListBuckets, _) => a("s3:ListAllMyBuckets", Account),
            (O::GetBucketAccelerateConfiguration, _) => a("s3:GetAccelerateConfiguration", Bucket),
            (O::PutBucketAccelerateConfiguration, _) => a("s3:PutAccelerateConfiguration", Bucket),
            (O::GetBucketRequestPayment, _) => a("s3:GetBucketRequestPayment", Bucket),
            (O::PutBucketRequestPayment, _) => a("s3:PutBucketRequestPayment", Bucket),
            (O::GetBucketNotificationConfiguration, _) => a("s3:GetBucketNotification", Bucket),
            (O::PutBucketNotificationConfiguration, _) => a("s3:PutBucketNotification", Bucket),
            (O::GetBucketWebsite, _) => a("s3:GetBucketWebsite", Bucket),
            (O::PutBucketWebsite, _) => a("s3:PutBucketWebsite", Bucket),
            (O::DeleteBucketWebsite, _) => a("s3:DeleteBucketWebsite", Bucket),
            (O::GetBucketReplication, _) => a("s3:GetReplicationConfiguration", Bucket),
            (O::PutBucketReplication | O::DeleteBucketReplication, _) => {
                a("s3:PutReplicationConfiguration", Bucket)
            }
            (O::GetObjectLockConfiguration, _) => a("s3:GetBucketObjectLockConfiguration", Bucket),
            (O::PutObjectLockConfiguration, _) => a("s3:PutBucketObjectLockConfiguration", Bucket),
            (O::GetObjectRetention, _) => a("s3:GetObjectRetention", Object),
            (O::PutObjectRetention, _) => a("s3:PutObjectRetention", Object),
            (O::GetObjectLegalHold, _) => a("s3:GetObjectLegalHold", Object),
            (O::PutObjectLegalHold, _) => a("s3:PutObjectLegalHold", Object),
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
