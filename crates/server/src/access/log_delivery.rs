//! Whether the logging service may write a log object into a target bucket: its bucket
//! policy must allow `logging.s3.amazonaws.com` `s3:PutObject` on the key, with the source
//! bucket as `aws:SourceArn` and the account as `aws:SourceAccount`, as AWS requires of a
//! target bucket with Object Ownership `BucketOwnerEnforced`. Checked by PutBucketLogging and
//! again at every delivery.

use leadshop_spec::logging::LOGGING_SERVICE;
use leadshop_spec::policy::{Context, Decision, Request, evaluate};

use crate::bucket_config::BucketConfig;

/// Whether `target`'s policy lets the logging service put `key` for `source_bucket`.
#[must_use]
pub fn logging_may_write(
    target: &BucketConfig,
    source_bucket: &str,
    key: &str,
    account: &str,
) -> bool {
    if target.damaged {
        return false;
    }
    let Some(policy) = &target.policy else {
        return false;
    };
    let mut ctx = Context::new();
    ctx.set("aws:SourceArn", format!("arn:aws:s3:::{source_bucket}"))
        .set("aws:SourceAccount", account)
        .set("aws:SecureTransport", "true")
        .set("aws:PrincipalServiceName", LOGGING_SERVICE);
    let resource = format!("arn:aws:s3:::{}/{key}", target.name);
    let req = Request {
        principal: Some(LOGGING_SERVICE),
        account: None,
        action: "s3:PutObject",
        resource: &resource,
        context: &ctx,
    };
    evaluate(&[policy.as_ref()], &req) == Decision::Allow
}
