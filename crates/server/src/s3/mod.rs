//! The S3 operations, one handler each (named after its `S3` trait method), grouped by area.
//! [`Leadshop`] implements s3s's `S3` trait from the operation list in `leadshop_spec`
//! (`serve_operations!` below), each method calling its handler; operations s3s routes that are
//! not listed answer NotImplemented.
//!
//! # Layout
//! Handlers, by area:
//! - [`bucket`]: bucket lifecycle, location, versioning configuration, default encryption.
//! - [`object`]: PutObject (and browser POST uploads) and the rules every write shares;
//!   [`read`]: GetObject, HeadObject; [`copy`]: CopyObject; [`delete`]: DeleteObject(s);
//!   [`tagging`]: object tagging; [`attributes`]: GetObjectAttributes.
//! - [`multipart`]: multipart uploads; [`complete`]: CompleteMultipartUpload.
//! - [`list`]: ListObjects, ListObjectsV2, ListObjectVersions.
//! - [`acl`]: ACLs and Object Ownership; [`policy`]: bucket policies and Public Access Block.
//! - [`cors`], [`lifecycle`], [`logging`], [`metrics_config`]: bucket configurations kept as
//!   AWS JSON documents; [`object_lock`]: Object Lock; [`restore`]: archived storage classes
//!   and RestoreObject.
//! - [`subresources`]: bucket tagging, and the configurations leadshop does not offer, answered
//!   as AWS answers a bucket without them.
//!
//! Shared by the handlers:
//! - [`body`]: request bodies into data files (hash, verify); [`reader`]: data files out as
//!   bounded-memory streams.
//! - [`sse`], [`sse_c`]: which key protects an object.
//! - [`convert`], [`error`]: DTO conversions and the one error mapping.
//! - [`operations`]: what leadshop does with every operation s3s routes (docs/S3-API.md).

use std::sync::Arc;

use leadshop_store::{Store, StoreError};
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result};

use crate::observability::health::Health;
use crate::state::Core;

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
pub(crate) mod replica;
mod replication;
mod restore;
mod sse;
mod sse_c;
mod subresources;
mod tagging;

pub use read::{RangeSpan, resolve_range};

/// The S3 service of one server instance.
#[derive(Debug, Clone)]
pub struct Leadshop {
    core: Arc<Core>,
    /// The versions the scrubber found damaged (GET refuses them before a byte is sent).
    health: Arc<Health>,
}

impl Leadshop {
    /// A service over the server's core; of what the server observes it reads only the
    /// scrubber's damaged versions.
    #[must_use]
    pub fn new(core: Arc<Core>, health: Arc<Health>) -> Self {
        Self { core, health }
    }

    fn store(&self) -> &Arc<Store> {
        &self.core.store
    }

    /// A bucket's configuration (cached), or NoSuchBucket.
    async fn bucket_config(
        &self,
        bucket: &str,
    ) -> S3Result<Arc<crate::bucket_config::BucketConfig>> {
        self.core
            .bucket_configs
            .load(bucket)
            .await
            .ok_or_else(|| error::from_store(StoreError::NoSuchBucket(bucket.to_string())))
    }

    /// The time now, from the server's clock (a test clock in tests).
    fn now_ms(&self) -> i64 {
        self.core.store.clock().now_ms()
    }

    /// Milliseconds in a lifecycle day (`day_seconds`).
    fn day_ms(&self) -> i64 {
        self.core.config.day_ms()
    }

    /// The ARN of a keyring key, as `SSEKMSKeyId` reports it.
    fn kms_arn(&self, key_id: &str) -> String {
        leadshop_keys::keyring::key_arn(
            &self.core.config.region,
            &self.core.config.account_id,
            key_id,
        )
    }

    /// Runs an engine call that reads a few records by key (a descent of the metadata B-tree,
    /// microseconds when its pages are cached) on the calling task, and maps its error. A
    /// call that walks an unbounded number of records, writes or syncs goes through
    /// [`Self::db`] instead.
    fn point_lookup<T>(&self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> S3Result<T> {
        f(&self.core.store).map_err(error::from_store)
    }

    /// Runs a (blocking) engine call on the blocking pool and maps its error.
    async fn db<T, F>(&self, f: F) -> S3Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.core.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(S3Error::internal_error)?
            .map_err(error::from_store)
    }
}

/// Implements s3s's `S3` trait from the operation list (`leadshop_spec::with_operations!`):
/// each served operation's method calls the handler of the same name in its area module
/// (re-exported by [`handlers`]). s3s's default `post_object` calls `put_object`.
macro_rules! serve_operations {
    (
        served { $($op:ident $method:ident $input:ident $output:ident),* $(,)? }
        through_put_object { $($via:ident $via_method:ident),* $(,)? }
    ) => {
        #[async_trait::async_trait]
        impl S3 for Leadshop {
            $(
                async fn $method(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    handlers::$method(self, req).await
                }
            )*
        }
    };
}

leadshop_spec::with_operations!(serve_operations);

/// The handlers, by `S3` trait method name, from their area modules.
mod handlers {
    pub(super) use super::{
        acl::*, attributes::*, bucket::*, complete::*, copy::*, cors::*, delete::*, lifecycle::*,
        list::*, logging::*, metrics_config::*, multipart::*, object::*, object_lock::*, policy::*,
        read::*, replication::*, restore::*, subresources::*, tagging::*,
    };
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

    #[test]
    fn operation_names_follow_their_methods() {
        assert_eq!(operation_name("list_objects_v2"), "ListObjectsV2");
        for op in leadshop_spec::Operation::ALL {
            assert_eq!(operation_name(op.method()), op.name());
        }
    }
}
