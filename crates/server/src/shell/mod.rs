//! The server shell: accepts connections within the limits, terminates TLS, makes the request
//! context, bounds what a request may send (headers, stalled bodies, POST form fields), runs
//! s3s, adds request ids and logs each request. Handlers never do any of this.
//!
//! # Layout
//! - [`accept`]: accepting connections within the caps, TLS, hyper's settings, the watchdog.
//! - [`request`]: one request: limits, POST form, re-signing, s3s, request id and log line.
//! - [`limits`]: connection caps, the counters of every limit.
//! - [`activity`]: what a connection is doing, for its watchdog and the caps.
//! - [`body`]: request bodies with a progress timeout.
//! - [`post_form`]: the fields of browser POST uploads, read before s3s.
//! - [`record`]: each request's [`RequestRecord`](crate::events::RequestRecord), published when
//!   its response has been sent.
//! - [`resign`]: requests AWS accepts that s3s would refuse (an ignored Range, a path signed
//!   in another escaping), verified and signed again.
//! - [`errors`]: the S3 error responses the shell answers itself.
//! - [`guard`]: a panic in one request's handling answers it 500, and nothing else.
//! - [`cors`]: preflights answered from the bucket's CORS rules; CORS headers on responses.
//! - [`target`]: the bucket (from the host or the path) a request names, before s3s.

pub mod accept;
pub mod activity;
pub mod body;
pub mod cors;
pub mod errors;
pub mod guard;
pub mod limits;
pub mod post_form;
pub mod post_policy;
pub mod record;
pub mod request;
pub mod resign;
pub mod target;

pub use accept::{ListenerSetup, Timeouts, accept_loop};
pub use request::S3Shell;
