//! The server's safety net: a panic while one request is handled answers that request 500
//! and is logged and counted; it never ends the connection's other streams or the process.
//! (A stack overflow cannot be caught, so every parser of untrusted input is bounded in depth
//! instead: docs/SECURITY.md.)

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::AtomicU64;

use futures::FutureExt as _;
use http::{Response, StatusCode};

use super::errors;
use super::limits::ShellStats;

/// What a panic said, for the log line.
fn message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Runs one request's handling; a panic becomes `500 InternalError`, a log line and a count.
pub async fn answer<F>(handling: F, panics: &AtomicU64) -> Response<s3s::Body>
where
    F: Future<Output = Response<s3s::Body>>,
{
    match AssertUnwindSafe(handling).catch_unwind().await {
        Ok(resp) => resp,
        Err(panic) => {
            ShellStats::bump(panics);
            tracing::error!(
                panic = message(panic.as_ref()),
                "a request's handling panicked: answered 500, the server keeps serving"
            );
            errors::s3_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
                "",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_is_counted() {
        let panics = AtomicU64::new(0);
        let ok = answer(async { Response::new(s3s::Body::empty()) }, &panics).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let boom = answer(
            async {
                let v: Vec<u8> = Vec::new();
                // An index out of bounds, as a library bug would panic.
                let _ = v[usize::from(v.is_empty())];
                Response::new(s3s::Body::empty())
            },
            &panics,
        )
        .await;
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(panics.load(Ordering::Relaxed), 1);
    }
}
