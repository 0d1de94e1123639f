//! The request context: made once per request by the server shell, before s3s sees the
//! request, and carried in the request extensions. Policy evaluation (aws:SecureTransport,
//! aws:SourceIp), access logs and metrics read it; handlers never build their own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// What the connection tells about a request.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Peer address.
    pub remote: SocketAddr,
    /// Our address the peer connected to.
    pub local: SocketAddr,
    /// TLS parameters, or `None` on the plain-HTTP listener.
    pub tls: Option<TlsInfo>,
}

/// The negotiated TLS parameters of a connection.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    /// e.g. `TLSv1.3`.
    pub version: String,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// Server name the client asked for.
    pub sni: Option<String>,
}

/// One request's context.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Request id returned as `x-amz-request-id`.
    pub id: String,
    /// When the request arrived.
    pub started: Instant,
    /// The connection it came on.
    pub conn: Arc<ConnInfo>,
}

impl RequestContext {
    /// A context with a fresh request id.
    #[must_use]
    pub fn new(conn: Arc<ConnInfo>) -> Self {
        Self {
            id: format!("{:016X}", rand::random::<u64>()),
            started: Instant::now(),
            conn,
        }
    }

    /// Whether the request came over TLS (aws:SecureTransport).
    #[must_use]
    pub fn secure_transport(&self) -> bool {
        self.conn.tls.is_some()
    }
}
