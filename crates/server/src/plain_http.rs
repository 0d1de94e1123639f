//! The plain-HTTP listener. Data never moves over it: a browser navigation is redirected to
//! the HTTPS endpoint; an S3 API request goes through access control with
//! `aws:SecureTransport = false`, which the baseline bucket policies deny (403 AccessDenied,
//! as AWS refuses it), and which `plain_http_api = false` refuses everywhere else.

use http::{Method, Request, Response, StatusCode, header};

/// A redirect to HTTPS for a browser navigation (GET or HEAD, no credentials, `Accept:
/// text/html`); `None` for anything else, which is an API request.
pub fn redirect<B>(req: &Request<B>, https_base: &str) -> Option<Response<s3s::Body>> {
    let is_api = req.headers().contains_key(header::AUTHORIZATION)
        || req
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("x-amz-"))
        || req
            .uri()
            .query()
            .is_some_and(|q| q.contains("X-Amz-Signature=") || q.contains("Signature="));
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let navigation =
        (req.method() == Method::GET || req.method() == Method::HEAD) && wants_html && !is_api;
    if !navigation {
        return None;
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    Some(
        Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, format!("{https_base}{path}"))
            .body(s3s::Body::empty())
            .expect("valid response"),
    )
}
