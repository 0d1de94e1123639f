//! The console listener: a read-only status page of this instance (endpoints, buckets).
//! The upload console with presigned POSTs replaces it with the CORS work.

use std::fmt::Write as _;
use std::sync::Arc;

use http::{Request, Response, StatusCode, header};

use crate::server::AppState;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Answers one console request.
pub async fn handle<B>(req: &Request<B>, state: &Arc<AppState>) -> Response<s3s::Body> {
    if req.uri().path() != "/" {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(s3s::Body::from("not found\n".to_string()))
            .expect("valid");
    }
    let store = state.store.clone();
    let buckets = tokio::task::spawn_blocking(move || store.buckets())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>leadshop</title></head><body>",
    );
    let _ = write!(
        html,
        "<h1>leadshop</h1><p>S3 endpoint: <code>{}</code> (HTTPS; trust <code>{}</code>)</p><h2>Buckets</h2><ul>",
        escape(&state.endpoints.s3),
        escape(
            &state
                .config
                .data_dir
                .join("tls/ca.pem")
                .display()
                .to_string()
        ),
    );
    for b in buckets {
        let _ = write!(
            html,
            "<li><code>{}</code> — versioning {:?}, region {}</li>",
            escape(&b.name),
            b.versioning,
            escape(&b.region)
        );
    }
    html.push_str("</ul></body></html>\n");
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(s3s::Body::from(html))
        .expect("valid")
}
