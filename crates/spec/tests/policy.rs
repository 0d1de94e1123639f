//! The policy engine against AWS's documented semantics and our own baseline documents.

use leadshop_spec::policy::{Context, Decision, Policy, Request, evaluate};
use leadshop_spec::{BucketSpec, TemplateVars};

const ACCOUNT: &str = "123456789012";
const APP: &str = "arn:aws:iam::123456789012:user/app";

fn ctx(pairs: &[(&str, &str)]) -> Context {
    let mut c = Context::new();
    for (k, v) in pairs {
        c.set(k, *v);
    }
    c
}

fn decide(
    policies: &[&Policy],
    principal: Option<&str>,
    action: &str,
    resource: &str,
    c: &Context,
) -> Decision {
    evaluate(
        policies,
        &Request {
            principal,
            account: Some(ACCOUNT),
            action,
            resource,
            context: c,
        },
    )
}

/// The shipped baseline bucket policy, rendered by the renderer the server bootstraps with.
fn baseline() -> Policy {
    let specs = BucketSpec::builtin(&TemplateVars::new(ACCOUNT)).unwrap();
    let assets = specs
        .iter()
        .find(|s| s.name == "leadshop-assets")
        .expect("the assets bucket is built in");
    let text = assets.policy.as_deref().expect("it has a policy");
    assert!(!text.contains("${bucket}") && !text.contains("${account_id}"));
    Policy::parse(text).unwrap()
}

/// The shipped app key policy (config/iam/app-policy.json), as the key store loads it.
fn app_identity() -> Policy {
    let p = Policy::parse(include_str!("../../../config/iam/app-policy.json")).unwrap();
    p.check_identity_policy().unwrap();
    p
}

#[test]
fn baseline_denies_plain_http_and_old_tls_and_allows_the_app_over_tls() {
    let (bucket, identity) = (baseline(), app_identity());
    let obj = "arn:aws:s3:::leadshop-assets/reports/a.pdf";
    let tls = ctx(&[
        ("aws:SecureTransport", "true"),
        ("s3:TlsVersion", "1.3"),
        ("aws:PrincipalAccount", ACCOUNT),
    ]);
    assert_eq!(
        decide(&[&identity, &bucket], Some(APP), "s3:GetObject", obj, &tls),
        Decision::Allow
    );
    let http = ctx(&[
        ("aws:SecureTransport", "false"),
        ("aws:PrincipalAccount", ACCOUNT),
    ]);
    assert_eq!(
        decide(&[&identity, &bucket], Some(APP), "s3:GetObject", obj, &http),
        Decision::ExplicitDeny
    );
    let old = ctx(&[
        ("aws:SecureTransport", "true"),
        ("s3:TlsVersion", "1.1"),
        ("aws:PrincipalAccount", ACCOUNT),
    ]);
    assert_eq!(
        decide(&[&identity, &bucket], Some(APP), "s3:GetObject", obj, &old),
        Decision::ExplicitDeny
    );
    // Asking for another encryption than the bucket's is denied; not asking is fine.
    let mut kms = tls.clone();
    kms.set("s3:x-amz-server-side-encryption", "aws:kms");
    assert_eq!(
        decide(&[&identity, &bucket], Some(APP), "s3:PutObject", obj, &kms),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&[&identity, &bucket], Some(APP), "s3:PutObject", obj, &tls),
        Decision::Allow
    );
    // Outside the identity policy: implicit deny; anonymous: nothing allows it.
    assert_eq!(
        decide(
            &[&identity, &bucket],
            Some(APP),
            "s3:PutBucketPolicy",
            "arn:aws:s3:::leadshop-assets",
            &tls
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&[&bucket], None, "s3:GetObject", obj, &tls),
        Decision::ImplicitDeny
    );
    assert!(!bucket.is_public());
}

#[test]
fn public_read_policy_is_public_and_lets_anonymous_read() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
    )
    .unwrap();
    assert!(p.is_public());
    assert_eq!(
        decide(
            &[&p],
            None,
            "s3:GetObject",
            "arn:aws:s3:::b/x",
            &Context::new()
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(
            &[&p],
            None,
            "s3:PutObject",
            "arn:aws:s3:::b/x",
            &Context::new()
        ),
        Decision::ImplicitDeny
    );
    let restricted = Policy::parse(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
    )
    .unwrap();
    assert!(
        !restricted.is_public(),
        "an IP-restricted grant is not public (AWS)"
    );
}

#[test]
fn condition_operators_follow_aws() {
    // (Condition block, request context, whether the Allow applies)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let cases: &[Case<'_>] = &[
        (
            r#"{"StringEquals":{"s3:prefix":["home/","docs/"]}}"#,
            &[("s3:prefix", "docs/")],
            true,
        ),
        (r#"{"StringEquals":{"s3:prefix":"home/"}}"#, &[], false),
        (r#"{"StringNotEquals":{"s3:prefix":"home/"}}"#, &[], true),
        (
            r#"{"StringEqualsIgnoreCase":{"aws:UserAgent":"CURL"}}"#,
            &[("aws:useragent", "curl")],
            true,
        ),
        (
            r#"{"StringLike":{"aws:Referer":"https://*.leadfactory.com/*"}}"#,
            &[("aws:Referer", "https://staging.leadfactory.com/x")],
            true,
        ),
        (
            r#"{"StringNotLike":{"aws:Referer":"https://*.leadfactory.com/*"}}"#,
            &[("aws:Referer", "https://evil.com/")],
            true,
        ),
        (
            r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", "10")],
            true,
        ),
        (
            r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", "9")],
            false,
        ),
        (
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", "2026-11-27T12:00:00Z")],
            true,
        ),
        (
            r#"{"DateLessThan":{"aws:EpochTime":"1700000000"}}"#,
            &[("aws:EpochTime", "1800000000")],
            false,
        ),
        (
            r#"{"Bool":{"aws:SecureTransport":false}}"#,
            &[("aws:SecureTransport", "false")],
            true,
        ),
        (
            r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
            &[("aws:SecureTransport", "true")],
            false,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}"#,
            &[("aws:SourceIp", "192.0.2.77")],
            true,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
            &[("aws:SourceIp", "2001:db8::1")],
            true,
        ),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#,
            &[("aws:SourceIp", "198.51.100.1")],
            true,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}"#,
            &[("aws:SourceIp", "::ffff:127.0.0.1")],
            true,
        ),
        (
            r#"{"Null":{"s3:x-amz-server-side-encryption":"true"}}"#,
            &[],
            true,
        ),
        (
            r#"{"Null":{"s3:x-amz-server-side-encryption":"true"}}"#,
            &[("s3:x-amz-server-side-encryption", "AES256")],
            false,
        ),
        (
            r#"{"StringEqualsIfExists":{"s3:x-amz-server-side-encryption":"AES256"}}"#,
            &[],
            true,
        ),
        (
            r#"{"StringEqualsIfExists":{"s3:x-amz-server-side-encryption":"AES256"}}"#,
            &[("s3:x-amz-server-side-encryption", "aws:kms")],
            false,
        ),
        (
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/*"}}"#,
            &[("aws:PrincipalArn", APP)],
            true,
        ),
        (
            r#"{"StringEquals":{"s3:prefix":"a"},"Bool":{"aws:SecureTransport":"true"}}"#,
            &[("s3:prefix", "a"), ("aws:SecureTransport", "false")],
            false,
        ),
    ];
    for (cond, pairs, expected) in cases {
        let p = Policy::parse(&format!(r#"{{"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{cond}}}}}"#)).unwrap();
        let got = decide(
            &[&p],
            Some(APP),
            "s3:ListBucket",
            "arn:aws:s3:::b",
            &ctx(pairs),
        ) == Decision::Allow;
        assert_eq!(got, *expected, "{cond} with {pairs:?}");
    }
}

#[test]
fn set_qualifiers_on_multivalued_keys() {
    let any = Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["project","team"]}}}}"#).unwrap();
    let all = Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["project","team"]}}}}"#).unwrap();
    let mut c = Context::new();
    c.set_all(
        "s3:RequestObjectTagKeys",
        vec!["project".into(), "cost".into()],
    );
    assert_eq!(
        decide(&[&any], Some(APP), "s3:PutObject", "arn:aws:s3:::b/k", &c),
        Decision::Allow
    );
    assert_eq!(
        decide(&[&all], Some(APP), "s3:PutObject", "arn:aws:s3:::b/k", &c),
        Decision::ImplicitDeny
    );
    let empty = Context::new();
    assert_eq!(
        decide(
            &[&all],
            Some(APP),
            "s3:PutObject",
            "arn:aws:s3:::b/k",
            &empty
        ),
        Decision::Allow,
        "ForAllValues is true for no values"
    );
    assert_eq!(
        decide(
            &[&any],
            Some(APP),
            "s3:PutObject",
            "arn:aws:s3:::b/k",
            &empty
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn not_action_not_resource_not_principal_and_variables() {
    let not = Policy::parse(
        r#"{"Statement":{"Effect":"Allow","NotAction":"s3:Delete*","NotResource":"arn:aws:s3:::b/private/*"}}"#,
    )
    .unwrap();
    let c = ctx(&[("aws:username", "ana")]);
    assert_eq!(
        decide(
            &[&not],
            Some(APP),
            "s3:GetObject",
            "arn:aws:s3:::b/public/x",
            &c
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(
            &[&not],
            Some(APP),
            "s3:DeleteObject",
            "arn:aws:s3:::b/public/x",
            &c
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &[&not],
            Some(APP),
            "s3:GetObject",
            "arn:aws:s3:::b/private/x",
            &c
        ),
        Decision::ImplicitDeny
    );
    let home = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}}"#,
    )
    .unwrap();
    assert_eq!(
        decide(
            &[&home],
            Some(APP),
            "s3:GetObject",
            "arn:aws:s3:::home/ana/a",
            &c
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(
            &[&home],
            Some(APP),
            "s3:GetObject",
            "arn:aws:s3:::home/bob/a",
            &c
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &[&home],
            Some(APP),
            "s3:GetObject",
            "arn:aws:s3:::home/ana/a",
            &Context::new()
        ),
        Decision::ImplicitDeny,
        "a missing variable matches nothing"
    );
    let np = Policy::parse(r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/admin"},"Action":"s3:PutBucketPolicy","Resource":"*"}}"#).unwrap();
    assert_eq!(
        decide(
            &[&np],
            Some(APP),
            "s3:PutBucketPolicy",
            "arn:aws:s3:::b",
            &Context::new()
        ),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(
            &[&np],
            Some("arn:aws:iam::123456789012:user/admin"),
            "s3:PutBucketPolicy",
            "arn:aws:s3:::b",
            &Context::new()
        ),
        Decision::ImplicitDeny
    );
    let account = Policy::parse(r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":"*"}}"#).unwrap();
    assert_eq!(
        decide(
            &[&account],
            Some(APP),
            "s3:GetObject",
            "arn:aws:s3:::b/x",
            &Context::new()
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(
            &[&account],
            None,
            "s3:GetObject",
            "arn:aws:s3:::b/x",
            &Context::new()
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn malformed_policies_are_refused_with_the_problem_named() {
    let cases = [
        ("not json", "valid JSON"),
        (r#"[]"#, "JSON object"),
        (r#"{"Version":"2012-10-17"}"#, "Statement"),
        (r#"{"Statement":[]}"#, "Statement"),
        (
            r#"{"Statement":{"Effect":"Maybe","Action":"s3:*"}}"#,
            "Effect",
        ),
        (r#"{"Statement":{"Effect":"Allow"}}"#, "Action"),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"GetObject"}}"#,
            "service:Action",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket/*"}}"#,
            "not an ARN",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Principal":{"AWS":"arn:aws:iam::1:user/*"}}}"#,
            "wildcards",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Condition":{"StringEqualz":{"a":"b"}}}}"#,
            "unknown condition operator",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}}}"#,
            "IpAddress",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}}"#,
            "NumericLessThan",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Actoin":"x"}}"#,
            "unknown field",
        ),
        (
            r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"s3:*"}}"#,
            "Version",
        ),
        (
            r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:*"},{"Sid":"A","Effect":"Deny","Action":"s3:*"}]}"#,
            "unique",
        ),
    ];
    for (text, needle) in cases {
        let e = Policy::parse(text).expect_err(text);
        assert!(e.0.contains(needle), "{text}: {e}");
    }
}

/// Small deterministic generator for the two properties below.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

fn random_statement(r: &mut Lcg) -> String {
    let effect = ["Allow", "Deny"][r.next(2)];
    let action = ["s3:*", "s3:Get*", "s3:PutObject", "s3:ListBucket"][r.next(4)];
    let resource = [
        "*",
        "arn:aws:s3:::b/*",
        "arn:aws:s3:::b",
        "arn:aws:s3:::b/a*",
    ][r.next(4)];
    let cond = [
        "",
        r#","Condition":{"Bool":{"aws:SecureTransport":"false"}}"#,
        r#","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        r#","Condition":{"StringLike":{"s3:prefix":"a*"}}"#,
    ][r.next(4)];
    format!(r#"{{"Effect":"{effect}","Action":"{action}","Resource":"{resource}"{cond}}}"#)
}

#[test]
fn properties_deny_dominates_and_order_does_not_matter() {
    let mut r = Lcg(42);
    let requests = [
        ("s3:GetObject", "arn:aws:s3:::b/a1"),
        ("s3:PutObject", "arn:aws:s3:::b/x"),
        ("s3:ListBucket", "arn:aws:s3:::b"),
    ];
    let contexts = [
        ctx(&[
            ("aws:SecureTransport", "true"),
            ("aws:SourceIp", "10.1.2.3"),
            ("s3:prefix", "ab"),
        ]),
        ctx(&[
            ("aws:SecureTransport", "false"),
            ("aws:SourceIp", "192.0.2.1"),
        ]),
    ];
    for _ in 0..300 {
        let n = 1 + r.next(5);
        let stmts: Vec<String> = (0..n).map(|_| random_statement(&mut r)).collect();
        let policy = Policy::parse(&format!(r#"{{"Statement":[{}]}}"#, stmts.join(","))).unwrap();
        let mut reversed = stmts.clone();
        reversed.reverse();
        let reversed =
            Policy::parse(&format!(r#"{{"Statement":[{}]}}"#, reversed.join(","))).unwrap();
        let extra_deny = random_statement(&mut r).replace("\"Allow\"", "\"Deny\"");
        let with_deny = Policy::parse(&format!(
            r#"{{"Statement":[{},{extra_deny}]}}"#,
            stmts.join(",")
        ))
        .unwrap();
        for (action, resource) in requests {
            for c in &contexts {
                let d = decide(&[&policy], Some(APP), action, resource, c);
                assert_eq!(
                    d,
                    decide(&[&reversed], Some(APP), action, resource, c),
                    "order changed the outcome"
                );
                let d2 = decide(&[&with_deny], Some(APP), action, resource, c);
                if d != Decision::Allow {
                    assert_ne!(
                        d2,
                        Decision::Allow,
                        "adding a Deny turned a deny into an allow"
                    );
                }
            }
        }
    }
}

#[test]
fn the_log_bucket_policy_admits_only_log_delivery_from_our_bucket() {
    let text = include_str!("../../../config/buckets/leadshop-security-logs/policy.json")
        .replace("${partition}", "aws")
        .replace("${bucket}", "leadshop-security-logs")
        .replace("${source_bucket}", "leadshop-assets")
        .replace("${account_id}", ACCOUNT);
    let p = Policy::parse(&text).unwrap();
    assert!(!p.is_public());
    let logging = "logging.s3.amazonaws.com";
    let target = "arn:aws:s3:::leadshop-security-logs/s3-access/2026-11-27-00-00-00-X";
    let from_us = ctx(&[
        ("aws:SecureTransport", "true"),
        ("aws:SourceArn", "arn:aws:s3:::leadshop-assets"),
        ("aws:SourceAccount", ACCOUNT),
    ]);
    let from_other = ctx(&[
        ("aws:SecureTransport", "true"),
        ("aws:SourceArn", "arn:aws:s3:::other"),
        ("aws:SourceAccount", ACCOUNT),
    ]);
    assert_eq!(
        decide(&[&p], Some(logging), "s3:PutObject", target, &from_us),
        Decision::Allow
    );
    assert_eq!(
        decide(&[&p], Some(logging), "s3:PutObject", target, &from_other),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&[&p], Some(logging), "s3:GetObject", target, &from_us),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&[&p], Some(APP), "s3:PutObject", target, &from_us),
        Decision::ImplicitDeny
    );
}

#[test]
fn named_buckets_are_the_exact_bucket_names_of_allow_statements() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::leadshop-assets/*"},
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:aws:s3:::leadshop-assets","arn:aws:s3:::reports"]},
        {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs-*/*"},
        {"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::secret"},
        {"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
    )
    .unwrap();
    assert_eq!(p.named_buckets(), ["leadshop-assets", "reports"]);
}

#[test]
fn unknown_actions_are_named_and_known_ones_and_wildcards_are_not() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:GetObjekt","s3:GetObject","s3:Get*","s3:*","cloudwatch:ListMetrics","s3:PutObjectVersionTagging"],"Resource":"*"},
            {"Effect":"Deny","Action":["ec2:RunInstances","S3:getobject","s3:Nothing*"],"Resource":"*"}]}"#,
    )
    .unwrap();
    assert_eq!(
        p.unknown_actions(),
        ["s3:GetObjekt", "ec2:RunInstances", "s3:Nothing*"]
    );
    assert!(app_identity().unknown_actions().is_empty());
}
