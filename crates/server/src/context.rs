//! The request context: made once per request by the server shell, before s3s sees the
//! request, and carried in the request extensions. Policy evaluation (aws:SecureTransport,
//! aws:SourceIp), access logs and metrics read it; handlers never build their own.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
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
    /// A request the console forwards for a browser on this machine (its peer is a loopback
    /// address): nothing crossed a network in the clear, so it counts as secure transport.
    pub loopback_console: bool,
    /// What the client's address holds across its connections (requests, response buffers).
    pub client: Arc<crate::clients::Client>,
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

/// What later stages learn about a request, for its [`RequestRecord`](crate::events::RequestRecord):
/// the access hook fills it once the operation and the caller are known.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    /// The S3 operation.
    pub operation: Option<leadshop_spec::Operation>,
    /// The bucket named.
    pub bucket: Option<String>,
    /// The key named.
    pub key: Option<String>,
    /// The caller's ARN, when authenticated.
    pub principal: Option<String>,
    /// The access key id the request was signed with.
    pub access_key_id: Option<String>,
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
    /// Filled in as the request goes through s3s (shared by every clone).
    pub facts: Arc<Mutex<RequestFacts>>,
}

impl RequestContext {
    /// A context with a fresh request id.
    #[must_use]
    pub fn new(conn: Arc<ConnInfo>) -> Self {
        Self {
            id: format!("{:016X}", rand::random::<u64>()),
            started: Instant::now(),
            conn,
            facts: Arc::default(),
        }
    }

    /// Records what the access hook learnt about the request.
    pub fn learn(&self, f: impl FnOnce(&mut RequestFacts)) {
        if let Ok(mut facts) = self.facts.lock() {
            f(&mut facts);
        }
    }

    /// What has been learnt so far.
    #[must_use]
    pub fn facts(&self) -> RequestFacts {
        self.facts.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Whether the request came over TLS, or from the console for a browser on this machine
    /// (aws:SecureTransport).
    #[must_use]
    pub fn secure_transport(&self) -> bool {
        self.conn.tls.is_some() || self.conn.loopback_console
    }
}

/// A status a handler answers with that s3s's serializer does not set (it ignores
/// `S3Response::status` for generated operations): left in the response extensions, applied
/// by the shell. RestoreObject's 202 Accepted uses it.
#[derive(Debug, Clone, Copy)]
pub struct StatusOverride(pub http::StatusCode);
