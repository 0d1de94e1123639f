//! Key management: everything secret that is not object data.
//!
//! - [`master_key`]: the SSE-S3 master key file (and `<master>.next` during a rotation);
//!   [`rotate`]: replacing it online or offline.
//! - [`access_keys`]: access keys (keys.json, secrets sealed under the master key) and the
//!   AWS credentials file; [`key_store`]: the keys a running server holds.
//! - [`keyring`]: the local keyring behind SSE-KMS (kms.json).
//! - [`replication_keys`]: the keys replication signs with at other endpoints
//!   (replication-keys.json).
//! - [`record_file`]: the one sealed-and-locked JSON file store behind keys.json and
//!   kms.json; [`snapshot`]: what a server holds of such a file, swapped when the kernel says
//!   it changed (inotify), not a `stat` per request; [`secret_file`]: private (0600), durable
//!   file writes.
//!
//! Any process may change these files (the server, the `leadshop` CLI): changes are made
//! under an OS lock and renamed into place, and a running server sees them at its next
//! request. The S3 side (authentication, KMS error codes) lives in `leadshop-server`.

pub mod access_keys;
pub mod key_store;
pub mod keyring;
pub mod master_key;
pub mod record_file;
pub mod replication_keys;
pub mod rotate;
pub mod secret_file;
pub mod snapshot;

pub use access_keys::{Identity, KeyError, KeyPaths};
pub use key_store::{KeySet, KeyStore};
pub use keyring::{Keyring, KmsError, KmsPaths};
pub use master_key::MasterSource;
pub use rotate::{Locations, RotateError, Rotation};
