//! CloudWatch's metric reads on the S3 endpoint: a request signed for the `monitoring`
//! service (SigV4 scope `…/monitoring/aws4_request`) is answered here instead of by s3s —
//! GetMetricStatistics, GetMetricData and ListMetrics over the datapoints the usage worker
//! and subscriber record (`AWS/S3`: daily `BucketSizeBytes` and `NumberOfObjects`, one-minute
//! request metrics of buckets with a metrics configuration), in each protocol clients speak
//! ([`protocol`]). Access follows the caller's identity policy (`cloudwatch:<Operation>` on
//! `*`), as on AWS.

pub mod bounds;
pub mod cbor;
pub mod cost;
pub mod ops;
pub mod protocol;
pub mod series;

use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use leadshop_keys::KeyStore;
use leadshop_keys::access_keys::Identity;
use leadshop_spec::policy::{Context, Decision, Request, evaluate};
use leadshop_store::{SharedClock, Store};
use s3s_sigv4::{AmzDate, AuthorizationV4, Payload};
use sha2::Digest as _;

use leadshop_spec::{ErrorCode, Refusal};

use crate::sigv4::{constant_eq, header_pairs};
use protocol::Protocol;

/// A failure of ours (500 `InternalServiceError`), logged.
pub(crate) fn internal_failure(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "CloudWatch request failed");
    Refusal::new(
        ErrorCode::InternalServiceError,
        "An internal error occurred.",
    )
}

/// The largest request body read (AWS: 1 MB for GetMetricData).
pub const MAX_BODY: usize = 1024 * 1024;
/// How far a request's `X-Amz-Date` may be from the server's clock.
const MAX_SKEW_MS: i64 = 15 * 60 * 1000;

/// What the CloudWatch endpoint answers with.
#[derive(Debug)]
pub struct Monitoring {
    /// The datapoints.
    pub store: Arc<Store>,
    /// The access keys.
    pub keys: Arc<KeyStore>,
    /// The time (signature skew, RecentlyActive).
    pub clock: SharedClock,
    /// The account of every key.
    pub account_id: String,
    /// The server's region: a signature scoped to another is refused, as S3's is.
    pub region: String,
}

impl Monitoring {
    /// Answers one CloudWatch request, whose body has been read.
    pub async fn handle(
        &self,
        protocol: Protocol,
        operation: Option<String>,
        parts: &http::request::Parts,
        body: Bytes,
        secure: bool,
        request_id: &str,
    ) -> Response<s3s::Body> {
        match self.answer(protocol, operation, parts, body, secure).await {
            Ok((op, out)) => protocol::ok(protocol, &op, &out, request_id),
            Err(e) => protocol::error(protocol, &e, request_id),
        }
    }

    async fn answer(
        &self,
        protocol: Protocol,
        operation: Option<String>,
        parts: &http::request::Parts,
        body: Bytes,
        secure: bool,
    ) -> Result<(String, serde_json::Value), Refusal> {
        let identity = self.authenticate(parts, &body)?;
        // The operation is known before the body is parsed (the query protocol's `Action` is
        // found without building anything), so a caller without the permission costs no
        // parsing at all.
        let op = match operation {
            Some(op) => Some(op),
            None if protocol == Protocol::Query => bounds::query_action(&body),
            None => None,
        }
        .ok_or_else(|| Refusal::new(ErrorCode::MissingAction, "The request names no Action."))?;
        if !matches!(
            op.as_str(),
            "GetMetricStatistics" | "GetMetricData" | "ListMetrics"
        ) {
            return Err(Refusal::new(
                ErrorCode::InvalidAction,
                format!(
                    "The action {op:.64} is not valid for this endpoint (leadshop answers GetMetricStatistics, GetMetricData and ListMetrics)."
                ),
            ));
        }
        authorize(&self.account_id, &identity, &op, secure)?;
        let input = protocol::decode(protocol, &body)?;
        let store = self.store.clone();
        let now = self.clock.now_ms();
        let name = op.clone();
        let out = tokio::task::spawn_blocking(move || match name.as_str() {
            "GetMetricStatistics" => ops::get_metric_statistics(&store, &input),
            "GetMetricData" => ops::get_metric_data(&store, &input),
            _ => ops::list_metrics(&store, &input, now),
        })
        .await
        .map_err(internal_failure)??;
        Ok((op, out))
    }

    /// Verifies the request's SigV4 header signature (over the body's SHA-256).
    fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Arc<Identity>, Refusal> {
        let denied = || {
            Refusal::new(
                ErrorCode::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided.",
            )
        };
        let h = &parts.headers;
        let auth = h
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::MissingAuthenticationToken,
                    "Request is missing Authentication Token",
                )
            })?;
        if h.contains_key("x-amz-security-token") {
            return Err(Refusal::new(
                ErrorCode::InvalidClientTokenId,
                "Temporary credentials (STS session tokens) are not accepted by leadshop.",
            ));
        }
        let auth = AuthorizationV4::parse(auth).map_err(|_| {
            Refusal::new(
                ErrorCode::IncompleteSignature,
                "The Authorization header is not a valid AWS Signature Version 4 header.",
            )
        })?;
        let cred = &auth.credential;
        if cred.aws_service != "monitoring" {
            return Err(denied());
        }
        if cred.aws_region != self.region {
            return Err(Refusal::new(
                ErrorCode::SignatureDoesNotMatch,
                format!(
                    "Credential should be scoped to a valid region: this endpoint is in '{}', not '{:.32}'.",
                    self.region, cred.aws_region
                ),
            ));
        }
        let identity = self.keys.by_id(cred.access_key_id).ok_or_else(|| {
            Refusal::new(
                ErrorCode::InvalidClientTokenId,
                "The security token included in the request is invalid.",
            )
        })?;
        let date = h
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .and_then(|d| AmzDate::parse(d).ok())
            .ok_or_else(|| Refusal::new(ErrorCode::MissingParameter, "X-Amz-Date is required."))?;
        let at_ms = date
            .to_time()
            .map(|t| t.as_millisecond())
            .ok_or_else(denied)?;
        if (at_ms - self.clock.now_ms()).abs() > MAX_SKEW_MS {
            return Err(Refusal::new(
                ErrorCode::SignatureDoesNotMatch,
                "Signature expired: the request time is more than 15 minutes from the server's time.",
            ));
        }
        let hash = hex::encode(sha2::Sha256::digest(body));
        if h.get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.eq_ignore_ascii_case(&hash))
        {
            return Err(denied());
        }
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
            .unwrap_or_default();
        let names: Vec<&str> = auth.signed_headers.clone();
        if !names.contains(&"host") {
            return Err(denied());
        }
        let headers = header_pairs(h, &names).ok_or_else(denied)?;
        let canonical = s3s_sigv4::create_canonical_request(
            parts.method.as_str(),
            parts.uri.path(),
            &query,
            &headers,
            Payload::SingleChunk(&hash),
        );
        let signature = crate::sigv4::signature(
            &canonical,
            &date,
            cred.aws_region,
            "monitoring",
            &identity.secret_access_key,
        );
        if !constant_eq(&signature, auth.signature) {
            return Err(denied());
        }
        Ok(identity)
    }
}

/// The caller's identity policy must allow `cloudwatch:<op>` on `*` (the CloudWatch endpoint
/// and the console's dashboard ask the same question).
///
/// # Errors
/// `AccessDenied`.
pub fn authorize(
    account_id: &str,
    identity: &Identity,
    op: &str,
    secure: bool,
) -> Result<(), Refusal> {
    let arn = identity.arn(account_id);
    let action = format!("cloudwatch:{op}");
    let mut ctx = Context::new();
    ctx.set("aws:SecureTransport", if secure { "true" } else { "false" })
        .set("aws:username", identity.name.clone())
        .set("aws:userid", identity.user_id.clone())
        .set("aws:PrincipalArn", arn.clone())
        .set("aws:PrincipalAccount", account_id);
    let req = Request {
        principal: Some(&arn),
        account: Some(account_id),
        action: &action,
        resource: "*",
        context: &ctx,
    };
    if evaluate(&[&identity.policy], &req) == Decision::Allow {
        Ok(())
    } else {
        Err(Refusal::new(
            ErrorCode::AccessDenied,
            format!(
                "User: {arn} is not authorized to perform: {action} because no identity-based policy allows the {action} action"
            ),
        ))
    }
}
