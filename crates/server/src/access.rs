//! The access hook: every authenticated S3 operation passes `S3Access::check` here.
//!
//! s3s runs this hook only when auth is configured, and its per-operation hooks default to
//! allow, so all decisions go through [`AccessHook::check`], deny by default. Policy
//! evaluation (identity policies, bucket policy, Public Access Block) plugs in here.

use s3s::access::{S3Access, S3AccessContext};
use s3s::{S3Result, s3_error};

use crate::context::RequestContext;

/// Deny-by-default access decisions.
#[derive(Debug, Default)]
pub struct AccessHook;

#[async_trait::async_trait]
impl S3Access for AccessHook {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        // Temporary credentials (STS session tokens) are never issued by this server, so a
        // request carrying one cannot be valid; s3s does not check the token itself.
        if cx.headers().contains_key("x-amz-security-token")
            || cx
                .uri()
                .query()
                .is_some_and(|q| q.contains("X-Amz-Security-Token="))
        {
            return Err(s3_error!(
                InvalidToken,
                "The provided token is malformed or otherwise invalid."
            ));
        }
        // SigV2 is accepted (when configured) only where botocore uses it by default: presigned
        // URLs and POST forms. An SDK never sends it in a header; refuse that outright.
        if cx
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS "))
        {
            return Err(s3_error!(
                AccessDenied,
                "Signature Version 2 is not accepted in the Authorization header; sign with AWS4-HMAC-SHA256"
            ));
        }
        let secure = cx
            .extensions_mut()
            .get::<RequestContext>()
            .is_some_and(RequestContext::secure_transport);
        if !secure {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied: requests must use HTTPS (aws:SecureTransport is false)"
            ));
        }
        match cx.credentials() {
            Some(_) => Ok(()),
            None => Err(s3_error!(
                AccessDenied,
                "Access Denied: anonymous requests are not allowed"
            )),
        }
    }
}
