//! S3 error responses the shell answers itself, before or instead of s3s.

use http::{HeaderValue, Response, StatusCode, header};

/// An S3 error document (`<Error><Code>…`) with the request id, as S3 answers.
#[must_use]
pub fn s3_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response<s3s::Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        crate::xml::escape(code),
        crate::xml::escape(message),
        crate::xml::escape(request_id)
    );
    let mut resp = Response::new(s3s::Body::from(xml));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    // The request may have left unread bytes on the connection.
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// A refusal ([`leadshop_spec::Refusal`]) as S3 renders it: its code's status, code and
/// message.
pub fn refused(r: &leadshop_spec::Refusal, request_id: &str) -> Response<s3s::Body> {
    let status = StatusCode::from_u16(r.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    s3_error(status, r.code.as_str(), &r.message, request_id)
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

    #[test]
    fn messages_are_escaped() {
        let r = s3_error(StatusCode::BAD_REQUEST, "X", "a<b&c", "id");
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["content-type"], "application/xml");
    }
}
