//! S3 error responses the shell answers itself, before or instead of s3s: built as s3s's
//! [`S3Error`] and rendered by s3s's own serializer, as every handler's error is.

use http::{HeaderValue, Response, StatusCode, header};
use s3s::{S3Error, S3ErrorCode};

/// An S3 error document (`<Error><Code>…`) with the request id, as S3 answers.
#[must_use]
pub fn s3_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response<s3s::Body> {
    let code: S3ErrorCode = match code.parse() {
        Ok(c) => c,
        Err(never) => match never {},
    };
    let mut e = S3Error::with_message(code, message.to_string());
    e.set_status_code(status);
    render(e, request_id)
}

/// A refusal ([`leadshop_spec::Refusal`]) as an [`S3Error`]: its code, its code's status, its
/// message. The one conversion (the S3 handlers use it too).
#[must_use]
pub fn from_refusal(r: leadshop_spec::Refusal) -> S3Error {
    let code: S3ErrorCode = match r.code.as_str().parse() {
        Ok(c) => c,
        Err(never) => match never {},
    };
    let mut e = S3Error::with_message(code, r.message);
    if let Ok(status) = StatusCode::from_u16(r.code.status()) {
        e.set_status_code(status);
    }
    e
}

/// A refusal as S3 renders it.
pub fn refused(r: &leadshop_spec::Refusal, request_id: &str) -> Response<s3s::Body> {
    render(from_refusal(r.clone()), request_id)
}

/// `e` with the request id, through s3s's error serializer; the connection is closed after
/// it, since the request may have left unread bytes on it.
fn render(mut e: S3Error, request_id: &str) -> Response<s3s::Body> {
    e.set_request_id(request_id);
    let mut resp = e.to_http_response().unwrap_or_else(|e| {
        // Serialising a code and two strings does not fail; if it did, a bare 500.
        tracing::error!(error = %e, "an error document could not be serialised");
        let mut r = Response::new(s3s::Body::empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    });
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// 400 RequestTimeout: a request body stopped making progress.
#[must_use]
pub fn request_timeout(request_id: &str) -> Response<s3s::Body> {
    s3_error(
        StatusCode::BAD_REQUEST,
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
        request_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response<s3s::Body>) -> String {
        use http_body_util::BodyExt as _;
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn documents_are_s3s_and_escaped() {
        let r = s3_error(StatusCode::BAD_REQUEST, "X", "a<b&c", "id");
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["content-type"], "application/xml");
        assert_eq!(r.headers()["connection"], "close");
        let text = body(r).await;
        assert!(text.starts_with("<?xml"), "{text}");
        assert!(
            text.contains("<Code>X</Code><Message>a&lt;b&amp;c</Message><RequestId>id</RequestId>"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn refusals_keep_their_code_and_status() {
        let r = refused(&leadshop_spec::Refusal::malformed_xml(), "rid");
        assert_eq!(r.status(), 400);
        assert!(body(r).await.contains("<Code>MalformedXML</Code>"));
        let r = refused(
            &leadshop_spec::Refusal::new(leadshop_spec::ErrorCode::AccessDenied, "no".to_string()),
            "rid",
        );
        assert_eq!(r.status(), 403);
    }
}
