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

// The DTO type of each operation (`paste_input!`, `paste_output!`), for `delegate!` below.
#[macro_use]
mod dto_names;

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
mod logging;
mod metrics_config;
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

    /// Runs an engine call that reads a few records by key (a descent of the metadata B-tree,
    /// microseconds when its pages are cached) on the calling task, and maps its error. A
    /// call that walks an unbounded number of records, writes or syncs goes through
    /// [`Self::db`] instead.
    fn point_lookup<T>(&self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> S3Result<T> {
        f(&self.state.store).map_err(error::from_store)
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
    get_bucket_logging => logging::handle_get_bucket_logging;
    put_bucket_logging => logging::handle_put_bucket_logging;
    get_bucket_metrics_configuration => metrics_config::handle_get_bucket_metrics_configuration;
    put_bucket_metrics_configuration => metrics_config::handle_put_bucket_metrics_configuration;
    delete_bucket_metrics_configuration => metrics_config::handle_delete_bucket_metrics_configuration;
    list_bucket_metrics_configurations => metrics_config::handle_list_bucket_metrics_configurations;
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
