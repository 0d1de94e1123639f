//! The request record of each S3 request: begun when the request arrives, completed from the
//! response, and published (to [`Events`]) when the last byte of the body has gone out or the
//! client went away.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method, header};
use http_body::{Body, Frame, SizeHint};
use leadshop_spec::Operation;

use crate::context::RequestContext;
use crate::events::{Events, RequestRecord};

use super::activity::BodyProgress;
use crate::clients::RequestSlot;

fn header_str(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A header a client may fill with any bytes (`User-Agent`, `Referer`), as text: bytes
/// outside printable ASCII percent-encoded, as AWS logs them (not dropped).
fn header_text(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<String> {
    headers.get(name).map(|v| {
        percent_encoding::percent_encode(v.as_bytes(), percent_encoding::CONTROLS).to_string()
    })
}

/// What the request itself tells, read before it is consumed.
#[must_use]
pub fn begin(parts: &http::request::Parts, cx: &RequestContext, time_ms: i64) -> RequestRecord {
    let h = &parts.headers;
    let query = parts.uri.query().unwrap_or_default();
    let has = |name: &str| query.split('&').any(|p| p.split('=').next() == Some(name));
    let auth = header_str(h, header::AUTHORIZATION).unwrap_or_default();
    let (signature_version, auth_type) = if auth.starts_with("AWS4-") {
        (Some("SigV4"), Some("AuthHeader"))
    } else if auth.starts_with("AWS ") {
        (Some("SigV2"), Some("AuthHeader"))
    } else if has("X-Amz-Algorithm") {
        (Some("SigV4"), Some("QueryString"))
    } else if has("Signature") && has("AWSAccessKeyId") {
        (Some("SigV2"), Some("QueryString"))
    } else {
        (None, None)
    };
    let tls = cx.conn.tls.as_ref();
    RequestRecord {
        request_id: cx.id.clone(),
        time_ms,
        method: parts.method.clone(),
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.to_string(), ToString::to_string),
        http_version: match parts.version {
            http::Version::HTTP_09 => "HTTP/0.9",
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2.0",
            http::Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/1.1",
        },
        remote_ip: Some(cx.conn.remote.ip()),
        user_agent: header_text(h, header::USER_AGENT),
        referer: header_text(h, header::REFERER),
        signature_version,
        auth_type,
        tls_version: tls.map(|t| t.version.clone()),
        tls_cipher: tls.map(|t| t.cipher.clone()),
        // HTTP/2 carries the host as the URI's authority.
        host: header_str(h, header::HOST)
            .or_else(|| parts.uri.authority().map(ToString::to_string)),
        // An upload's object size is what the client declared (decoded from aws-chunked).
        object_size: header_str(h, "x-amz-decoded-content-length")
            .or_else(|| header_str(h, header::CONTENT_LENGTH))
            .and_then(|v| v.parse().ok()),
        ..RequestRecord::default()
    }
}

/// Completes a record from the response and what the access hook learnt.
pub fn complete(
    rec: &mut RequestRecord,
    cx: &RequestContext,
    resp: &http::Response<s3s::Body>,
    bytes_in: u64,
) {
    let facts = cx.facts();
    rec.operation = facts.operation;
    rec.bucket = facts.bucket;
    rec.key = facts.key;
    rec.principal = facts.principal;
    rec.access_key_id = facts.access_key_id;
    if rec.auth_type.is_none() && facts.operation == Some(Operation::PostObject) {
        rec.auth_type = Some("POST");
    }
    rec.status = resp.status().as_u16();
    rec.bytes_in = bytes_in;
    rec.first_byte_time = cx.started.elapsed();
    let h = resp.headers();
    rec.version_id = header_str(h, "x-amz-version-id");
    let uploads = facts
        .operation
        .is_some_and(|o| o.describe().body == leadshop_spec::operations::Body::Data);
    if !uploads {
        // A read names the whole object's size: Content-Range's total, else Content-Length.
        let reads = matches!(
            facts.operation,
            Some(Operation::GetObject | Operation::HeadObject)
        ) && resp.status().is_success();
        rec.object_size = reads
            .then(|| {
                header_str(h, header::CONTENT_RANGE)
                    .and_then(|r| r.rsplit('/').next()?.parse().ok())
                    .or_else(|| header_str(h, header::CONTENT_LENGTH)?.parse().ok())
            })
            .flatten();
    } else if rec.status >= 300 {
        rec.object_size = None;
    }
    if rec.status >= 400 {
        rec.error_code = error_code(resp, &rec.method);
    }
}

/// The S3 error code of an error response: its XML `<Code>`, or for HEAD (which has no body)
/// the code its status stands for.
fn error_code(resp: &http::Response<s3s::Body>, method: &Method) -> Option<String> {
    if let Some(body) = resp.body().bytes() {
        let text = std::str::from_utf8(&body).ok()?;
        let start = text.find("<Code>")? + "<Code>".len();
        let end = start + text[start..].find("</Code>")?;
        return Some(text[start..end].to_string());
    }
    (method == Method::HEAD).then(|| {
        match resp.status().as_u16() {
            400 => "BadRequest",
            403 => "AccessDenied",
            404 => "NotFound",
            412 => "PreconditionFailed",
            _ => "Error",
        }
        .to_string()
    })
}

/// A response body that publishes its request's record when it has been sent, or dropped
/// unsent (the client went away).
pub struct RecordedBody {
    inner: s3s::Body,
    sent: u64,
    pending: Option<(RequestRecord, std::time::Instant, Arc<Events>)>,
    /// Tells the connection's watchdog whether this body waits on the client.
    progress: Option<BodyProgress>,
    /// The request's place among its address's requests in progress, until the body ends.
    slot: Option<RequestSlot>,
    /// Subscribers handling the response's start (its provisional access-log line): the
    /// first byte waits for them.
    started: Vec<tokio::sync::oneshot::Receiver<()>>,
    /// What is left of a chunk handed out piece by piece.
    rest: Option<Bytes>,
}

/// The most of a chunk handed to the connection at a time: the watchdog sees a response move
/// on every this many bytes, so a client reading slowly but steadily (down to about 1 KiB/s
/// against the 60 s idle timeout) never looks stalled.
const PIECE: usize = 64 * 1024;

impl RecordedBody {
    /// Wraps `inner`; the record is published once, at the end.
    #[must_use]
    pub fn new(
        inner: s3s::Body,
        record: RequestRecord,
        started: std::time::Instant,
        events: Arc<Events>,
    ) -> Self {
        Self {
            inner,
            sent: 0,
            pending: Some((record, started, events)),
            progress: None,
            slot: None,
            started: Vec::new(),
            rest: None,
        }
    }

    /// Hands out at most [`PIECE`] bytes of `data`, keeping the rest for the next poll.
    fn piece(&mut self, mut data: Bytes) -> Frame<Bytes> {
        if data.len() > PIECE {
            self.rest = Some(data.split_off(PIECE));
        }
        self.sent += data.len() as u64;
        if let Some(p) = &mut self.progress {
            p.handed_out();
        }
        Frame::data(data)
    }

    /// The first byte waits until these complete.
    #[must_use]
    pub fn after(mut self, started: Vec<tokio::sync::oneshot::Receiver<()>>) -> Self {
        self.started = started;
        self
    }

    /// Reports progress to the connection and holds the request's place until it ends.
    #[must_use]
    pub fn tracking(mut self, progress: BodyProgress, slot: Option<RequestSlot>) -> Self {
        self.progress = Some(progress);
        self.slot = slot;
        self
    }

    fn finish(&mut self) {
        self.progress = None;
        self.slot = None;
        if let Some((mut rec, started, events)) = self.pending.take() {
            rec.bytes_out = self.sent;
            rec.total_time = started.elapsed();
            events.publish(rec);
        }
    }
}

impl Drop for RecordedBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Body for RecordedBody {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(p) = &mut self.progress {
            p.came_back();
        }
        // Done or given up (a dropped sender), either way the response goes on.
        while let Some(wait) = self.started.last_mut() {
            futures::ready!(Pin::new(wait).poll(cx)).ok();
            self.started.pop();
        }
        if let Some(rest) = self.rest.take() {
            return Poll::Ready(Some(Ok(self.piece(rest))));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => Poll::Ready(Some(Ok(self.piece(data)))),
                // Trailers.
                Err(frame) => {
                    if let Some(p) = &mut self.progress {
                        p.handed_out();
                    }
                    Poll::Ready(Some(Ok(frame)))
                }
            },
            Poll::Ready(None) => {
                self.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                self.finish();
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_with_any_bytes_is_logged_percent_encoded() {
        let mut h = HeaderMap::new();
        h.insert(
            header::USER_AGENT,
            http::HeaderValue::from_bytes(b"curl/8 caf\xe9 \"x\"").unwrap(),
        );
        assert_eq!(
            header_text(&h, header::USER_AGENT).as_deref(),
            Some("curl/8 caf%E9 \"x\"")
        );
        assert_eq!(header_text(&h, header::REFERER), None);
    }
}
