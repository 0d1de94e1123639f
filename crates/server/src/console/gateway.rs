//! `/s3/<bucket>/<key>?…`: the page's S3 requests, handed to the S3 shell in-process as if
//! they had reached the HTTPS listener for `/<bucket>/<key>?…`.
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
use super::sign::{encode_path, encode_query};
use crate::context::ConnInfo;
use crate::shell::limits::ConnActivity;

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
    let raw_path = match parts.uri.path().strip_prefix("/s3").unwrap_or_default() {
        "" => "/".to_string(),
        p => p.to_string(),
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
        None => match parts.uri.query() {
            Some(q) => format!("{raw_path}?{q}"),
            None => raw_path.to_string(),
        },
        Some(identity) => {
            let Ok(path) = percent_decode_str(&raw_path).decode_utf8() else {
                return error(http::StatusCode::BAD_REQUEST, "The path is not UTF-8.");
            };
            let query: Vec<(String, String)> = match parts.uri.query() {
                None => Vec::new(),
                Some(q) => match serde_urlencoded::from_str(q) {
                    Ok(pairs) => pairs,
                    Err(_) => {
                        return error(http::StatusCode::BAD_REQUEST, "The query is malformed.");
                    }
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
