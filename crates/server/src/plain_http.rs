//! The plain-HTTP listener. Data never moves over it: a browser navigation is redirected to
//! the HTTPS endpoint; an S3 API request is refused with 403 AccessDenied, as AWS refuses it
//! under a bucket policy that denies `aws:SecureTransport = false`.

use http::{Method, Request, Response, StatusCode, header};

/// Answers one request on the plain-HTTP listener.
pub fn handle<B>(req: &Request<B>, https_base: &str) -> Response<s3s::Body> {
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
    if navigation {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        return Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, format!("{https_base}{path}"))
            .body(s3s::Body::empty())
            .expect("valid response");
    }
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
<Message>Access Denied: requests must use HTTPS (aws:SecureTransport is false)</Message></Error>";
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .header(header::CONTENT_TYPE, "application/xml")
        .body(s3s::Body::from(xml.to_string()))
        .expect("valid response")
}
