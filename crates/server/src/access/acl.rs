//! ACL grants in the access decision, where a bucket's Object Ownership enables ACLs.

use crate::bucket_config::BucketConfig;

use super::{AccessControl, Authz};

impl AccessControl {
    /// Whether the bucket ACL, or the ACL of the object version a resource ARN names (read
    /// on the blocking pool, only for the actions an object ACL governs), allows `action`.
    pub(super) async fn acl_allows(
        &self,
        b: &BucketConfig,
        authz: &Authz,
        action: &str,
        bucket: &str,
        resource: &str,
    ) -> bool {
        const OBJECT_ACL_ACTIONS: [&str; 6] = [
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:GetObjectAcl",
            "s3:GetObjectVersionAcl",
            "s3:PutObjectAcl",
            "s3:PutObjectVersionAcl",
        ];
        let authenticated = authz.identity.is_some();
        if b.acl
            .as_ref()
            .is_some_and(|a| a.allows(action, authenticated, false))
        {
            return true;
        }
        if !OBJECT_ACL_ACTIONS.contains(&action) {
            return false;
        }
        let prefix = format!("arn:aws:s3:::{bucket}/");
        let Some(key) = resource.strip_prefix(&prefix) else {
            return false;
        };
        let version = authz
            .context
            .get("s3:VersionId")
            .and_then(|v| v.first())
            .cloned();
        let (store, bucket, key) = (self.store.clone(), bucket.to_string(), key.to_string());
        let acl = tokio::task::spawn_blocking(move || {
            store
                .get_version(&bucket, &key, version.as_deref())
                .map(|rec| rec.acl)
        })
        .await;
        match acl {
            Ok(Ok(Some(v))) => serde_json::from_value::<leadshop_spec::acl::Acl>(v)
                .is_ok_and(|a| a.allows(action, authenticated, true)),
            _ => false,
        }
    }
}
