//! Access control, enforced: each setting is shown by a request it refuses and one it allows.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Delete, ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
};
use leadshop_keys::access_keys::{self as keys, KeyPaths};

use crate::common::{TestServer, code, status};

const ASSETS: &str = "leadshop-assets";
const LOGS: &str = "leadshop-security-logs";

fn public_read(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    )
}

#[tokio::test]
async fn baseline_policy_and_public_access_block_are_served() {
    let srv = TestServer::start().await;
    let admin = srv.admin();
    let policy = admin
        .get_bucket_policy()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let sids: Vec<&str> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert!(sids.contains(&"DenyInsecureTransport"), "{sids:?}");
    assert!(sids.contains(&"DenyOtherEncryption"), "{sids:?}");
    assert!(!policy.contains("${"), "placeholders rendered: {policy}");
    assert!(policy.contains("arn:aws:s3:::leadshop-assets/*"));

    let pab = admin
        .get_public_access_block()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    assert_eq!(pab.block_public_acls, Some(true));
    assert_eq!(pab.ignore_public_acls, Some(true));
    assert_eq!(pab.block_public_policy, Some(true));
    assert_eq!(pab.restrict_public_buckets, Some(true));
    let status_out = admin
        .get_bucket_policy_status()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap();
    assert_eq!(status_out.policy_status.unwrap().is_public, Some(false));
}

#[tokio::test]
async fn plain_http_is_refused_by_the_policy_and_browsers_redirected() {
    let srv = TestServer::start().await;
    let http = srv.plain_http_client("admin");
    // Correctly signed by the admin key, but over plain HTTP: the baseline policy denies it
    // and nothing is written.
    let e = http
        .put_object()
        .bucket(ASSETS)
        .key("over-http")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert_eq!(status(&e), 403);
    let e = http
        .list_objects_v2()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = srv
        .admin()
        .head_object()
        .bucket(ASSETS)
        .key("over-http")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404, "nothing was written over HTTP");
    // A bucket without a policy: plain_http_api = false still refuses.
    let e = http.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Over HTTPS the same key and request succeed.
    srv.admin()
        .list_objects_v2()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn plain_http_is_evaluated_not_blanket_refused_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = crate::common::test_config(dir.path());
    cfg.plain_http_api = true;
    let srv = TestServer::start_in(dir, cfg).await;
    let http = srv.plain_http_client("admin");
    // The baseline policy still denies aws:SecureTransport = false on its buckets…
    let e = http
        .list_objects_v2()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // …but a bucket without such a policy is reachable, as on AWS.
    let b = crate::common::bucket("plainhttp");
    srv.admin().create_bucket().bucket(&b).send().await.unwrap();
    http.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_app_key_has_least_privilege() {
    let srv = TestServer::start().await;
    let app = srv.client("app");
    app.put_object()
        .bucket(ASSETS)
        .key("reports/a.pdf")
        .body(ByteStream::from_static(b"pdf"))
        .send()
        .await
        .unwrap();
    app.get_object()
        .bucket(ASSETS)
        .key("reports/a.pdf")
        .send()
        .await
        .unwrap();
    app.list_objects_v2().bucket(ASSETS).send().await.unwrap();

    let policy_err = app
        .put_bucket_policy()
        .bucket(ASSETS)
        .policy(public_read(ASSETS))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&policy_err), "AccessDenied");
    assert_eq!(status(&policy_err), 403);
    for e in [
        code(&app.list_objects_v2().bucket(LOGS).send().await.unwrap_err()),
        code(
            &app.put_object()
                .bucket(LOGS)
                .key("x")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .unwrap_err(),
        ),
        code(
            &app.create_bucket()
                .bucket("app-made")
                .send()
                .await
                .unwrap_err(),
        ),
        code(&app.list_buckets().send().await.unwrap_err()),
        code(
            &app.delete_public_access_block()
                .bucket(ASSETS)
                .send()
                .await
                .unwrap_err(),
        ),
        code(
            &app.get_bucket_policy()
                .bucket(ASSETS)
                .send()
                .await
                .unwrap_err(),
        ),
    ] {
        assert_eq!(e, "AccessDenied");
    }

    // Copying needs read access to the source: the log bucket is out of reach.
    srv.admin()
        .put_object()
        .bucket(LOGS)
        .key("s3-access/secret-log")
        .body(ByteStream::from_static(b"log"))
        .send()
        .await
        .unwrap();
    let e = app
        .copy_object()
        .bucket(ASSETS)
        .key("stolen")
        .copy_source(format!("{LOGS}/s3-access/secret-log"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    app.copy_object()
        .bucket(ASSETS)
        .key("reports/b.pdf")
        .copy_source(format!("{ASSETS}/reports/a.pdf"))
        .send()
        .await
        .unwrap();

    // DeleteObjects is authorised per key.
    let out = app
        .delete_objects()
        .bucket(ASSETS)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("reports/a.pdf")
                        .build()
                        .unwrap(),
                )
                .objects(
                    ObjectIdentifier::builder()
                        .key("reports/b.pdf")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 2, "{out:?}");
    let out = app
        .delete_objects()
        .bucket(LOGS)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("s3-access/secret-log")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.errors().len(), 1, "{out:?}");
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));
    srv.admin()
        .head_object()
        .bucket(LOGS)
        .key("s3-access/secret-log")
        .send()
        .await
        .expect("the log object survived");
}

#[tokio::test]
async fn the_baseline_denies_other_encryption_and_allows_aes256() {
    let srv = TestServer::start().await;
    let app = srv.client("app");
    let e = app
        .put_object()
        .bucket(ASSETS)
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let out = app
        .put_object()
        .bucket(ASSETS)
        .key("aes")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
}

#[tokio::test]
async fn public_access_block_is_enforced_and_conditional() {
    let srv = TestServer::start().await;
    let admin = srv.admin();
    let b = crate::common::bucket("public");
    admin.create_bucket().bucket(&b).send().await.unwrap();
    admin
        .put_object()
        .bucket(&b)
        .key("page.html")
        .body(ByteStream::from_static(b"<p>hi</p>"))
        .send()
        .await
        .unwrap();
    let path = format!("/{b}/page.html");

    // All four on: a public policy is refused at PutBucketPolicy, as AWS does.
    admin
        .put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let e = admin
        .put_bucket_policy()
        .bucket(&b)
        .policy(public_read(&b))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert_eq!(status(&e), 403);
    let (st, _) = srv.https_raw("GET", &path, &[]).await;
    assert_eq!(st, 403);

    // BlockPublicPolicy off, RestrictPublicBuckets on: the policy is stored but ineffective.
    admin
        .put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_policy(false)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    admin
        .put_bucket_policy()
        .bucket(&b)
        .policy(public_read(&b))
        .send()
        .await
        .unwrap();
    let status_out = admin
        .get_bucket_policy_status()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(status_out.policy_status.unwrap().is_public, Some(true));
    let (st, body) = srv.https_raw("GET", &path, &[]).await;
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");

    // All off: the public-read policy does let anonymous GETs through…
    admin
        .delete_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let (st, body) = srv.https_raw("GET", &path, &[]).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.ends_with("<p>hi</p>"), "{body}");
    // …but grants nothing else: anonymous writes and listings stay refused.
    let (st, _) = srv
        .https_raw("PUT", &format!("/{b}/evil"), &[("Content-Length", "0")])
        .await;
    assert_eq!(st, 403);
    let (st, _) = srv.https_raw("GET", &format!("/{b}"), &[]).await;
    assert_eq!(st, 403);
    // Deleting the policy ends public access.
    admin
        .delete_bucket_policy()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let e = admin
        .get_bucket_policy()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchBucketPolicy");
    let (st, _) = srv.https_raw("GET", &path, &[]).await;
    assert_eq!(st, 403);
    let e = admin
        .get_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchPublicAccessBlockConfiguration");
    assert_eq!(status(&e), 404);
}

#[tokio::test]
async fn malformed_policies_are_refused_with_the_problem_named() {
    let srv = TestServer::start().await;
    let admin = srv.admin();
    for (policy, needle) in [
        ("{not json", "valid JSON"),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other-bucket/*"}]}"#,
            "invalid resource",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::leadshop-assets/*"}]}"#,
            "Principal",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::leadshop-assets/*","Condition":{"StringEqualz":{"aws:UserAgent":"x"}}}]}"#,
            "StringEqualz",
        ),
    ] {
        let e = admin
            .put_bucket_policy()
            .bucket(ASSETS)
            .policy(policy)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "MalformedPolicy", "{policy}");
        assert_eq!(status(&e), 400);
        let msg = e
            .as_service_error()
            .and_then(|s| s.meta().message())
            .unwrap_or_default();
        assert!(msg.contains(needle), "{msg} should name {needle}");
    }
}

#[tokio::test]
async fn presigned_urls_work_until_they_expire() {
    let srv = TestServer::start().await;
    let app = srv.client("app");
    app.put_object()
        .bucket(ASSETS)
        .key("shots/a.png")
        .body(ByteStream::from_static(b"png"))
        .send()
        .await
        .unwrap();
    let presign = |start: std::time::SystemTime, secs: u64| {
        let app = app.clone();
        async move {
            let config = PresigningConfig::builder()
                .start_time(start)
                .expires_in(Duration::from_secs(secs))
                .build()
                .unwrap();
            let url = app
                .get_object()
                .bucket(ASSETS)
                .key("shots/a.png")
                .presigned(config)
                .await
                .unwrap()
                .uri()
                .to_string();
            url[url.find("/leadshop-assets").unwrap()..].to_string()
        }
    };
    let now = std::time::SystemTime::now();
    let (st, body) = srv.https_raw("GET", &presign(now, 300).await, &[]).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.ends_with("png"));
    // Signed an hour ago for a minute: expired, without waiting for the clock.
    let an_hour_ago = now - Duration::from_secs(3600);
    let (st, body) = srv
        .https_raw("GET", &presign(an_hour_ago, 60).await, &[])
        .await;
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains("expired"), "{body}");
    // Its X-Amz-Expires stretched to a day: the signature no longer holds.
    let stretched = presign(an_hour_ago, 60)
        .await
        .replace("X-Amz-Expires=60", "X-Amz-Expires=86400");
    let (st, body) = srv.https_raw("GET", &stretched, &[]).await;
    assert_eq!(st, 403, "{body}");
    assert!(
        body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );
}

#[tokio::test]
async fn keys_made_changed_and_deleted_while_running_take_effect_at_once() {
    let srv = TestServer::start().await;
    let paths = KeyPaths::new(srv.data_dir());
    let master = leadshop_keys::master_key::MasterSource::File(srv.data_dir().join("master.key"));
    // A read-only key for the reports/ prefix, using a policy variable and a condition.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::leadshop-assets/reports/*"},
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::leadshop-assets",
         "Condition":{"StringLike":{"s3:prefix":"reports/*"}}}]}"#;
    let reader = keys::create(&paths, &master, "reader", policy).unwrap();
    srv.admin()
        .put_object()
        .bucket(ASSETS)
        .key("reports/r.pdf")
        .body(ByteStream::from_static(b"r"))
        .send()
        .await
        .unwrap();
    let c = srv.client_with(&reader.access_key_id, &reader.secret_access_key, None);
    c.get_object()
        .bucket(ASSETS)
        .key("reports/r.pdf")
        .send()
        .await
        .unwrap();
    c.list_objects_v2()
        .bucket(ASSETS)
        .prefix("reports/")
        .send()
        .await
        .unwrap();
    let e = c
        .list_objects_v2()
        .bucket(ASSETS)
        .prefix("tmp/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "s3:prefix condition");
    let e = c
        .put_object()
        .bucket(ASSETS)
        .key("reports/w.pdf")
        .body(ByteStream::from_static(b"w"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    let rotated = keys::rotate(&paths, &master, "reader").unwrap();
    let e = c
        .get_object()
        .bucket(ASSETS)
        .key("reports/r.pdf")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidAccessKeyId", "the old id stops at once");
    let c2 = srv.client_with(&rotated.access_key_id, &rotated.secret_access_key, None);
    c2.get_object()
        .bucket(ASSETS)
        .key("reports/r.pdf")
        .send()
        .await
        .unwrap();
    keys::delete(&paths, "reader").unwrap();
    let e = c2
        .get_object()
        .bucket(ASSETS)
        .key("reports/r.pdf")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidAccessKeyId");
}

#[tokio::test]
async fn bucket_policy_conditions_see_the_request() {
    let srv = TestServer::start().await;
    let admin = srv.admin();
    let b = crate::common::bucket("conditions");
    admin.create_bucket().bucket(&b).send().await.unwrap();
    // Deny everything from outside 10.0.0.0/8: the test client (127.0.0.1) is outside, so
    // even the admin is refused; the explicit deny beats the admin's Allow.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"OnlyFromTheOffice","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/*","Condition":{{"NotIpAddress":{{"aws:SourceIp":"10.0.0.0/8"}}}}}}]}}"#
    );
    admin
        .put_bucket_policy()
        .bucket(&b)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let e = admin
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // The same range including loopback allows it.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"OnlyFromTheOffice","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/*","Condition":{{"NotIpAddress":{{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8","::1/128"]}}}}}}]}}"#
    );
    admin
        .put_bucket_policy()
        .bucket(&b)
        .policy(policy)
        .send()
        .await
        .unwrap();
    admin
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_damaged_stored_policy_fails_closed_until_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::common::test_config(dir.path());
    leadshop_server::start(cfg.clone())
        .await
        .unwrap()
        .shutdown()
        .await;
    // Damage the stored policy behind the server's back.
    {
        let master = leadshop_keys::master_key::load(&dir.path().join("master.key")).unwrap();
        let store =
            leadshop_store::Store::open(dir.path(), Some(leadshop_store::MasterKeys::new(master)))
                .unwrap();
        store
            .update_bucket(ASSETS, |b| {
                b.documents.insert(
                    "policy".into(),
                    serde_json::Value::String("{not json".into()),
                );
                Ok(())
            })
            .unwrap();
    }
    let srv = TestServer::start_in(dir, cfg).await;
    let admin = srv.admin();
    let e = admin
        .list_objects_v2()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "AccessDenied",
        "its Deny statements are not silently dropped"
    );
    // Replacing the policy is what stays possible.
    let baseline =
        leadshop_spec::BucketSpec::builtin(&leadshop_spec::TemplateVars::new("000000000000"))
            .unwrap()
            .into_iter()
            .find(|s| s.name == ASSETS)
            .unwrap()
            .policy
            .unwrap();
    admin
        .put_bucket_policy()
        .bucket(ASSETS)
        .policy(baseline)
        .send()
        .await
        .unwrap();
    admin.list_objects_v2().bucket(ASSETS).send().await.unwrap();
}
