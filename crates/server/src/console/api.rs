//! The console's JSON API: sign in and out, what the signed-in key may change in a bucket,
//! and the POST forms and presigned GETs the page uploads and downloads with.
//!
//! - Only the console's own pages may call it: a request whose `Origin` is another site is
//!   refused, and every call but reading or starting a session must echo the session's CSRF
//!   token in `X-CSRF-Token`.
//! - Signing in sends a secret, so it is accepted only where nothing crosses a network in the
//!   clear: from this machine, or through a trusted proxy that says it terminated HTTPS.
//! - A wrong key or secret is answered after a pause, and the same way for both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use leadshop_keys::Identity;
use leadshop_spec::Operation;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Console;
use super::session::{self, COOKIE, LIFETIME, Session};
use super::sign::Signer;
use crate::context::{ConnInfo, RequestContext};

/// The largest JSON body the API reads.
const MAX_BODY: usize = 64 * 1024;
/// How long a failed sign-in waits before answering.
const FAILED_SIGN_IN_PAUSE: Duration = Duration::from_millis(400);
/// How long the POST forms and presigned GETs the console hands out stay valid.
const URL_LIFETIME_SECS: u32 = 900;

fn json_response(status: StatusCode, body: &Value) -> Response<s3s::Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(s3s::Body::from(body.to_string()))
        .expect("valid")
}

pub(super) fn error(status: StatusCode, message: &str) -> Response<s3s::Body> {
    json_response(status, &json!({ "error": message }))
}

/// A refused console request: its status and the message the page shows.
#[derive(Debug)]
pub(super) struct Refused(StatusCode, String);

impl Refused {
    fn new(status: StatusCode, message: &str) -> Self {
        Self(status, message.to_string())
    }

    /// The JSON answer.
    pub(super) fn response(&self) -> Response<s3s::Body> {
        error(self.0, &self.1)
    }
}

/// Whether a request comes from the console's own page (or from no page at all, e.g. curl):
/// a browser names the page's origin in `Origin` and `Sec-Fetch-Site`.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match (get("origin"), get("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin == format!("http://{host}"),
        (Some(_), None) => false,
    }
}

/// The session a request's cookie names, with its key, if the request also carries the
/// session's CSRF token (when `csrf` is asked for).
pub(super) fn session_of(
    console: &Console,
    headers: &HeaderMap,
    csrf: bool,
) -> Result<(Session, Arc<Identity>), Refused> {
    let unauthenticated = || Refused::new(StatusCode::UNAUTHORIZED, "Sign in first.");
    let token = session::cookie_token(headers).ok_or_else(unauthenticated)?;
    let s = console
        .sessions
        .get(token, Instant::now())
        .ok_or_else(unauthenticated)?;
    if csrf {
        let sent = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !session::same_token(sent, &s.csrf) {
            return Err(Refused::new(
                StatusCode::FORBIDDEN,
                "The request lacks the session's CSRF token.",
            ));
        }
    }
    // The key may have been rotated or deleted since: then the session is over.
    let identity = console
        .state
        .core
        .keys
        .by_id(&s.access_key_id)
        .ok_or_else(unauthenticated)?;
    Ok((s, identity))
}

/// The connection as the access check sees a request the console forwards.
pub(super) fn forwarded_conn(conn: &ConnInfo) -> Arc<ConnInfo> {
    Arc::new(ConnInfo {
        remote: conn.remote,
        local: conn.local,
        tls: None,
        loopback_console: conn.remote.ip().is_loopback(),
        client: conn.client.clone(),
    })
}

async fn read_json<T: for<'de> Deserialize<'de>>(req: Request<Incoming>) -> Result<T, Refused> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // A form could be posted from any site without a preflight; JSON cannot.
    if !is_json {
        return Err(Refused::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send application/json.",
        ));
    }
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| {
            Refused::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is too large.",
            )
        })?
        .to_bytes();
    serde_json::from_slice(&body)
        .map_err(|e| Refused(StatusCode::BAD_REQUEST, format!("Malformed request: {e}")))
}

fn session_json(console: &Console, s: &Session, identity: &Identity) -> Value {
    json!({
        "accessKeyId": s.access_key_id,
        "user": identity.name,
        "csrf": s.csrf,
        "expiresIn": s.expires.saturating_duration_since(Instant::now()).as_secs(),
        "s3Endpoint": console.state.core.endpoints.s3,
        "region": console.state.core.config.region,
        "maxUploadBytes": console.state.core.config.max_put_size,
        // Where a key that may not list buckets can still go.
        "policyBuckets": identity.policy.named_buckets(),
    })
}

/// Answers one `/api/…` request.
pub(super) async fn handle(
    console: &Console,
    req: Request<Incoming>,
    conn: &ConnInfo,
) -> Response<s3s::Body> {
    if !same_origin(req.headers()) {
        return error(
            StatusCode::FORBIDDEN,
            "Cross-site requests to the console are refused.",
        );
    }
    let method = req.method().clone();
    match (method, req.uri().path()) {
        (Method::GET, "/api/session") => match session_of(console, req.headers(), false) {
            Ok((s, identity)) => {
                json_response(StatusCode::OK, &session_json(console, &s, &identity))
            }
            Err(r) => r.response(),
        },
        (Method::POST, "/api/session") => sign_in(console, req, conn).await,
        (Method::DELETE, "/api/session") => {
            if let Err(r) = session_of(console, req.headers(), true) {
                return r.response();
            }
            if let Some(token) = session::cookie_token(req.headers()) {
                console.sessions.end(token);
            }
            let mut resp = json_response(StatusCode::OK, &json!({}));
            resp.headers_mut().insert(
                header::SET_COOKIE,
                format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
                    .parse()
                    .expect("ascii"),
            );
            resp
        }
        (Method::GET, "/api/permissions") => permissions(console, &req, conn).await,
        (Method::POST, "/api/upload-form") => upload_form(console, req).await,
        (Method::POST, "/api/download-url") => download_url(console, req).await,
        (Method::GET, "/api/dashboard") => dashboard(console, &req, conn).await,
        (Method::GET, "/api/replication") => replication(console, &req, conn).await,
        _ => error(StatusCode::NOT_FOUND, "No such console API."),
    }
}

async fn dashboard(
    console: &Console,
    req: &Request<Incoming>,
    conn: &ConnInfo,
) -> Response<s3s::Body> {
    let (_, identity) = match session_of(console, req.headers(), false) {
        Ok(x) => x,
        Err(r) => return r.response(),
    };
    let secure = forwarded_conn(conn).tls.is_some() || conn.remote.ip().is_loopback();
    if let Err(e) = crate::monitoring::authorize(
        &console.state.core.config.account_id,
        &identity,
        "GetMetricData",
        secure,
    ) {
        return error(StatusCode::FORBIDDEN, &e.message);
    }
    let state = console.state.clone();
    match tokio::task::spawn_blocking(move || super::dashboard::data(&state)).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The dashboard could not be read.",
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignIn {
    access_key_id: String,
    secret_access_key: String,
}

async fn sign_in(
    console: &Console,
    req: Request<Incoming>,
    conn: &ConnInfo,
) -> Response<s3s::Body> {
    let rc = RequestContext::new(forwarded_conn(conn));
    let trusted = console.state.core.access.trusted_proxies();
    let (secure, _) = crate::access::conditions::transport(Some(&rc), req.headers(), trusted);
    // Behind a trusted proxy that terminated HTTPS the browser speaks HTTPS: the cookie may
    // then travel only over HTTPS. Straight from loopback it is plain HTTP, which `Secure`
    // would forbid.
    let https_proxy = trusted.iter().any(|c| c.contains(conn.remote.ip()))
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    if !secure {
        return error(
            StatusCode::FORBIDDEN,
            "Signing in sends a secret: use the console from this machine (http://127.0.0.1), or through a trusted proxy that terminates HTTPS.",
        );
    }
    let form: SignIn = match read_json(req).await {
        Ok(f) => f,
        Err(r) => return r.response(),
    };
    let key_id = form.access_key_id.trim();
    let ip = conn.remote.ip();
    // Guessing backs off per address and per key, before the secret is even compared.
    let wait = console.throttle.wait(ip, key_id, Instant::now());
    if !wait.is_zero() {
        let mut resp = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins: wait before trying again.",
        );
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            wait.as_secs().max(1).to_string().parse().expect("digits"),
        );
        return resp;
    }
    let identity = console
        .state
        .core
        .keys
        .by_id(key_id)
        .filter(|i| session::same_token(&i.secret_access_key, &form.secret_access_key));
    let Some(identity) = identity else {
        console.throttle.failed(ip, key_id, Instant::now());
        if let Some(n) = console.refused_log.admit() {
            tracing::info!(target: "leadshop::console", remote = %conn.remote, refused_since_last_line = n, "console sign-in refused");
        }
        tokio::time::sleep(FAILED_SIGN_IN_PAUSE).await;
        return error(
            StatusCode::UNAUTHORIZED,
            "The access key id or the secret access key is wrong.",
        );
    };
    console.throttle.succeeded(ip, key_id);
    let (cookie, s) = console
        .sessions
        .start(&identity.access_key_id, Instant::now());
    tracing::info!(target: "leadshop::console", remote = %conn.remote, user = %identity.name, "console sign-in");
    let mut resp = json_response(StatusCode::OK, &session_json(console, &s, &identity));
    resp.headers_mut().insert(
        header::SET_COOKIE,
        format!(
            "{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            LIFETIME.as_secs(),
            if https_proxy { "; Secure" } else { "" }
        )
        .parse()
        .expect("ascii"),
    );
    resp
}

/// The bucket settings the signed-in key may change, evaluated by the same policies that
/// will decide the requests.
async fn permissions(
    console: &Console,
    req: &Request<Incoming>,
    conn: &ConnInfo,
) -> Response<s3s::Body> {
    let (_, identity) = match session_of(console, req.headers(), true) {
        Ok(x) => x,
        Err(r) => return r.response(),
    };
    let Some(bucket) = bucket_param(req) else {
        return error(StatusCode::BAD_REQUEST, "Name a bucket.");
    };
    let rc = RequestContext::new(forwarded_conn(conn));
    let mut out = serde_json::Map::new();
    for op in [
        Operation::PutBucketPolicy,
        Operation::PutBucketCors,
        Operation::PutBucketVersioning,
        Operation::ListObjectVersions,
    ] {
        let may = console
            .state
            .core
            .access
            .may(identity.clone(), &rc, op, &bucket)
            .await;
        out.insert(op.name().to_string(), Value::Bool(may));
    }
    json_response(StatusCode::OK, &Value::Object(out))
}

/// The `bucket` query parameter, if it names one.
fn bucket_param(req: &Request<Incoming>) -> Option<String> {
    crate::access::conditions::query_pairs(req.uri())
        .into_iter()
        .find(|(k, _)| k == "bucket")
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty())
}

/// A bucket's replication backlog and outcomes per rule (what the replication worker last
/// counted), for a key that may read the bucket's replication configuration.
async fn replication(
    console: &Console,
    req: &Request<Incoming>,
    conn: &ConnInfo,
) -> Response<s3s::Body> {
    let (_, identity) = match session_of(console, req.headers(), true) {
        Ok(x) => x,
        Err(r) => return r.response(),
    };
    let Some(bucket) = bucket_param(req) else {
        return error(StatusCode::BAD_REQUEST, "Name a bucket.");
    };
    let rc = RequestContext::new(forwarded_conn(conn));
    let access = &console.state.core.access;
    if !access
        .may(identity, &rc, Operation::GetBucketReplication, &bucket)
        .await
    {
        return error(StatusCode::FORBIDDEN, "Access Denied");
    }
    let s = console.state.observability.replication.get();
    let rules: Vec<_> = s.rules.iter().filter(|r| r.bucket == bucket).collect();
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "updatedMs": s.updated_ms,
            "rules": rules.iter().map(|r| serde_json::json!({
                "rule": r.rule,
                "pendingOperations": r.pending_operations,
                "pendingBytes": r.pending_bytes,
                "completed": r.completed,
                "failed": r.failed,
                "lastLatencySeconds": r.last_latency_seconds,
            })).collect::<Vec<_>>(),
        }),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadForm {
    bucket: String,
    key: String,
    content_type: Option<String>,
}

pub(super) fn signer<'a>(console: &'a Console, identity: &'a Identity) -> Signer<'a> {
    Signer {
        access_key_id: &identity.access_key_id,
        secret: &identity.secret_access_key,
        region: &console.state.core.config.region,
        now_secs: console.state.core.clock.now_secs(),
    }
}

/// The signed-in key (CSRF token checked) and the request's JSON body.
async fn signed_in_json<T: for<'de> Deserialize<'de>>(
    console: &Console,
    req: Request<Incoming>,
) -> Result<(Arc<Identity>, T), Refused> {
    let (_, identity) = session_of(console, req.headers(), true)?;
    Ok((identity, read_json(req).await?))
}

/// A POST form for one upload of exactly this key, for the page to send to `/s3/<bucket>`.
async fn upload_form(console: &Console, req: Request<Incoming>) -> Response<s3s::Body> {
    let (identity, form): (_, UploadForm) = match signed_in_json(console, req).await {
        Ok(x) => x,
        Err(r) => return r.response(),
    };
    if form.bucket.is_empty() || form.key.is_empty() {
        return error(StatusCode::BAD_REQUEST, "Name a bucket and a key.");
    }
    let content_type = form.content_type.filter(|c| !c.is_empty());
    let fields = signer(console, &identity).post_form(
        &form.bucket,
        &form.key,
        content_type.as_deref(),
        console.state.core.config.max_put_size,
        URL_LIFETIME_SECS,
    );
    let fields: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "url": format!("/s3/{}", super::sign::encode_path(&form.bucket)),
            "fields": fields,
        }),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Download {
    bucket: String,
    key: String,
    version_id: Option<String>,
}

/// A presigned GET that downloads one object (version) as an attachment.
async fn download_url(console: &Console, req: Request<Incoming>) -> Response<s3s::Body> {
    let (identity, d): (_, Download) = match signed_in_json(console, req).await {
        Ok(x) => x,
        Err(r) => return r.response(),
    };
    if d.bucket.is_empty() || d.key.is_empty() {
        return error(StatusCode::BAD_REQUEST, "Name a bucket and a key.");
    }
    let name = d.key.rsplit('/').next().unwrap_or("download");
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut extra = vec![(
        "response-content-disposition".to_string(),
        format!(
            "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
        ),
    )];
    if let Some(v) = d.version_id.filter(|v| !v.is_empty()) {
        extra.push(("versionId".into(), v));
    }
    let path = format!("/{}/{}", d.bucket, d.key);
    let url =
        signer(console, &identity).presign_get(&console.s3_host, &path, &extra, URL_LIFETIME_SECS);
    // The gateway's form: the bucket in the path, the key in a parameter no browser rewrites.
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let url = super::sign::gateway_url(&d.bucket, &d.key, query);
    json_response(StatusCode::OK, &json!({ "url": url }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_consoles_own_pages_may_call() {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9001".parse().unwrap());
        assert!(
            same_origin(&h),
            "no Origin: not a cross-site browser request"
        );
        h.insert("origin", "http://127.0.0.1:9001".parse().unwrap());
        assert!(same_origin(&h));
        h.insert("origin", "http://localhost:3000".parse().unwrap());
        assert!(!same_origin(&h));
        h.remove("origin");
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(same_origin(&h));
    }
}
