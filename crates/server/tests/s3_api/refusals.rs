//! Refusals no test showed before issue 10, each beside the request that is allowed.

use aws_sdk_s3::primitives::ByteStream;
use leadshop_keys::access_keys::{self as keys, KeyPaths};

use crate::common::{TestServer, code, status, test_config};

const ASSETS: &str = "leadshop-assets";

async fn put(c: &aws_sdk_s3::Client, key: &str, body: &'static [u8]) -> Result<(), String> {
    c.put_object()
        .bucket(ASSETS)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

/// The baseline's DenyWritesFromOutsideTheAccount: the bucket was bootstrapped for account
/// 000000000000; a server whose keys belong to another account (its `account_id` changed)
/// may read but not write, with an explicit deny; back in the account, it writes again.
#[tokio::test]
async fn writes_from_outside_the_account_are_denied_by_the_baseline() {
    let srv = TestServer::start().await;
    put(&srv.admin(), "acct/own", b"own").await.unwrap();
    let dir = srv.stop().await;

    let mut foreign = test_config(dir.path());
    foreign.account_id = "111111111111".into();
    let srv = TestServer::start_in(dir, foreign).await;
    let admin = srv.admin();
    let e = admin
        .put_object()
        .bucket(ASSETS)
        .key("acct/foreign")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let msg = e
        .as_service_error()
        .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::message(s))
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("explicit deny in a resource-based policy"),
        "{msg}"
    );
    let e = admin
        .delete_object()
        .bucket(ASSETS)
        .key("acct/own")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Reads are not what that statement governs.
    let got = admin
        .get_object()
        .bucket(ASSETS)
        .key("acct/own")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"own"
    );
    let dir = srv.stop().await;

    // Back in the account the policy names: the same write is allowed.
    let own = test_config(dir.path());
    let srv = TestServer::start_in(dir, own).await;
    put(&srv.admin(), "acct/back", b"back").await.unwrap();
}

/// UploadPartCopy reads its source: without s3:GetObject on it the copy is refused, and a
/// `versionId` in the copy source needs s3:GetObjectVersion.
#[tokio::test]
async fn upload_part_copy_needs_read_access_to_its_source() {
    let srv = TestServer::start().await;
    let admin = srv.admin();
    let v = admin
        .put_object()
        .bucket(ASSETS)
        .key("private/src")
        .body(ByteStream::from_static(b"source bytes"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    admin
        .put_object()
        .bucket(ASSETS)
        .key("shared/src")
        .body(ByteStream::from_static(b"shared bytes"))
        .send()
        .await
        .unwrap();
    let paths = KeyPaths::new(srv.data_dir());
    let master = leadshop_keys::master_key::MasterSource::File(srv.data_dir().join("master.key"));
    // May write anywhere, read only shared/* and only current versions.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload"],"Resource":"arn:aws:s3:::leadshop-assets/*"},
        {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::leadshop-assets/shared/*"}]}"#;
    let k = keys::create(&paths, &master, "copier", policy).unwrap();
    let c = srv.client_with(&k.access_key_id, &k.secret_access_key, None);
    let id = c
        .create_multipart_upload()
        .bucket(ASSETS)
        .key("out/dst")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let copy = |source: String| {
        c.upload_part_copy()
            .bucket(ASSETS)
            .key("out/dst")
            .upload_id(&id)
            .part_number(1)
            .copy_source(source)
            .send()
    };
    let e = copy(format!("{ASSETS}/private/src")).await.unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("AccessDenied", 403));
    copy(format!("{ASSETS}/shared/src")).await.unwrap();
    // The same readable source, but a named version: s3:GetObjectVersion, which it lacks.
    let shared_v = admin
        .head_object()
        .bucket(ASSETS)
        .key("shared/src")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    let e = copy(format!("{ASSETS}/shared/src?versionId={shared_v}"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = copy(format!("{ASSETS}/private/src?versionId={v}"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // The admin, who may read versions, copies the named version.
    let id2 = admin
        .create_multipart_upload()
        .bucket(ASSETS)
        .key("out/dst2")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    admin
        .upload_part_copy()
        .bucket(ASSETS)
        .key("out/dst2")
        .upload_id(&id2)
        .part_number(1)
        .copy_source(format!("{ASSETS}/private/src?versionId={v}"))
        .send()
        .await
        .unwrap();
}

/// `X-Forwarded-Proto: https` is believed only from a trusted proxy: from anyone else a plain
/// HTTP request stays plain HTTP and the baseline refuses it.
#[tokio::test]
async fn forwarded_proto_counts_only_from_trusted_proxies() {
    let forwarded = |c: aws_sdk_s3::Client| async move {
        c.list_objects_v2()
            .bucket(ASSETS)
            .customize()
            .mutate_request(|r| {
                r.headers_mut().insert("x-forwarded-proto", "https");
            })
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code(&e))
    };
    let srv = TestServer::start().await;
    assert_eq!(
        forwarded(srv.plain_http_client("admin")).await,
        Err("AccessDenied".into()),
        "an untrusted peer's claim is ignored"
    );
    drop(srv.stop().await);

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.trusted_proxies = vec!["127.0.0.1".into()];
    let srv = TestServer::start_in(dir, cfg).await;
    assert_eq!(
        forwarded(srv.plain_http_client("admin")).await,
        Ok(()),
        "a trusted proxy terminated TLS"
    );
    // From the trusted proxy without the header, it is plain HTTP again.
    let e = srv
        .plain_http_client("admin")
        .list_objects_v2()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}
