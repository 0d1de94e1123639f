//! The policy parser and everything PutBucketPolicy runs on an untrusted document must never
//! panic: parse, the bucket-policy checks, the public-policy test, and one evaluation.
#![no_main]

use leadshop_spec::policy::{Context, Policy, Request, evaluate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::parse(text) else {
        return;
    };
    let _ = policy.check_bucket_policy("leadshop-assets");
    let _ = policy.check_identity_policy();
    let _ = policy.is_public();
    let _ = policy.without_public_grants();
    let mut cx = Context::new();
    cx.set("aws:SecureTransport", "true")
        .set("aws:SourceIp", "127.0.0.1")
        .set("aws:CurrentTime", "2026-11-27T21:00:00Z")
        .set("aws:username", "app")
        .set("s3:prefix", "reports/");
    let _ = evaluate(
        &[&policy],
        &Request {
            principal: Some("arn:aws:iam::000000000000:user/app"),
            account: Some("000000000000"),
            action: "s3:GetObject",
            resource: "arn:aws:s3:::leadshop-assets/reports/a.pdf",
            context: &cx,
        },
    );
});
