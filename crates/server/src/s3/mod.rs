//! The S3 operations, one `handle_*` function each, grouped by area. [`Leadshop`] implements
//! s3s's `S3` trait by delegating to them; operations not listed answer NotImplemented.
//!
//! # Layout
//! - [`bucket`]: bucket lifecycle, location, versioning configuration.
//! - [`object`]: PutObject, GetObject, HeadObject, CopyObject, DeleteObject(s), tagging.
//! - [`attributes`]: GetObjectAttributes (what an object is, without its data).
//! - [`acl`]: ACLs and Object Ownership (disabled under BucketOwnerEnforced, enforced otherwise).
//! - [`restore`]: archived storage classes and RestoreObject.
//! - [`lifecycle`]: lifecycle configuration and `x-amz-expiration`.
//! - [`subresources`]: bucket tagging, and the configurations leadshop does not offer, answered
//!   as AWS answers a bucket without them.
//! - [`object_lock`]: Object Lock (configuration, retention, legal holds, lock headers).
//! - [`policy`]: bucket policies and Public Access Block.
//! - [`list`]: ListObjects, ListObjectsV2, ListObjectVersions.
//! - [`multipart`]: multipart uploads.
//! - [`body`]: request bodies into data files (hash, verify) and data files out as streams.
//! - [`convert`], [`error`]: DTO conversions and the one error mapping.

use std::sync::Arc;

use leadshop_store::{Store, StoreError};
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result};

use crate::state::AppState;

mod acl;
mod attributes;
mod body;
mod bucket;
mod complete;
mod convert;
mod copy;
mod cors;
mod delete;
mod error;
mod lifecycle;
mod list;
mod multipart;
mod object;
mod object_lock;
pub mod operations;
mod policy;
mod read;
mod reader;
mod restore;
mod sse;
mod sse_c;
mod subresources;
mod tagging;

pub use read::{RangeSpan, resolve_range};

/// A status a handler answers with that s3s's serializer does not set (it ignores
/// `S3Response::status` for generated operations): left in the response extensions, applied
/// by the shell. RestoreObject's 202 Accepted uses it.
#[derive(Debug, Clone, Copy)]
pub struct StatusOverride(pub http::StatusCode);

/// The S3 service of one server instance.
#[derive(Debug, Clone)]
pub struct Leadshop {
    state: Arc<AppState>,
}

impl Leadshop {
    /// A service over the shared state.
    #[must_use]
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    fn store(&self) -> &Arc<Store> {
        &self.state.store
    }

    /// A bucket's configuration (cached), or NoSuchBucket.
    async fn bucket_config(
        &self,
        bucket: &str,
    ) -> S3Result<Arc<crate::bucket_config::BucketConfig>> {
        self.state
            .bucket_configs
            .load(bucket)
            .await
            .ok_or_else(|| error::from_store(StoreError::NoSuchBucket(bucket.to_string())))
    }

    /// The time now, from the server's clock (a test clock in tests).
    fn now_ms(&self) -> i64 {
        self.state.store.clock().now_ms()
    }

    /// Milliseconds in a lifecycle day (`day_seconds`).
    fn day_ms(&self) -> i64 {
        self.state.config.day_ms()
    }

    /// The ARN of a keyring key, as `SSEKMSKeyId` reports it.
    fn kms_arn(&self, key_id: &str) -> String {
        leadshop_keys::keyring::key_arn(
            &self.state.config.region,
            &self.state.config.account_id,
            key_id,
        )
    }

    /// Runs a (blocking) engine call on the blocking pool and maps its error.
    async fn db<T, F>(&self, f: F) -> S3Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.state.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(S3Error::internal_error)?
            .map_err(error::from_store)
    }
}

macro_rules! delegate {
    ($($op:ident => $handler:path;)*) => {
        #[async_trait::async_trait]
        impl S3 for Leadshop {
            $(
                async fn $op(&self, req: S3Request<paste_input!($op)>) -> S3Result<S3Response<paste_output!($op)>> {
                    $handler(self, req).await
                }
            )*
        }

        /// Every operation this server handles, by its `S3` trait method (the table below);
        /// PostObject reaches `put_object` through s3s's default `post_object`.
        pub const HANDLED_OPERATIONS: &[&str] = &[$(stringify!($op)),*];
    };
}

// The input/output type names follow the operation names; spelled out here so the table
// below stays one line per operation.
macro_rules! paste_input {
    (put_bucket_policy) => {
        PutBucketPolicyInput
    };
    (get_bucket_policy) => {
        GetBucketPolicyInput
    };
    (delete_bucket_policy) => {
        DeleteBucketPolicyInput
    };
    (get_bucket_policy_status) => {
        GetBucketPolicyStatusInput
    };
    (put_public_access_block) => {
        PutPublicAccessBlockInput
    };
    (get_public_access_block) => {
        GetPublicAccessBlockInput
    };
    (delete_public_access_block) => {
        DeletePublicAccessBlockInput
    };
    (create_bucket) => {
        CreateBucketInput
    };
    (head_bucket) => {
        HeadBucketInput
    };
    (list_buckets) => {
        ListBucketsInput
    };
    (delete_bucket) => {
        DeleteBucketInput
    };
    (get_bucket_location) => {
        GetBucketLocationInput
    };
    (put_bucket_versioning) => {
        PutBucketVersioningInput
    };
    (get_bucket_versioning) => {
        GetBucketVersioningInput
    };
    (get_bucket_encryption) => {
        GetBucketEncryptionInput
    };
    (get_bucket_cors) => {
        GetBucketCorsInput
    };
    (get_bucket_tagging) => {
        GetBucketTaggingInput
    };
    (put_bucket_tagging) => {
        PutBucketTaggingInput
    };
    (delete_bucket_tagging) => {
        DeleteBucketTaggingInput
    };
    (get_bucket_accelerate_configuration) => {
        GetBucketAccelerateConfigurationInput
    };
    (put_bucket_accelerate_configuration) => {
        PutBucketAccelerateConfigurationInput
    };
    (get_bucket_request_payment) => {
        GetBucketRequestPaymentInput
    };
    (put_bucket_request_payment) => {
        PutBucketRequestPaymentInput
    };
    (get_bucket_notification_configuration) => {
        GetBucketNotificationConfigurationInput
    };
    (put_bucket_notification_configuration) => {
        PutBucketNotificationConfigurationInput
    };
    (get_bucket_website) => {
        GetBucketWebsiteInput
    };
    (put_bucket_website) => {
        PutBucketWebsiteInput
    };
    (delete_bucket_website) => {
        DeleteBucketWebsiteInput
    };
    (get_bucket_replication) => {
        GetBucketReplicationInput
    };
    (put_bucket_replication) => {
        PutBucketReplicationInput
    };
    (delete_bucket_replication) => {
        DeleteBucketReplicationInput
    };
    (get_object_lock_configuration) => {
        GetObjectLockConfigurationInput
    };
    (put_object_lock_configuration) => {
        PutObjectLockConfigurationInput
    };
    (get_object_retention) => {
        GetObjectRetentionInput
    };
    (put_object_retention) => {
        PutObjectRetentionInput
    };
    (get_object_legal_hold) => {
        GetObjectLegalHoldInput
    };
    (put_object_legal_hold) => {
        PutObjectLegalHoldInput
    };
    (get_bucket_lifecycle_configuration) => {
        GetBucketLifecycleConfigurationInput
    };
    (put_bucket_lifecycle_configuration) => {
        PutBucketLifecycleConfigurationInput
    };
    (delete_bucket_lifecycle) => {
        DeleteBucketLifecycleInput
    };
    (put_bucket_cors) => {
        PutBucketCorsInput
    };
    (delete_bucket_cors) => {
        DeleteBucketCorsInput
    };
    (put_bucket_encryption) => {
        PutBucketEncryptionInput
    };
    (delete_bucket_encryption) => {
        DeleteBucketEncryptionInput
    };
    (put_object) => {
        PutObjectInput
    };
    (get_object) => {
        GetObjectInput
    };
    (head_object) => {
        HeadObjectInput
    };
    (restore_object) => {
        RestoreObjectInput
    };
    (get_bucket_acl) => {
        GetBucketAclInput
    };
    (put_bucket_acl) => {
        PutBucketAclInput
    };
    (get_object_acl) => {
        GetObjectAclInput
    };
    (put_object_acl) => {
        PutObjectAclInput
    };
    (get_bucket_ownership_controls) => {
        GetBucketOwnershipControlsInput
    };
    (put_bucket_ownership_controls) => {
        PutBucketOwnershipControlsInput
    };
    (delete_bucket_ownership_controls) => {
        DeleteBucketOwnershipControlsInput
    };
    (get_object_attributes) => {
        GetObjectAttributesInput
    };
    (copy_object) => {
        CopyObjectInput
    };
    (delete_object) => {
        DeleteObjectInput
    };
    (delete_objects) => {
        DeleteObjectsInput
    };
    (put_object_tagging) => {
        PutObjectTaggingInput
    };
    (get_object_tagging) => {
        GetObjectTaggingInput
    };
    (delete_object_tagging) => {
        DeleteObjectTaggingInput
    };
    (list_objects) => {
        ListObjectsInput
    };
    (list_objects_v2) => {
        ListObjectsV2Input
    };
    (list_object_versions) => {
        ListObjectVersionsInput
    };
    (create_multipart_upload) => {
        CreateMultipartUploadInput
    };
    (upload_part) => {
        UploadPartInput
    };
    (upload_part_copy) => {
        UploadPartCopyInput
    };
    (complete_multipart_upload) => {
        CompleteMultipartUploadInput
    };
    (abort_multipart_upload) => {
        AbortMultipartUploadInput
    };
    (list_parts) => {
        ListPartsInput
    };
    (list_multipart_uploads) => {
        ListMultipartUploadsInput
    };
}
macro_rules! paste_output {
    (put_bucket_policy) => {
        PutBucketPolicyOutput
    };
    (get_bucket_policy) => {
        GetBucketPolicyOutput
    };
    (delete_bucket_policy) => {
        DeleteBucketPolicyOutput
    };
    (get_bucket_policy_status) => {
        GetBucketPolicyStatusOutput
    };
    (put_public_access_block) => {
        PutPublicAccessBlockOutput
    };
    (get_public_access_block) => {
        GetPublicAccessBlockOutput
    };
    (delete_public_access_block) => {
        DeletePublicAccessBlockOutput
    };
    (create_bucket) => {
        CreateBucketOutput
    };
    (head_bucket) => {
        HeadBucketOutput
    };
    (list_buckets) => {
        ListBucketsOutput
    };
    (delete_bucket) => {
        DeleteBucketOutput
    };
    (get_bucket_location) => {
        GetBucketLocationOutput
    };
    (put_bucket_versioning) => {
        PutBucketVersioningOutput
    };
    (get_bucket_versioning) => {
        GetBucketVersioningOutput
    };
    (get_bucket_encryption) => {
        GetBucketEncryptionOutput
    };
    (get_bucket_cors) => {
        GetBucketCorsOutput
    };
    (get_bucket_tagging) => {
        GetBucketTaggingOutput
    };
    (put_bucket_tagging) => {
        PutBucketTaggingOutput
    };
    (delete_bucket_tagging) => {
        DeleteBucketTaggingOutput
    };
    (get_bucket_accelerate_configuration) => {
        GetBucketAccelerateConfigurationOutput
    };
    (put_bucket_accelerate_configuration) => {
        PutBucketAccelerateConfigurationOutput
    };
    (get_bucket_request_payment) => {
        GetBucketRequestPaymentOutput
    };
    (put_bucket_request_payment) => {
        PutBucketRequestPaymentOutput
    };
    (get_bucket_notification_configuration) => {
        GetBucketNotificationConfigurationOutput
    };
    (put_bucket_notification_configuration) => {
        PutBucketNotificationConfigurationOutput
    };
    (get_bucket_website) => {
        GetBucketWebsiteOutput
    };
    (put_bucket_website) => {
        PutBucketWebsiteOutput
    };
    (delete_bucket_website) => {
        DeleteBucketWebsiteOutput
    };
    (get_bucket_replication) => {
        GetBucketReplicationOutput
    };
    (put_bucket_replication) => {
        PutBucketReplicationOutput
    };
    (delete_bucket_replication) => {
        DeleteBucketReplicationOutput
    };
    (get_object_lock_configuration) => {
        GetObjectLockConfigurationOutput
    };
    (put_object_lock_configuration) => {
        PutObjectLockConfigurationOutput
    };
    (get_object_retention) => {
        GetObjectRetentionOutput
    };
    (put_object_retention) => {
        PutObjectRetentionOutput
    };
    (get_object_legal_hold) => {
        GetObjectLegalHoldOutput
    };
    (put_object_legal_hold) => {
        PutObjectLegalHoldOutput
    };
    (get_bucket_lifecycle_configuration) => {
        GetBucketLifecycleConfigurationOutput
    };
    (put_bucket_lifecycle_configuration) => {
        PutBucketLifecycleConfigurationOutput
    };
    (delete_bucket_lifecycle) => {
        DeleteBucketLifecycleOutput
    };
    (put_bucket_cors) => {
        PutBucketCorsOutput
    };
    (delete_bucket_cors) => {
        DeleteBucketCorsOutput
    };
    (put_bucket_encryption) => {
        PutBucketEncryptionOutput
    };
    (delete_bucket_encryption) => {
        DeleteBucketEncryptionOutput
    };
    (put_object) => {
        PutObjectOutput
    };
    (get_object) => {
        GetObjectOutput
    };
    (head_object) => {
        HeadObjectOutput
    };
    (restore_object) => {
        RestoreObjectOutput
    };
    (get_bucket_acl) => {
        GetBucketAclOutput
    };
    (put_bucket_acl) => {
        PutBucketAclOutput
    };
    (get_object_acl) => {
        GetObjectAclOutput
    };
    (put_object_acl) => {
        PutObjectAclOutput
    };
    (get_bucket_ownership_controls) => {
        GetBucketOwnershipControlsOutput
    };
    (put_bucket_ownership_controls) => {
        PutBucketOwnershipControlsOutput
    };
    (delete_bucket_ownership_controls) => {
        DeleteBucketOwnershipControlsOutput
    };
    (get_object_attributes) => {
        GetObjectAttributesOutput
    };
    (copy_object) => {
        CopyObjectOutput
    };
    (delete_object) => {
        DeleteObjectOutput
    };
    (delete_objects) => {
        DeleteObjectsOutput
    };
    (put_object_tagging) => {
        PutObjectTaggingOutput
    };
    (get_object_tagging) => {
        GetObjectTaggingOutput
    };
    (delete_object_tagging) => {
        DeleteObjectTaggingOutput
    };
    (list_objects) => {
        ListObjectsOutput
    };
    (list_objects_v2) => {
        ListObjectsV2Output
    };
    (list_object_versions) => {
        ListObjectVersionsOutput
    };
    (create_multipart_upload) => {
        CreateMultipartUploadOutput
    };
    (upload_part) => {
        UploadPartOutput
    };
    (upload_part_copy) => {
        UploadPartCopyOutput
    };
    (complete_multipart_upload) => {
        CompleteMultipartUploadOutput
    };
    (abort_multipart_upload) => {
        AbortMultipartUploadOutput
    };
    (list_parts) => {
        ListPartsOutput
    };
    (list_multipart_uploads) => {
        ListMultipartUploadsOutput
    };
}

delegate! {
    create_bucket => bucket::handle_create_bucket;
    head_bucket => bucket::handle_head_bucket;
    list_buckets => bucket::handle_list_buckets;
    delete_bucket => bucket::handle_delete_bucket;
    get_bucket_location => bucket::handle_get_bucket_location;
    put_bucket_versioning => bucket::handle_put_bucket_versioning;
    get_bucket_versioning => bucket::handle_get_bucket_versioning;
    get_bucket_encryption => bucket::handle_get_bucket_encryption;
    put_bucket_encryption => bucket::handle_put_bucket_encryption;
    delete_bucket_encryption => bucket::handle_delete_bucket_encryption;
    get_bucket_cors => cors::handle_get_bucket_cors;
    put_bucket_cors => cors::handle_put_bucket_cors;
    delete_bucket_cors => cors::handle_delete_bucket_cors;
    get_bucket_tagging => subresources::handle_get_bucket_tagging;
    put_bucket_tagging => subresources::handle_put_bucket_tagging;
    delete_bucket_tagging => subresources::handle_delete_bucket_tagging;
    get_bucket_accelerate_configuration => subresources::handle_get_bucket_accelerate_configuration;
    put_bucket_accelerate_configuration => subresources::handle_put_bucket_accelerate_configuration;
    get_bucket_request_payment => subresources::handle_get_bucket_request_payment;
    put_bucket_request_payment => subresources::handle_put_bucket_request_payment;
    get_bucket_notification_configuration => subresources::handle_get_bucket_notification_configuration;
    put_bucket_notification_configuration => subresources::handle_put_bucket_notification_configuration;
    get_bucket_website => subresources::handle_get_bucket_website;
    put_bucket_website => subresources::handle_put_bucket_website;
    delete_bucket_website => subresources::handle_delete_bucket_website;
    get_bucket_replication => subresources::handle_get_bucket_replication;
    put_bucket_replication => subresources::handle_put_bucket_replication;
    delete_bucket_replication => subresources::handle_delete_bucket_replication;
    get_object_lock_configuration => object_lock::handle_get_object_lock_configuration;
    put_object_lock_configuration => object_lock::handle_put_object_lock_configuration;
    get_object_retention => object_lock::handle_get_object_retention;
    put_object_retention => object_lock::handle_put_object_retention;
    get_object_legal_hold => object_lock::handle_get_object_legal_hold;
    put_object_legal_hold => object_lock::handle_put_object_legal_hold;
    get_bucket_lifecycle_configuration => lifecycle::handle_get_bucket_lifecycle_configuration;
    put_bucket_lifecycle_configuration => lifecycle::handle_put_bucket_lifecycle_configuration;
    delete_bucket_lifecycle => lifecycle::handle_delete_bucket_lifecycle;
    put_bucket_policy => policy::handle_put_bucket_policy;
    get_bucket_policy => policy::handle_get_bucket_policy;
    delete_bucket_policy => policy::handle_delete_bucket_policy;
    get_bucket_policy_status => policy::handle_get_bucket_policy_status;
    put_public_access_block => policy::handle_put_public_access_block;
    get_public_access_block => policy::handle_get_public_access_block;
    delete_public_access_block => policy::handle_delete_public_access_block;
    put_object => object::handle_put_object;
    get_object => read::handle_get_object;
    head_object => read::handle_head_object;
    restore_object => restore::handle_restore_object;
    get_object_attributes => attributes::handle_get_object_attributes;
    get_bucket_acl => acl::handle_get_bucket_acl;
    put_bucket_acl => acl::handle_put_bucket_acl;
    get_object_acl => acl::handle_get_object_acl;
    put_object_acl => acl::handle_put_object_acl;
    get_bucket_ownership_controls => acl::handle_get_bucket_ownership_controls;
    put_bucket_ownership_controls => acl::handle_put_bucket_ownership_controls;
    delete_bucket_ownership_controls => acl::handle_delete_bucket_ownership_controls;
    copy_object => copy::handle_copy_object;
    delete_object => delete::handle_delete_object;
    delete_objects => delete::handle_delete_objects;
    put_object_tagging => tagging::handle_put_object_tagging;
    get_object_tagging => tagging::handle_get_object_tagging;
    delete_object_tagging => tagging::handle_delete_object_tagging;
    list_objects => list::handle_list_objects;
    list_objects_v2 => list::handle_list_objects_v2;
    list_object_versions => list::handle_list_object_versions;
    create_multipart_upload => multipart::handle_create_multipart_upload;
    upload_part => multipart::handle_upload_part;
    upload_part_copy => multipart::handle_upload_part_copy;
    complete_multipart_upload => complete::handle_complete_multipart_upload;
    abort_multipart_upload => multipart::handle_abort_multipart_upload;
    list_parts => multipart::handle_list_parts;
    list_multipart_uploads => multipart::handle_list_multipart_uploads;
}

/// An operation's s3s name (`ListObjectsV2`) from its `S3` trait method (`list_objects_v2`).
#[must_use]
pub fn operation_name(method: &str) -> String {
    method
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Derived from the operation table: an operation added to `delegate!` without an IAM
    /// action in `spec::actions` would be denied to everyone; this says which.
    #[test]
    fn every_handled_operation_has_an_action() {
        assert_eq!(operation_name("list_objects_v2"), "ListObjectsV2");
        assert!(
            HANDLED_OPERATIONS.len() >= 36,
            "{}",
            HANDLED_OPERATIONS.len()
        );
        let names = HANDLED_OPERATIONS
            .iter()
            .map(|m| operation_name(m))
            .chain(["PostObject".to_string()]);
        for op in names {
            for versioned in [false, true] {
                let act = leadshop_spec::actions::action_for(&op, versioned)
                    .unwrap_or_else(|| panic!("{op} is handled but has no IAM action"));
                assert!(act.name.starts_with("s3:"), "{op}");
            }
        }
    }
}
