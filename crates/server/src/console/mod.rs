//! The console/admin listener (127.0.0.1:9001 by default):
//!
//! - `/`: the console, a web app built from `console/` (npm) and embedded in the binary
//!   ([`assets`]): sign in with an access key, buckets and their enforced settings, an object
//!   browser with versions, drag-and-drop upload through a presigned POST, download through a
//!   presigned GET, delete and restore.
//! - `/api/…`: sessions and what the page needs signed ([`api`]).
//! - `/s3/…`: the page's S3 requests ([`gateway`]), signed with the signed-in key and handed
//!   to the same S3 shell as the HTTPS listener: the console can do exactly what its key may.
//! - `/metrics`: Prometheus text ([`metrics`]); `/health` (the process answers) and `/ready`
//!   (the metadata store answers a read) for probes.

mod api;
mod assets;
mod dashboard;
mod gateway;
pub mod metrics;
pub mod session;
pub mod sign;
mod throttle;

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::context::ConnInfo;
use crate::shell::S3Shell;
use crate::shell::activity::ConnActivity;
use crate::state::AppState;

pub use metrics::metrics;

/// What the console listener serves with.
pub struct Console {
    state: Arc<AppState>,
    pub(crate) shell: Arc<S3Shell>,
    sessions: session::Sessions,
    throttle: throttle::Throttle,
    /// The sign-in refusal lines.
    refused_log: crate::shell::limits::LogLimiter,
    /// The S3 endpoint's `host[:port]`, which the page's requests are signed for.
    s3_host: String,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("s3_host", &self.s3_host)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// A console over this state, forwarding S3 requests to `shell`.
    #[must_use]
    pub fn new(state: Arc<AppState>, shell: Arc<S3Shell>) -> Self {
        let s3_host = state
            .core
            .endpoints
            .s3
            .trim_start_matches("https://")
            .to_string();
        Self {
            state,
            shell,
            sessions: session::Sessions::default(),
            throttle: throttle::Throttle::default(),
            refused_log: crate::shell::limits::LogLimiter::default(),
            s3_host,
        }
    }

    /// Answers one console request.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        conn: Arc<ConnInfo>,
        activity: Arc<ConnActivity>,
    ) -> Response<s3s::Body> {
        let path = req.uri().path().to_string();
        // `/metrics`, `/health` and `/ready` are for scrapers and probes, whatever name they
        // use; the rest is the console's own.
        let for_probes = matches!(path.as_str(), "/metrics" | "/health" | "/ready");
        if !for_probes && !self.host_allowed(req.headers(), &conn) {
            // A page whose name was made to resolve here (DNS rebinding) gets nothing.
            return text(
                StatusCode::MISDIRECTED_REQUEST,
                "text/plain; charset=utf-8",
                "this console answers only to its own address (localhost, 127.0.0.1, [::1])\n"
                    .into(),
            );
        }
        if path == "/s3" || path.starts_with("/s3/") {
            let mut resp = gateway::forward(self, req, conn, activity).await;
            // Objects come back on the console's origin: never let one run as a page of it.
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox; default-src 'none'"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            return resp;
        }
        if path.starts_with("/api/") {
            let _in_flight = activity.request();
            return api::handle(self, req, &conn).await;
        }
        let _in_flight = activity.request();
        if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "method not allowed\n".into(),
            );
        }
        if path == "/metrics" {
            return text(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                metrics::render(&self.state),
            );
        }
        // Liveness: the process answers.
        if path == "/health" {
            return text(
                StatusCode::OK,
                "application/json",
                "{\"status\":\"ok\"}\n".into(),
            );
        }
        // Readiness: the metadata store answers a read (on the blocking pool).
        if path == "/ready" {
            let store = self.state.core.store.clone();
            let read = tokio::task::spawn_blocking(move || store.buckets().map(|b| b.len())).await;
            return match read {
                Ok(Ok(_)) => text(
                    StatusCode::OK,
                    "application/json",
                    "{\"status\":\"ready\"}\n".into(),
                ),
                Ok(Err(e)) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "application/json",
                    serde_json::json!({ "status": "unavailable", "reason": e.to_string() })
                        .to_string(),
                ),
                Err(_) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "application/json",
                    "{\"status\":\"unavailable\",\"reason\":\"the store read panicked\"}\n".into(),
                ),
            };
        }
        assets::serve(&path).unwrap_or_else(|| {
            text(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "not found\n".into(),
            )
        })
    }
}

impl Console {
    /// Whether the `Host` names this console: a loopback name or the bound address with the
    /// console's port. Behind a trusted proxy the proxy's `Host` is accepted.
    fn host_allowed(&self, headers: &http::HeaderMap, conn: &ConnInfo) -> bool {
        let trusted = self.state.core.access.trusted_proxies();
        if trusted.iter().any(|c| c.contains(conn.remote.ip())) {
            return true;
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let port = conn.local.port();
        let bound = self
            .state
            .core
            .endpoints
            .console
            .trim_start_matches("http://")
            .to_string();
        host == bound
            || [
                format!("localhost:{port}"),
                format!("127.0.0.1:{port}"),
                format!("[::1]:{port}"),
            ]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<s3s::Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(s3s::Body::from(body))
        .expect("valid")
}
