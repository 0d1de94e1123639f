//! The server shell: accepts connections within the limits, terminates TLS, makes the request
//! context, bounds what a request may send (headers, stalled bodies, POST form fields), runs
//! s3s, adds request ids and logs each request. Handlers never do any of this.
//!
//! # Layout
//! - [`limits`]: connection caps, the idle watchdog, the counters of every limit.
//! - [`body`]: request bodies with a progress timeout.
//! - [`post_form`]: the fields of browser POST uploads, read before s3s.
//! - [`resign`]: requests AWS accepts that s3s would refuse (an ignored Range, a path signed
//!   in another escaping), verified and signed again.
//! - [`errors`]: the S3 error responses the shell answers itself.

pub mod body;
pub mod errors;
pub mod limits;
pub mod post_form;
pub mod resign;

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use s3s::service::S3Service;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::task::TaskTracker;

use self::body::{BodyOutcome, GiveBack, PrefixedBody, TimedBody};
use self::limits::{ConnActivity, ConnLimiter, ShellStats};
use crate::config::Limits;
use crate::context::{ConnInfo, RequestContext, TlsInfo};

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// hyper's read buffer per HTTP/1.1 connection: bounds a request head (431 beyond it).
const MAX_BUF: usize = 64 * 1024;
/// The most of an unread body read (and dropped) after a refusal, so the client reads it.
const DRAIN_MAX: u64 = 16 * 1024 * 1024;

/// The per-connection timeouts of a listener.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Request headers (and HTTP/1.1 keep-alive idleness).
    pub header_read: Duration,
    /// No bytes moving and no request in progress.
    pub idle: Duration,
    /// A request body that stopped making progress.
    pub body: Duration,
}

impl From<&Limits> for Timeouts {
    fn from(l: &Limits) -> Self {
        Self {
            header_read: Duration::from_secs(l.header_read_timeout_secs),
            idle: Duration::from_secs(l.idle_timeout_secs),
            body: Duration::from_secs(l.body_timeout_secs),
        }
    }
}

/// One accepting listener and what it needs.
pub struct ListenerSetup {
    /// The bound socket.
    pub listener: TcpListener,
    /// TLS, or `None` for plain HTTP.
    pub tls: Option<TlsAcceptor>,
    /// Its connection caps.
    pub limiter: Arc<ConnLimiter>,
    /// Its timeouts.
    pub timeouts: Timeouts,
    /// The shared counters.
    pub stats: Arc<ShellStats>,
}

/// Accepts connections until `shutdown`, serving each with a service from `make_service`.
pub async fn accept_loop<F, S>(
    setup: ListenerSetup,
    mut shutdown: watch::Receiver<bool>,
    tracker: TaskTracker,
    make_service: F,
) where
    F: Fn(Arc<ConnInfo>, Arc<ConnActivity>) -> S + Send + Sync + 'static,
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<s3s::Body>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let ListenerSetup {
        listener,
        tls,
        limiter,
        timeouts,
        stats,
    } = setup;
    let make_service = Arc::new(make_service);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        // Over a cap: close at once, before any byte is read or any buffer allocated.
        let Ok(permit) = limiter.admit(remote.ip()) else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        let make_service = make_service.clone();
        let stats = stats.clone();
        tracker.spawn(async move {
            let _permit = permit;
            let local = tcp.local_addr().unwrap_or(remote);
            let activity = Arc::new(ConnActivity::default());
            let tcp = Tracked {
                inner: tcp,
                activity: activity.clone(),
            };
            let (io, tls) = match tls {
                None => (Either::Right(tcp), None),
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                ShellStats::bump(&stats.tls_handshake_failures);
                                tracing::debug!(%remote, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                ShellStats::bump(&stats.tls_handshake_failures);
                                tracing::debug!(%remote, "TLS handshake timed out");
                                return;
                            }
                        };
                    let info = tls_info(stream.get_ref().1);
                    (Either::Left(stream), Some(info))
                }
            };
            let conn = Arc::new(ConnInfo { remote, local, tls });
            let service = make_service(conn, activity.clone());
            serve_connection(
                TokioIo::new(io),
                service,
                shutdown,
                activity,
                timeouts,
                &stats,
            )
            .await;
        });
    }
}

/// What a TLS session negotiated, for the request context.
fn tls_info(session: &rustls::ServerConnection) -> TlsInfo {
    TlsInfo {
        version: session
            .protocol_version()
            .map_or_else(String::new, |v| match v {
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
                other => format!("{other:?}"),
            }),
        cipher: session
            .negotiated_cipher_suite()
            .map_or_else(String::new, |c| format!("{:?}", c.suite())),
        sni: session.server_name().map(str::to_string),
    }
}

/// The HTTP/1.1 and HTTP/2 settings every listener shares.
fn http_builder(timeouts: Timeouts) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .max_buf_size(MAX_BUF)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_header_list_size(u32::try_from(MAX_BUF).expect("small"))
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

async fn serve_connection<I, S>(
    io: I,
    service: S,
    mut shutdown: watch::Receiver<bool>,
    activity: Arc<ConnActivity>,
    timeouts: Timeouts,
    stats: &ShellStats,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<s3s::Body>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let builder = http_builder(timeouts);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    // Closes a connection on which nothing moves and nothing is in progress: before the
    // first request after `header_read` (the HTTP/2 preface has no timer of its own), later
    // after `idle`.
    let watchdog = async {
        while let Some(wait) = activity.idle_deadline(timeouts.header_read, timeouts.idle) {
            tokio::time::sleep(wait).await;
        }
    };
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                let timed_out = e
                    .downcast_ref::<hyper::Error>()
                    .is_some_and(hyper::Error::is_timeout);
                if timed_out {
                    ShellStats::bump(&stats.header_timeouts);
                }
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = watchdog => {
            ShellStats::bump(&stats.idle_closed);
            tracing::debug!("closing an idle connection");
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A socket that tells its connection's watchdog when bytes move.
struct Tracked<T> {
    inner: T,
    activity: Arc<ConnActivity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Runs s3s with the request context in place and adds what the shell owns to the response.
pub struct S3Shell {
    /// The S3 service.
    pub s3: S3Service,
    /// Request limits.
    pub limits: Limits,
    /// Counters.
    pub stats: Arc<ShellStats>,
    /// The access keys (to verify and re-sign what [`resign`] adjusts).
    pub keys: Arc<crate::keys::KeyStore>,
}

impl S3Shell {
    /// Handles one request of a connection.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        conn: Arc<ConnInfo>,
        activity: Arc<ConnActivity>,
    ) -> Response<s3s::Body> {
        let _in_flight = activity.request();
        let cx = RequestContext::new(conn);
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let mut resp = self.respond(req, &cx, activity).await;
        if let Ok(v) = HeaderValue::from_str(&cx.id) {
            resp.headers_mut().insert("x-amz-request-id", v.clone());
            resp.headers_mut().insert("x-amz-id-2", v);
        }
        let status = resp.status().as_u16();
        let ms = cx.started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(target: "leadshop::request", request_id = %cx.id, remote = %cx.conn.remote, %method, %path, status, ms);
        } else {
            tracing::info!(target: "leadshop::request", request_id = %cx.id, remote = %cx.conn.remote, %method, %path, status, ms);
        }
        resp
    }

    async fn respond(
        &self,
        req: Request<Incoming>,
        cx: &RequestContext,
        activity: Arc<ConnActivity>,
    ) -> Response<s3s::Body> {
        let (parts, incoming) = req.into_parts();
        // A client that asked `Expect: 100-continue` sends nothing until told to: nothing to
        // drain, and reading would only invite the body.
        let waits_to_send = parts
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let unread = Arc::new(std::sync::Mutex::new(None));
        let outcome = Arc::new(BodyOutcome::default());
        let body = TimedBody::new(
            GiveBack::new(incoming, unread.clone()),
            Duration::from_secs(self.limits.body_timeout_secs),
            outcome.clone(),
            activity,
            self.stats.clone(),
        );
        let resp = self.answer(parts, body, declared, cx, &outcome).await;
        // A request refused before its body was read: read (and drop) the rest of a small
        // body, so the client reads the refusal instead of a reset connection.
        let rest = unread.lock().ok().and_then(|mut slot| slot.take());
        if let Some(rest) = rest
            && resp.status().as_u16() >= 400
            && !outcome.timed_out()
            && !waits_to_send
            && declared.is_none_or(|n| n <= DRAIN_MAX)
        {
            body::drain(
                rest,
                DRAIN_MAX,
                Duration::from_secs(self.limits.body_timeout_secs),
            )
            .await;
        }
        resp
    }

    /// The response to a request, or the shell's own refusal of it; `declared` is its
    /// Content-Length.
    async fn answer(
        &self,
        mut parts: http::request::Parts,
        mut body: TimedBody<GiveBack<Incoming>>,
        declared: Option<u64>,
        cx: &RequestContext,
        outcome: &Arc<BodyOutcome>,
    ) -> Response<s3s::Body> {
        if header_bytes(&parts.headers) > self.limits.max_header_bytes {
            ShellStats::bump(&self.stats.header_too_large);
            if let Some(n) = self.stats.too_large_log.admit() {
                tracing::info!(target: "leadshop::limits", remote = %cx.conn.remote, refused_since_last_line = n, max_header_bytes = self.limits.max_header_bytes, "request refused: headers too large (RequestHeaderSectionTooLarge)");
            }
            return errors::s3_error(
                StatusCode::BAD_REQUEST,
                "RequestHeaderSectionTooLarge",
                &format!(
                    "Your request header section exceeds the maximum allowed size of {} bytes.",
                    self.limits.max_header_bytes
                ),
                &cx.id,
            );
        }
        let adjusted = resign::adjust(&mut parts, &self.keys);
        if adjusted != resign::Adjusted::default() {
            tracing::debug!(request_id = %cx.id, ?adjusted, "request adjusted for s3s");
        }
        // A configuration document or an XML request: bounded here, where the limit can
        // answer 400 MaxMessageLengthExceeded (s3s's own check answers 500 for a streamed body).
        if !is_upload(&parts) {
            let max = self.limits.max_xml_body_bytes as u64;
            if declared.is_some_and(|n| n > max) {
                self.log_too_large(cx, max);
                return too_large(max, &cx.id);
            }
            body = body.limited(max);
        }
        let body = match form_boundary(&parts.method, &parts.headers) {
            None => s3s::Body::http_body(body),
            Some(boundary) => {
                // Without a length s3s would buffer the whole file before authorising it.
                if declared.is_none() {
                    return errors::s3_error(
                        StatusCode::LENGTH_REQUIRED,
                        "MissingContentLength",
                        "You must provide the Content-Length HTTP header.",
                        &cx.id,
                    );
                }
                match post_form::read(&mut body, &boundary).await {
                    Ok((form, read)) => {
                        parts.extensions.insert(Arc::new(form));
                        s3s::Body::http_body(PrefixedBody::new(read, body))
                    }
                    Err(e) => {
                        if outcome.timed_out() {
                            self.log_body_timeout(cx);
                        }
                        return form_error(&e, &cx.id, outcome);
                    }
                }
            }
        };
        parts.extensions.insert(cx.clone());
        let req = Request::from_parts(parts, body);
        let resp = match self.s3.call(req).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(request_id = %cx.id, error = %e, "request failed inside the protocol layer");
                let mut r = Response::new(s3s::Body::empty());
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            }
        };
        // Whatever the layer reading the body made of its failure, the client stalled or sent
        // too much.
        if outcome.timed_out() {
            self.log_body_timeout(cx);
            return errors::request_timeout(&cx.id);
        }
        if outcome.too_large() {
            self.log_too_large(cx, self.limits.max_xml_body_bytes as u64);
            return too_large(self.limits.max_xml_body_bytes as u64, &cx.id);
        }
        resp
    }

    fn log_body_timeout(&self, cx: &RequestContext) {
        if let Some(n) = self.stats.body_timeout_log.admit() {
            tracing::info!(target: "leadshop::limits", remote = %cx.conn.remote, refused_since_last_line = n, body_timeout_secs = self.limits.body_timeout_secs, "request refused: its body stalled (RequestTimeout)");
        }
    }

    fn log_too_large(&self, cx: &RequestContext, max: u64) {
        if let Some(n) = self.stats.too_large_log.admit() {
            tracing::info!(target: "leadshop::limits", remote = %cx.conn.remote, refused_since_last_line = n, max_xml_body_bytes = max, "request refused: body too large (MaxMessageLengthExceeded)");
        }
    }
}

fn form_error(
    e: &post_form::FormError,
    request_id: &str,
    outcome: &BodyOutcome,
) -> Response<s3s::Body> {
    use post_form::FormError;
    if outcome.timed_out() {
        return errors::request_timeout(request_id);
    }
    let (code, message) = match e {
        FormError::TooLarge => (
            "MaxPostPreDataLengthExceeded",
            "Your POST request fields preceding the upload file were too large.",
        ),
        FormError::Malformed(_) => (
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data.",
        ),
        FormError::Body(_) => (
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ),
    };
    errors::s3_error(StatusCode::BAD_REQUEST, code, message, request_id)
}

fn too_large(max: u64, request_id: &str) -> Response<s3s::Body> {
    errors::s3_error(
        StatusCode::BAD_REQUEST,
        "MaxMessageLengthExceeded",
        &format!("Your request was too big: this request body may be at most {max} bytes."),
        request_id,
    )
}

/// Whether a request's body is object data (PutObject, UploadPart, a POST form), bounded by
/// `max_put_size`, rather than a document bounded by `max_xml_body_bytes`. Every operation
/// with a document names a subresource in its query (`?tagging`, `?delete`, `?uploadId` to
/// complete, …); object data goes to a key with no query, or with `partNumber` and `uploadId`.
fn is_upload(parts: &http::request::Parts) -> bool {
    const NOT_SUBRESOURCES: [&str; 3] = ["partNumber", "uploadId", "x-id"];
    if parts.method == Method::POST {
        return form_boundary(&parts.method, &parts.headers).is_some();
    }
    if parts.method != Method::PUT {
        return false;
    }
    let names_key = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split_once('/')
        .is_some_and(|(_, key)| !key.is_empty());
    let query = parts.uri.query().unwrap_or_default();
    let mut has_part_number = false;
    let mut subresource = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        if name == "partNumber" {
            has_part_number = true;
        }
        // Presigned URL parameters are not subresources.
        let auth = name.starts_with("X-Amz-")
            || matches!(name, "AWSAccessKeyId" | "Signature" | "Expires");
        if !auth && !NOT_SUBRESOURCES.contains(&name) {
            subresource = true;
        }
    }
    names_key && (!subresource || has_part_number)
}

/// The boundary of a `multipart/form-data` POST (a browser upload).
fn form_boundary(method: &Method, headers: &http::HeaderMap) -> Option<String> {
    if method != Method::POST {
        return None;
    }
    // As s3s reads it: one Content-Type header, parsed by the same `mime` crate.
    let mut all = headers.get_all(header::CONTENT_TYPE).iter();
    let ct = all.next()?.to_str().ok()?;
    if all.next().is_some() {
        return None;
    }
    let mime: mime::Mime = ct.parse().ok()?;
    (mime.type_() == mime::MULTIPART && mime.subtype() == mime::FORM_DATA)
        .then(|| {
            mime.get_param(mime::BOUNDARY)
                .map(|b| b.as_str().to_string())
        })
        .flatten()
}

/// The size of a request's headers as S3 counts them against its 8 KB limit (the cookies a
/// browser sends to `localhost` for other ports are not ours to refuse).
fn header_bytes(headers: &http::HeaderMap) -> usize {
    headers
        .iter()
        .filter(|(k, _)| *k != header::COOKIE)
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}
