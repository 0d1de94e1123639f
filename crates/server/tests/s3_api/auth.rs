use std::io::{Read, Write};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;

use crate::common::{TestServer, code, status};

#[tokio::test]
async fn wrong_keys_skew_and_both_bootstrap_keys() {
    let srv = TestServer::start().await;
    let admin = srv
        .handle
        .state()
        .core
        .keys
        .by_name("admin")
        .unwrap()
        .clone();

    let unknown = srv.client_with("AKIAUNKNOWNKEY000000", "x", None);
    let e = unknown.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidAccessKeyId");
    assert_eq!(status(&e), 403);

    let wrong = srv.client_with(
        &admin.access_key_id,
        "wrong-secret-wrong-secret-wrong-secret00",
        None,
    );
    let e = wrong.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e), "SignatureDoesNotMatch");
    let e = wrong
        .put_object()
        .bucket("leadshop-assets")
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "SignatureDoesNotMatch");

    let skewed = srv.client_with(
        &admin.access_key_id,
        &admin.secret_access_key,
        Some(SystemTime::now() - Duration::from_secs(20 * 60)),
    );
    let e = skewed.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e), "RequestTimeTooSkewed");
    assert_eq!(status(&e), 403);

    // Both bootstrap keys authenticate (what `app` may do: tests/s3_api/access.rs).
    srv.client("app")
        .head_bucket()
        .bucket("leadshop-assets")
        .send()
        .await
        .unwrap();
    srv.admin()
        .head_bucket()
        .bucket("leadshop-assets")
        .send()
        .await
        .unwrap();
}

fn raw_http(addr: &str, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn plain_http_redirects_browsers_and_refuses_api_requests() {
    let srv = TestServer::start().await;
    let http = srv
        .handle
        .endpoints()
        .http
        .trim_start_matches("http://")
        .to_string();
    let s3 = srv.endpoint();
    let (h1, h2) = (http.clone(), http.clone());
    let nav = tokio::task::spawn_blocking(move || {
        raw_http(&h1, "GET /leadshop-assets/a.png HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(nav.starts_with("HTTP/1.1 301"), "{nav}");
    assert!(
        nav.to_ascii_lowercase()
            .contains(&format!("location: {s3}/leadshop-assets/a.png")),
        "{nav}"
    );
    let api = tokio::task::spawn_blocking(move || {
        raw_http(&h2, "GET /leadshop-assets?list-type=2 HTTP/1.1\r\nHost: x\r\nx-amz-date: 20260101T000000Z\r\nConnection: close\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(api.starts_with("HTTP/1.1 403"), "{api}");
    assert!(api.contains("<Code>AccessDenied</Code>"), "{api}");
}

#[tokio::test]
async fn restart_keeps_objects_keys_and_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::common::test_config(dir.path());
    let srv = leadshop_server::start(cfg.clone()).await.unwrap();
    let id = srv.state().core.keys.by_name("admin").unwrap().clone();
    let ca = std::fs::read(dir.path().join("tls/ca.pem")).unwrap();
    let wrapper = TestServer { handle: srv, dir };
    wrapper
        .admin()
        .put_object()
        .bucket("leadshop-assets")
        .key("keep")
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap();
    let TestServer { handle, dir } = wrapper;
    handle.shutdown().await;

    let srv = leadshop_server::start(cfg).await.unwrap();
    assert_eq!(
        srv.state()
            .core
            .keys
            .by_name("admin")
            .unwrap()
            .access_key_id,
        id.access_key_id
    );
    assert_eq!(std::fs::read(dir.path().join("tls/ca.pem")).unwrap(), ca);
    let wrapper = TestServer { handle: srv, dir };
    let got = wrapper
        .admin()
        .get_object()
        .bucket("leadshop-assets")
        .key("keep")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"kept"
    );
}
