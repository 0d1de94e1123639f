//! CORS as S3 applies it: a preflight (`OPTIONS`) is answered here from the bucket's rules,
//! without credentials or an access check; every other response to a request with an
//! `Origin` gets the matching rule's `Access-Control-*` headers (errors, presigned URLs and
//! POST uploads included) and `Vary: Origin`. An origin no rule allows gets no CORS headers.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use leadshop_spec::cors::CorsRule;

use super::errors;
use crate::bucket_config::BucketConfigs;

/// What S3 answers when no rule allows a preflight.
const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Answers a preflight.
pub async fn preflight(
    configs: &Arc<BucketConfigs>,
    bucket: Option<&str>,
    headers: &HeaderMap,
    request_id: &str,
) -> Response<s3s::Body> {
    let Some(origin) = header_str(headers, &header::ORIGIN) else {
        return errors::s3_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
            request_id,
        );
    };
    let method = header_str(headers, &header::ACCESS_CONTROL_REQUEST_METHOD).unwrap_or("");
    if !leadshop_spec::cors::METHODS.contains(&method) {
        return errors::s3_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Invalid Access-Control-Request-Method: {method}"),
            request_id,
        );
    }
    let requested: Vec<String> = header_str(headers, &header::ACCESS_CONTROL_REQUEST_HEADERS)
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    let requested_refs: Vec<&str> = requested.iter().map(String::as_str).collect();
    let config = match bucket {
        Some(b) => configs.load(b).await,
        None => None,
    };
    let Some(cors) = config.as_ref().and_then(|c| c.cors.clone()) else {
        return errors::s3_error(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: CORS is not enabled for this bucket.",
            request_id,
        );
    };
    let Some(rule) = cors.find(origin, method, &requested_refs) else {
        return errors::s3_error(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            NOT_ALLOWED,
            request_id,
        );
    };
    let mut resp = Response::new(s3s::Body::empty());
    let h = resp.headers_mut();
    allow(h, rule, origin);
    if !requested.is_empty()
        && let Ok(v) = HeaderValue::from_str(&requested.join(", "))
    {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    if let Some(age) = rule.max_age_seconds {
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
    }
    resp
}

/// Adds the CORS headers of the rule that allows this actual request, if any.
pub async fn decorate(
    configs: &Arc<BucketConfigs>,
    resp: &mut Response<s3s::Body>,
    bucket: &str,
    origin: &str,
    method: &Method,
) {
    let Some(cors) = configs.load(bucket).await.and_then(|c| c.cors.clone()) else {
        return;
    };
    let h = resp.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(rule) = cors.find(origin, method.as_str(), &[]) {
        allow(h, rule, origin);
    }
}

/// The headers every allowed CORS response carries.
fn allow(h: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    let (allowed, credentials) = rule.allow_origin(origin);
    if let Ok(v) = HeaderValue::from_str(allowed) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if credentials {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&rule.allowed_methods.join(", ")) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    if !rule.expose_headers.is_empty()
        && let Ok(v) = HeaderValue::from_str(&rule.expose_headers.join(", "))
    {
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
    if !h.get_all(header::VARY).iter().any(|v| v == "Origin") {
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}
