//! Bucket specification documents and the rules S3 applies to names.
//!
//! The documents in `config/buckets/<bucket>/*.json` are the single source of truth for a
//! bucket's configuration, in the AWS API's own JSON shapes: `leadshop serve` bootstraps
//! buckets from them and the Terraform reads the same files. This crate parses and validates
//! them; it does no I/O (callers hand it the text).
//!
//! # Layout
//! - [`operations`]: every S3 operation leadshop serves and its descriptor (IAM action,
//!   pricing tier, request metric, access-log name, body); [`actions`]: IAM actions and
//!   resource ARNs.
//! - [`cors`]: the CORS configuration document and the rule matching of preflight and actual
//!   requests.
//! - [`encryption`]: the default-encryption document.
//! - [`names`]: bucket-name and object-key rules.
//! - [`policy`]: IAM policy documents: parse, validate, evaluate.
//! - [`public_access_block`]: the Public Access Block document.
//! - [`storage_class`]: the storage classes, once (AWS name, CloudWatch StorageType,
//!   lifecycle waterfall, archived or not).
//! - [`refusal`]: why a request is refused (S3 error code and message), one type for every
//!   validator.
//! - [`template`]: `${name}` placeholders, rendered as Terraform's `templatefile()` does.
//! - [`versioning`]: `PutBucketVersioning`'s document.
//! - [`bucket`]: a bucket's whole spec (the set of documents), and the built-in defaults.

pub mod acl;
pub mod actions;
pub mod bucket;
pub mod budget;
pub mod cors;
pub mod credentials;
pub mod encryption;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod names;
pub mod object_lock;
pub mod operations;
pub mod policy;
pub mod public_access_block;
pub mod refusal;
pub mod replication;
pub mod storage_class;
pub mod template;
pub mod versioning;

pub use bucket::{BucketSpec, SpecError, TemplateVars};
pub use operations::{Descriptor, Operation};
pub use public_access_block::PublicAccessBlock;
pub use refusal::{ErrorCode, Refusal};
pub use storage_class::StorageClass;
pub use versioning::{VersioningConfiguration, VersioningStatus};
