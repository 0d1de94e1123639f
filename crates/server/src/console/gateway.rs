//! `/s3/<bucket>?leadshop-key=<key>&…`: the page's S3 requests, handed to the S3 shell
//! in-process as if they had reached the HTTPS listener for `/<bucket>/<key>?…`.
//!
//! An object key never travels in the path: a browser resolves `.` and `..` segments of a URL
//! path (and `%2e` as a dot) before it sends it, so a key such as
//! `../leadshop-security-logs/s3-access/x` would name another bucket's object. The key rides
//! in the `leadshop-key` query parameter ([`KEY_PARAM`]), which no URL parser rewrites, and the path names the
//! bucket alone; a path with more segments is refused.
//!
//! - A request that authenticates itself (a presigned URL, a POST upload form) goes as it is.
//! - Any other needs the session cookie and its CSRF token, and is signed with the session's
//!   key (SigV4, `UNSIGNED-PAYLOAD`) over its canonical path and query.
//!
//! Either way s3s authenticates it and the access hook decides it, with
//! `aws:SecureTransport` true only for a browser on this machine. The cookie, the CSRF token
//! and the browser's `Origin` never reach the S3 layer.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, Uri, header};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;

use super::Console;
use super::api::{error, forwarded_conn, same_origin, session_of, signer};
use super::sign::{KEY_PARAM, encode_path, encode_query};
use crate::context::ConnInfo;
use crate::shell::activity::ConnActivity;

/// Headers of the browser's that are the console's business, not S3's.
const DROPPED: [&str; 10] = [
    "cookie",
    "x-csrf-token",
    "origin",
    "referer",
    "authorization",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "sec-fetch-user",
    "x-amz-security-token",
];

/// The bucket of a gateway path (`/s3`, `/s3/`, `/s3/<bucket>`, `/s3/<bucket>/`), decoded;
/// `Err` when the path holds more than the bucket.
fn bucket_of(path: &str) -> Result<Option<String>, &'static str> {
    let rest = path.strip_prefix("/s3").unwrap_or_default();
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.contains('/') {
        return Err(
            "The console's S3 path names a bucket only; an object key goes in the leadshop-key parameter.",
        );
    }
    percent_decode_str(rest)
        .decode_utf8()
        .map(|b| Some(b.into_owned()))
        .map_err(|_| "The path is not UTF-8.")
}

/// The key parameter's value, and the raw query without it.
fn take_key(query: Option<&str>) -> Result<(Option<String>, Option<String>), &'static str> {
    let Some(query) = query else {
        return Ok((None, None));
    };
    let mut key = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == KEY_PARAM {
            if key.is_some() {
                return Err("The leadshop-key parameter is given twice.");
            }
            let value = value.replace('+', " ");
            key = Some(
                percent_decode_str(&value)
                    .decode_utf8()
                    .map_err(|_| "The key is not UTF-8.")?
                    .into_owned(),
            );
        } else {
            rest.push(pair);
        }
    }
    Ok((key, (!rest.is_empty()).then(|| rest.join("&"))))
}

fn self_authenticated(parts: &http::request::Parts) -> bool {
    let presigned = parts.uri.query().is_some_and(|q| {
        q.split('&').any(|p| {
            let name = p.split('=').next().unwrap_or_default();
            name == "X-Amz-Signature" || name == "Signature"
        })
    });
    let post_form = parts.method == http::Method::POST
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
    presigned || post_form
}

/// Forwards one `/s3/…` request (see the module docs).
pub(super) async fn forward(
    console: &Console,
    req: Request<Incoming>,
    conn: Arc<ConnInfo>,
    activity: Arc<ConnActivity>,
) -> Response<s3s::Body> {
    let (mut parts, body) = req.into_parts();
    let bad = |why: &str| error(http::StatusCode::BAD_REQUEST, why);
    let bucket = match bucket_of(parts.uri.path()) {
        Ok(b) => b,
        Err(why) => return bad(why),
    };
    let (key, query) = match take_key(parts.uri.query()) {
        Ok(kq) => kq,
        Err(why) => return bad(why),
    };
    // The decoded S3 path: `/`, `/<bucket>`, or `/<bucket>/<key>` (the key exactly as given).
    let path = match (&bucket, &key) {
        (None, None) => "/".to_string(),
        (Some(b), None) => format!("/{b}"),
        (Some(b), Some(k)) if !k.is_empty() => format!("/{b}/{k}"),
        _ => return bad("An object key needs a bucket, and may not be empty."),
    };
    let signer_identity = if self_authenticated(&parts) {
        None
    } else {
        if !same_origin(&parts.headers) {
            return error(
                http::StatusCode::FORBIDDEN,
                "Cross-site requests to the console are refused.",
            );
        }
        match session_of(console, &parts.headers, true) {
            Ok((_, identity)) => Some(identity),
            Err(r) => return r.response(),
        }
    };
    for name in DROPPED {
        parts.headers.remove(name);
    }
    parts.headers.insert(
        header::HOST,
        HeaderValue::from_str(&console.s3_host).expect("ascii host"),
    );
    let uri = match &signer_identity {
        // Presigned URLs and forms carry their own signature over what they were made for.
        None => match query {
            Some(q) => format!("{}?{q}", encode_path(&path)),
            None => encode_path(&path),
        },
        Some(identity) => {
            let query: Vec<(String, String)> = match query.as_deref() {
                None => Vec::new(),
                Some(q) => match serde_urlencoded::from_str(q) {
                    Ok(pairs) => pairs,
                    Err(_) => return bad("The query is malformed."),
                },
            };
            signer(console, identity).sign_headers(
                parts.method.as_str(),
                &path,
                &query,
                &mut parts.headers,
            );
            let path = encode_path(&path);
            if query.is_empty() {
                path
            } else {
                format!("{path}?{}", encode_query(&query))
            }
        }
    };
    parts.uri = match uri.parse::<Uri>() {
        Ok(u) => u,
        Err(_) => {
            return error(http::StatusCode::BAD_REQUEST, "The path is malformed.");
        }
    };
    parts.version = http::Version::HTTP_11;
    console
        .shell
        .handle(
            Request::from_parts(parts, body),
            forwarded_conn(&conn),
            activity,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_names_the_bucket_and_the_key_rides_in_the_query() {
        assert_eq!(bucket_of("/s3"), Ok(None));
        assert_eq!(bucket_of("/s3/"), Ok(None));
        assert_eq!(bucket_of("/s3/b"), Ok(Some("b".into())));
        assert_eq!(bucket_of("/s3/b/"), Ok(Some("b".into())));
        // Whatever a browser made of a key in the path is refused, not guessed at.
        assert!(bucket_of("/s3/b/k").is_err());
        assert!(bucket_of("/s3/leadshop-security-logs/s3-access/x").is_err());
        let (key, rest) = take_key(Some(
            "leadshop-key=..%2Fleadshop-security-logs%2Fx&versionId=1",
        ))
        .unwrap();
        assert_eq!(key.as_deref(), Some("../leadshop-security-logs/x"));
        assert_eq!(rest.as_deref(), Some("versionId=1"));
        assert_eq!(
            take_key(Some("leadshop-key=..")).unwrap().0.as_deref(),
            Some("..")
        );
        assert_eq!(
            take_key(Some("leadshop-key=a+b")).unwrap().0.as_deref(),
            Some("a b")
        );
        assert_eq!(
            take_key(Some("list-type=2")).unwrap(),
            (None, Some("list-type=2".into()))
        );
        assert!(take_key(Some("leadshop-key=a&leadshop-key=b")).is_err());
    }
}
