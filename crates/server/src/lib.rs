//! The leadshop server: an S3-compatible endpoint that enforces the `leadshop-assets`
//! baseline, on top of the storage engine.
//!
//! A request goes: accept → TLS (or the plain-HTTP listener, which never reaches data) →
//! [`context::RequestContext`] made once → s3s (SigV4 header / presigned / aws-chunked
//! authentication against [`leadshop_keys::KeyStore`]) → [`access::AccessHook`] → one handler in
//! [`s3`] → the store → response, with the request id added by the shell.
//!
//! # Layout
//! - [`config`]: the TOML configuration.
//! - [`server`]: start-up (named steps: bind, master keys, store, buckets, TLS, state,
//!   workers, serve, announce) and graceful shutdown; [`serve`]: the three listeners' accept
//!   loops; [`bootstrap`]: the buckets of
//!   the spec documents.
//! - [`state`]: [`AppState`]: the [`Core`] the S3 API acts on and the [`Observability`] the
//!   console and `/metrics` read; each worker gets only the parts it uses.
//! - [`shell`]: accepting within limits, TLS, the request shell around s3s.
//! - [`private_dir`]: the data directory's permissions; [`backup`]: backup and restore of
//!   a whole server (data and keys kept apart).
//! - [`context`]: connection and request context; [`clients`]: what one client address
//!   holds across its connections (requests in progress, response and document budgets).
//! - [`access`]: the access hook; [`bucket_config`]: each bucket's configuration, typed and
//!   cached.
//! - Key management (access keys, the SSE-KMS keyring, master keys and their rotation) is
//!   the `leadshop-keys` crate; [`access::Authenticator`] is its s3s side.
//! - [`sigv4`]: SigV4 pieces the shell, the CloudWatch endpoint, the access hook and the
//!   console share; [`xml`]: XML escaping.
//! - [`webhook`]: the budget alarm's webhook URL and its POST.
//! - [`tls`]: the development CA and rustls configuration; [`sni_certs`]: a certificate per
//!   bucket host for virtual-hosted-style addressing.
//! - [`s3`]: the S3 operations.
//! - [`plain_http`], [`console`]: the other two listeners.
//! - [`events`]: one record per request, for subscribers (metrics, access logs, usage).
//! - [`supervisor`]: how background work runs (a [`supervisor::Worker`] under a
//!   [`supervisor::Supervisor`]); [`workers`]: the workers (rotation, backup, scrubber and
//!   disk watcher, lifecycle, log delivery, usage).
//! - [`observability`]: what the workers last saw (lifecycle, health, usage, the budget
//!   alarm), held by [`Observability`] and read by the console and `/metrics`.
//! - [`monitoring`]: CloudWatch's read operations on the S3 endpoint.

pub mod access;
pub mod backup;
pub mod bootstrap;
pub mod bucket_config;
pub mod cert_reload;
pub mod clients;
pub mod config;
pub mod console;
pub mod context;
pub mod events;
pub mod monitoring;
pub mod observability;
pub mod plain_http;
pub mod private_dir;
pub mod s3;
pub mod serve;
pub mod server;
pub mod shell;
pub mod sigv4;
pub mod sni_certs;
pub mod start_error;
pub mod state;
pub mod supervisor;
pub mod tls;
pub mod webhook;
pub mod workers;
pub mod xml;

pub use config::Config;
pub use server::{ServerHandle, StartError, StartOptions, start, start_with};
pub use state::{AppState, Core, Endpoints, Observability};
