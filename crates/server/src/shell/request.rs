//! One request through the shell: the request context, the limits on what it may send, the
//! POST form read first, the re-signing of what s3s would refuse, s3s itself, and the request
//! id and log line around it.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use s3s::service::S3Service;

use super::activity::ConnActivity;
use super::body::{self, BodyOutcome, GiveBack, PrefixedBody, TimedBody};
use super::limits::ShellStats;
use super::record::{self, RecordedBody};
use super::{cors, errors, post_form, post_policy, resign, target};
use crate::config::Limits;
use crate::context::{ConnInfo, RequestContext};
use crate::events::Events;
use leadshop_store::SharedClock;

/// The most of an unread body read (and dropped) after a refusal, so the client reads it.
const DRAIN_MAX: u64 = 16 * 1024 * 1024;

/// Runs s3s with the request context in place and adds what the shell owns to the response.
pub struct S3Shell {
    /// The S3 service.
    pub s3: S3Service,
    /// Request limits.
    pub limits: Limits,
    /// Counters.
    pub stats: Arc<ShellStats>,
    /// The access keys (to verify and re-sign what [`resign`] adjusts).
    pub keys: Arc<leadshop_keys::KeyStore>,
    /// Where each request's record goes.
    pub events: Arc<Events>,
    /// The time of each record.
    pub clock: SharedClock,
    /// Bucket configurations (their CORS rules).
    pub configs: Arc<crate::bucket_config::BucketConfigs>,
    /// The virtual-hosting domain (`<bucket>.<base_domain>`).
    pub base_domain: String,
    /// CloudWatch's reads, for requests signed for the `monitoring` service.
    pub monitoring: Arc<crate::monitoring::Monitoring>,
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
        let body_progress = activity.body();
        let cx = RequestContext::new(conn);
        // One more request of this address, over all its connections and streams.
        let slot = cx.conn.client.admit_request();
        let (parts, incoming) = req.into_parts();
        let method = parts.method.clone();
        let path = parts.uri.path().to_string();
        let mut rec = record::begin(&parts, &cx, self.clock.now_ms());
        let outcome = Arc::new(BodyOutcome::default());
        let origin = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let target = target::of(&parts, &self.base_domain);
        let mut resp = if slot.is_none() {
            self.slow_down(&cx, parts.version, false)
        } else if let Some((protocol, op)) = crate::monitoring::protocol::detect(&parts) {
            self.monitoring(protocol, op, parts, incoming, &cx).await
        } else if method == Method::OPTIONS {
            // A preflight carries no credentials and gets no access check, as on AWS.
            cors::preflight(
                &self.configs,
                target.bucket.as_deref(),
                &parts.headers,
                &cx.id,
            )
            .await
        } else {
            let mut resp = self
                .respond(parts, incoming, &cx, activity, outcome.clone(), &target)
                .await;
            if let (Some(origin), Some(bucket)) = (&origin, &target.bucket) {
                cors::decorate(&self.configs, &mut resp, bucket, origin, &method).await;
            }
            resp
        };
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
        record::complete(&mut rec, &cx, &resp, outcome.bytes_read());
        // Refused before s3s named them (a bad signature), or a preflight: what the path names.
        if rec.bucket.is_none() {
            rec.bucket = target.bucket;
            if rec.key.is_none() {
                rec.key = target.key;
            }
        }
        // A streamed body (an object's data) of a bucket whose access is logged: its log line
        // is spooled before the first byte goes out, so a crash during the transfer still
        // leaves one (the finished line replaces it).
        let started = if resp.body().bytes().is_none() && self.logged(rec.bucket.as_deref()).await {
            self.events.publish_started(&rec)
        } else {
            Vec::new()
        };
        let events = self.events.clone();
        resp.map(|body| {
            s3s::Body::http_body(
                RecordedBody::new(body, rec, cx.started, events)
                    .tracking(body_progress, slot)
                    .after(started),
            )
        })
    }

    /// Whether requests to `bucket` are access-logged (its configuration is cached).
    async fn logged(&self, bucket: Option<&str>) -> bool {
        match bucket {
            Some(b) => self
                .configs
                .load(b)
                .await
                .is_some_and(|c| c.logging.is_some()),
            None => false,
        }
    }

    /// 503 SlowDown: the client's address holds `max_requests_per_ip` requests in progress,
    /// or (`documents`) its share of buffered request documents (SDKs retry it with backoff).
    ///
    /// Over HTTP/2 the answer has no body: a DATA frame needs the client's flow-control
    /// window, and a client that opened streams with a window of 0 would keep each refused
    /// stream open; HEADERS alone end it at once. (SDKs retry a 503 by its status.)
    fn slow_down(
        &self,
        cx: &RequestContext,
        version: http::Version,
        documents: bool,
    ) -> Response<s3s::Body> {
        if documents {
            ShellStats::bump(&self.stats.refused_document_budget);
        } else {
            ShellStats::bump(&self.stats.refused_requests_per_ip);
        }
        if let Some(n) = self.stats.slow_down_log.admit() {
            let why = if documents {
                "the address holds its share of buffered request documents"
            } else {
                "the address holds max_requests_per_ip requests in progress"
            };
            tracing::warn!(target: "leadshop::limits", remote = %cx.conn.remote, refused_since_last_line = n, "request refused: {why} (SlowDown)");
        }
        let mut resp = errors::s3_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
            &cx.id,
        );
        if version == http::Version::HTTP_2 {
            *resp.body_mut() = s3s::Body::empty();
            resp.headers_mut().remove(header::CONNECTION);
        }
        resp
    }

    /// A CloudWatch request: its body read (bounded in size and time), then answered.
    async fn monitoring(
        &self,
        protocol: crate::monitoring::protocol::Protocol,
        operation: Option<String>,
        parts: http::request::Parts,
        incoming: Incoming,
        cx: &RequestContext,
    ) -> Response<s3s::Body> {
        use http_body_util::BodyExt as _;
        let read = http_body_util::Limited::new(incoming, crate::monitoring::MAX_BODY).collect();
        let body =
            match tokio::time::timeout(Duration::from_secs(self.limits.body_timeout_secs), read)
                .await
            {
                Ok(Ok(b)) => b.to_bytes(),
                Ok(Err(_)) | Err(_) => {
                    let e = leadshop_spec::Refusal::new(
                        leadshop_spec::ErrorCode::RequestEntityTooLarge,
                        "The request body is too large or was not sent in time.",
                    );
                    return crate::monitoring::protocol::error(protocol, &e, &cx.id);
                }
            };
        self.monitoring
            .handle(
                protocol,
                operation,
                &parts,
                body,
                cx.conn.tls.is_some(),
                &cx.id,
            )
            .await
    }

    async fn respond(
        &self,
        parts: http::request::Parts,
        incoming: Incoming,
        cx: &RequestContext,
        activity: Arc<ConnActivity>,
        outcome: Arc<BodyOutcome>,
        target: &target::Target,
    ) -> Response<s3s::Body> {
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
        let body = TimedBody::new(
            GiveBack::new(incoming, unread.clone()),
            Duration::from_secs(self.limits.body_timeout_secs),
            outcome.clone(),
            activity,
            self.stats.clone(),
        );
        let resp = self
            .answer(parts, body, declared, cx, &outcome, target)
            .await;
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
        target: &target::Target,
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
        if resign::sigv2_bucket_path(&mut parts, target.bucket.as_deref(), target.names_key) {
            tracing::debug!(request_id = %cx.id, "SigV2 bucket path given its trailing slash");
        }
        let adjusted = resign::adjust(&mut parts, &self.keys);
        if adjusted != resign::Adjusted::default() {
            tracing::debug!(request_id = %cx.id, ?adjusted, "request adjusted for s3s");
        }
        // A SigV4 header without a time the signature covers (`x-amz-date`, or a signed `Date`
        // the re-signing above turned into one): AWS's refusal, not s3s's 400.
        if !parts.headers.contains_key("x-amz-date")
            && parts
                .headers
                .get(header::AUTHORIZATION)
                .is_some_and(|v| v.as_bytes().starts_with(b"AWS4-HMAC-SHA256"))
        {
            // A signed Date that did not verify is a wrong signature.
            let (code, message) = if resign::signs_date_instead_of_amz_date(&parts.headers) {
                (
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                )
            } else {
                (
                    "AccessDenied",
                    "AWS authentication requires a valid Date or x-amz-date header",
                )
            };
            return errors::s3_error(StatusCode::FORBIDDEN, code, message, &cx.id);
        }
        // A configuration document or an XML request: bounded here, where the limit can
        // answer 400 MaxMessageLengthExceeded (s3s's own check answers 500 for a streamed body).
        let document_max = document_limit(&parts).unwrap_or(self.limits.max_xml_body_bytes) as u64;
        // The document budget this request's body holds until it is answered.
        let documents = Arc::new(std::sync::Mutex::new(Vec::new()));
        if !is_upload(&parts, target) {
            let max = document_max;
            if declared.is_some_and(|n| n > max) {
                self.log_too_large(cx, max);
                return too_large(max, &cx.id);
            }
            // Buffered whole before it is parsed: counted against its address's share.
            body = body
                .limited(max)
                .held((cx.conn.client.document_budget(), documents.clone()));
        }
        let mut upload_form = None;
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
                        let bucket = target.bucket.as_deref().unwrap_or_default();
                        if let Err(r) = post_policy::check(&form, bucket, self.clock.now_secs()) {
                            return errors::refused(&r, &cx.id);
                        }
                        let form = Arc::new(form);
                        upload_form = Some(form.clone());
                        parts.extensions.insert(form);
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
        let mut resp = match self.s3.call(req).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(request_id = %cx.id, error = %e, "request failed inside the protocol layer");
                let mut r = Response::new(s3s::Body::empty());
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            }
        };
        if let Some(o) = resp
            .extensions()
            .get::<crate::context::StatusOverride>()
            .copied()
        {
            *resp.status_mut() = o.0;
        }
        // Whatever the layer reading the body made of its failure, the client stalled or sent
        // too much.
        if outcome.timed_out() {
            self.log_body_timeout(cx);
            return errors::request_timeout(&cx.id);
        }
        if outcome.too_large() {
            self.log_too_large(cx, document_max);
            return too_large(document_max, &cx.id);
        }
        if outcome.over_budget() {
            return self.slow_down(cx, http::Version::HTTP_11, true);
        }
        drop(documents);
        match (upload_form, &target.bucket) {
            (Some(form), Some(bucket)) => post_policy::finish(resp, &form, bucket, &cx.id).await,
            _ => resp,
        }
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
fn is_upload(parts: &http::request::Parts, target: &target::Target) -> bool {
    const NOT_SUBRESOURCES: [&str; 3] = ["partNumber", "uploadId", "x-id"];
    if parts.method == Method::POST {
        return form_boundary(&parts.method, &parts.headers).is_some();
    }
    if parts.method != Method::PUT {
        return false;
    }
    let names_key = target.names_key;
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

/// AWS's own limit on a configuration document, where it is smaller than the XML limit: a
/// CORS configuration is at most 64 KB (PutBucketCors).
fn document_limit(parts: &http::request::Parts) -> Option<usize> {
    const CORS_MAX: usize = 64 * 1024;
    let query = parts.uri.query().unwrap_or_default();
    let names_cors = query
        .split('&')
        .any(|p| p.split('=').next() == Some("cors"));
    (parts.method == Method::PUT && names_cors).then_some(CORS_MAX)
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
