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

/// The IAM action of an S3 operation (s3s operation names). `versioned` is whether the request
/// names a `versionId`, which selects the `…Version` actions where AWS has them.
#[must_use]
pub fn action_for(operation: &str, versioned: bool) -> Option<Action> {
    use Scope::{Account, Bucket, Object};
    Some(match (operation, versioned) {
        ("GetObject" | "HeadObject", false) => a("s3:GetObject", Object),
        ("GetObject" | "HeadObject", true) => a("s3:GetObjectVersion", Object),
        ("DeleteObject", false) => a("s3:DeleteObject", Object),
        ("DeleteObject", true) => a("s3:DeleteObjectVersion", Object),
        ("GetObjectTagging", false) => a("s3:GetObjectTagging", Object),
        ("GetObjectTagging", true) => a("s3:GetObjectVersionTagging", Object),
        ("PutObjectTagging", false) => a("s3:PutObjectTagging", Object),
        ("PutObjectTagging", true) => a("s3:PutObjectVersionTagging", Object),
        ("DeleteObjectTagging", false) => a("s3:DeleteObjectTagging", Object),
        ("DeleteObjectTagging", true) => a("s3:DeleteObjectVersionTagging", Object),
        ("GetObjectAcl", false) => a("s3:GetObjectAcl", Object),
        ("GetObjectAcl", true) => a("s3:GetObjectVersionAcl", Object),
        ("GetObjectAttributes", false) => a("s3:GetObjectAttributes", Object),
        ("GetObjectAttributes", true) => a("s3:GetObjectVersionAttributes", Object),
        // Uploads of every shape need s3:PutObject; copies also need read access to the source,
        // which the access hook checks separately.
        (
            "PutObject"
            | "PostObject"
            | "CopyObject"
            | "CreateMultipartUpload"
            | "UploadPart"
            | "UploadPartCopy"
            | "CompleteMultipartUpload",
            _,
        ) => a("s3:PutObject", Object),
        ("PutObjectAcl", _) => a("s3:PutObjectAcl", Object),
        ("AbortMultipartUpload", _) => a("s3:AbortMultipartUpload", Object),
        ("ListParts", _) => a("s3:ListMultipartUploadParts", Object),
        // DeleteObjects is authorised per key as s3:DeleteObject; the bucket-level check uses it too.
        ("DeleteObjects", _) => a("s3:DeleteObject", Bucket),
        ("ListObjects" | "ListObjectsV2" | "HeadBucket", _) => a("s3:ListBucket", Bucket),
        ("ListObjectVersions", _) => a("s3:ListBucketVersions", Bucket),
        ("ListMultipartUploads", _) => a("s3:ListBucketMultipartUploads", Bucket),
        ("CreateBucket", _) => a("s3:CreateBucket", Bucket),
        ("DeleteBucket", _) => a("s3:DeleteBucket", Bucket),
        ("GetBucketLocation", _) => a("s3:GetBucketLocation", Bucket),
        ("GetBucketVersioning", _) => a("s3:GetBucketVersioning", Bucket),
        ("PutBucketVersioning", _) => a("s3:PutBucketVersioning", Bucket),
        ("GetBucketPolicy", _) => a("s3:GetBucketPolicy", Bucket),
        ("PutBucketPolicy", _) => a("s3:PutBucketPolicy", Bucket),
        ("DeleteBucketPolicy", _) => a("s3:DeleteBucketPolicy", Bucket),
        ("GetBucketPolicyStatus", _) => a("s3:GetBucketPolicyStatus", Bucket),
        ("GetPublicAccessBlock", _) => a("s3:GetBucketPublicAccessBlock", Bucket),
        ("PutPublicAccessBlock" | "DeletePublicAccessBlock", _) => {
            a("s3:PutBucketPublicAccessBlock", Bucket)
        }
        ("GetBucketCors", _) => a("s3:GetBucketCORS", Bucket),
        ("PutBucketCors" | "DeleteBucketCors", _) => a("s3:PutBucketCORS", Bucket),
        ("GetBucketEncryption", _) => a("s3:GetEncryptionConfiguration", Bucket),
        ("PutBucketEncryption" | "DeleteBucketEncryption", _) => {
            a("s3:PutEncryptionConfiguration", Bucket)
        }
        ("GetBucketLifecycleConfiguration", _) => a("s3:GetLifecycleConfiguration", Bucket),
        ("PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle", _) => {
            a("s3:PutLifecycleConfiguration", Bucket)
        }
        ("GetBucketLogging", _) => a("s3:GetBucketLogging", Bucket),
        ("PutBucketLogging", _) => a("s3:PutBucketLogging", Bucket),
        ("GetBucketTagging", _) => a("s3:GetBucketTagging", Bucket),
        ("PutBucketTagging" | "DeleteBucketTagging", _) => a("s3:PutBucketTagging", Bucket),
        ("GetBucketAcl", _) => a("s3:GetBucketAcl", Bucket),
        ("PutBucketAcl", _) => a("s3:PutBucketAcl", Bucket),
        ("GetBucketOwnershipControls", _) => a("s3:GetBucketOwnershipControls", Bucket),
        ("PutBucketOwnershipControls" | "DeleteBucketOwnershipControls", _) => {
            a("s3:PutBucketOwnershipControls", Bucket)
        }
        ("ListBuckets", _) => a("s3:ListAllMyBuckets", Account),
        _ => return None,
    })
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
}
