//! Bucket CORS: the configuration API with AWS's validation, preflights answered from the
//! rules without credentials, and CORS headers on actual responses (errors and presigned
//! URLs included) only for allowed origins.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::common::{TestServer, bucket, code, status};

const ASSETS: &str = "leadshop-assets";

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap_or("");
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn the_baseline_bucket_has_the_rules_of_its_cors_document() {
    let srv = TestServer::start().await;
    let got = srv
        .admin()
        .get_bucket_cors()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap();
    let rules = got.cors_rules();
    assert_eq!(rules.len(), 1);
    let r = &rules[0];
    assert_eq!(r.id(), Some("web-app-uploads"));
    assert_eq!(
        r.allowed_origins(),
        ["http://localhost:3000", "https://staging.leadfactory.com"]
    );
    assert_eq!(r.allowed_methods(), ["GET", "HEAD", "PUT", "POST"]);
    assert_eq!(r.allowed_headers(), ["*"]);
    assert_eq!(
        r.expose_headers(),
        ["ETag", "x-amz-version-id", "x-amz-request-id"]
    );
    assert_eq!(r.max_age_seconds(), Some(3000));
}

#[tokio::test]
async fn put_get_delete_round_trip_with_aws_validation() {
    let srv = TestServer::start().await;
    let admin = srv.admin();
    let b = bucket("cors-api");
    admin.create_bucket().bucket(&b).send().await.unwrap();
    let e = admin.get_bucket_cors().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchCORSConfiguration");
    assert_eq!(status(&e), 404);

    let rule = |origin: &str, method: &str| {
        CorsRule::builder()
            .allowed_origins(origin)
            .allowed_methods(method)
            .build()
            .unwrap()
    };
    let put = |rules: Vec<CorsRule>| {
        admin.put_bucket_cors().bucket(&b).cors_configuration(
            CorsConfiguration::builder()
                .set_cors_rules(Some(rules))
                .build()
                .unwrap(),
        )
    };
    let e = put(vec![rule("https://a.example", "PATCH")])
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
    let e = put(vec![rule("https://*.*.example", "GET")])
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
    let e = put((0..101).map(|_| rule("*", "GET")).collect())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");

    put(vec![
        CorsRule::builder()
            .id("app")
            .allowed_origins("https://*.leadfactory.com")
            .allowed_methods("PUT")
            .allowed_headers("content-type")
            .expose_headers("ETag")
            .max_age_seconds(60)
            .build()
            .unwrap(),
    ])
    .send()
    .await
    .unwrap();
    let got = admin.get_bucket_cors().bucket(&b).send().await.unwrap();
    assert_eq!(
        got.cors_rules()[0].allowed_origins(),
        ["https://*.leadfactory.com"]
    );
    assert_eq!(got.cors_rules()[0].max_age_seconds(), Some(60));
    // Applied at once (the store's change notice refreshes the cached configuration).
    let (st, text) = srv
        .https_raw(
            "OPTIONS",
            &format!("/{b}/k"),
            &[
                ("Origin", "https://app.leadfactory.com"),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "Content-Type"),
            ],
        )
        .await;
    assert_eq!(st, 200, "{text}");
    assert_eq!(header(&text, "access-control-max-age"), Some("60"));

    admin.delete_bucket_cors().bucket(&b).send().await.unwrap();
    let e = admin.get_bucket_cors().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchCORSConfiguration");
    let (st, text) = srv
        .https_raw(
            "OPTIONS",
            &format!("/{b}/k"),
            &[
                ("Origin", "https://app.leadfactory.com"),
                ("Access-Control-Request-Method", "PUT"),
            ],
        )
        .await;
    assert_eq!(st, 403);
    assert!(
        text.contains("CORS is not enabled for this bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn preflights_are_decided_by_origin_method_and_each_requested_header() {
    let srv = TestServer::start().await;
    let pre = |origin: &'static str, method: &'static str, headers: Option<&'static str>| {
        let srv = &srv;
        async move {
            let mut h = vec![
                ("Origin", origin),
                ("Access-Control-Request-Method", method),
            ];
            if let Some(v) = headers {
                h.push(("Access-Control-Request-Headers", v));
            }
            // No credentials: a preflight is never signed.
            srv.https_raw("OPTIONS", "/leadshop-assets/uploads/a.png", &h)
                .await
        }
    };
    let (st, text) = pre(
        "http://localhost:3000",
        "PUT",
        Some("content-type, x-amz-meta-lead"),
    )
    .await;
    assert_eq!(st, 200, "{text}");
    assert_eq!(
        header(&text, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        header(&text, "access-control-allow-methods"),
        Some("GET, HEAD, PUT, POST")
    );
    assert_eq!(
        header(&text, "access-control-allow-headers"),
        Some("content-type, x-amz-meta-lead")
    );
    assert_eq!(header(&text, "access-control-max-age"), Some("3000"));
    assert_eq!(
        header(&text, "access-control-expose-headers"),
        Some("ETag, x-amz-version-id, x-amz-request-id")
    );
    assert_eq!(
        header(&text, "access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(header(&text, "vary"), Some("Origin"));
    assert_eq!(
        pre("https://staging.leadfactory.com", "POST", None).await.0,
        200
    );

    for (origin, method) in [
        ("http://localhost:3001", "PUT"),
        ("https://evil.example", "GET"),
        ("http://localhost:3000", "DELETE"),
    ] {
        let (st, text) = pre(origin, method, None).await;
        assert_eq!(st, 403, "{origin} {method}");
        assert!(
            text.contains("CORSResponse: This CORS request is not allowed"),
            "{text}"
        );
        assert_eq!(header(&text, "access-control-allow-origin"), None);
    }
    let (st, text) = srv
        .https_raw(
            "OPTIONS",
            "/leadshop-assets/a",
            &[("Access-Control-Request-Method", "GET")],
        )
        .await;
    assert_eq!(st, 400);
    assert!(text.contains("Origin request header needed"), "{text}");
    let (st, _) = srv
        .https_raw(
            "OPTIONS",
            "/no-such-bucket/a",
            &[
                ("Origin", "http://localhost:3000"),
                ("Access-Control-Request-Method", "GET"),
            ],
        )
        .await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn actual_responses_carry_cors_headers_only_for_allowed_origins() {
    let srv = TestServer::start().await;
    let admin = srv.admin();
    admin
        .put_object()
        .bucket(ASSETS)
        .key("cors/a.txt")
        .body(ByteStream::from_static(b"a"))
        .send()
        .await
        .unwrap();
    let url = admin
        .get_object()
        .bucket(ASSETS)
        .key("cors/a.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let path = url.uri().split_once("://").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    let (st, text) = srv
        .https_raw("GET", path, &[("Origin", "http://localhost:3000")])
        .await;
    assert_eq!(st, 200, "{text}");
    assert_eq!(
        header(&text, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert!(
        header(&text, "access-control-expose-headers")
            .unwrap()
            .contains("ETag")
    );
    assert_eq!(header(&text, "vary"), Some("Origin"));

    // An error response gets them too (the page must be able to read the error).
    let (st, text) = srv
        .https_raw(
            "GET",
            "/leadshop-assets/cors/missing.txt",
            &[("Origin", "http://localhost:3000")],
        )
        .await;
    assert_eq!(st, 403, "anonymous");
    assert_eq!(
        header(&text, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );

    // Another origin: no CORS headers at all, only Vary.
    let (_, text) = srv
        .https_raw("GET", path, &[("Origin", "http://localhost:3001")])
        .await;
    assert_eq!(header(&text, "access-control-allow-origin"), None);
    assert_eq!(header(&text, "vary"), Some("Origin"));
    // No Origin: nothing.
    let (_, text) = srv.https_raw("GET", path, &[]).await;
    assert_eq!(header(&text, "access-control-allow-origin"), None);
}

/// Browsers and the JavaScript SDK address `https://<bucket>.localhost:<port>`: the host names
/// the bucket, the development CA vouches for that name, and CORS applies there too.
#[tokio::test]
async fn virtual_hosted_requests_get_their_own_certificate_and_work_like_path_style() {
    let srv = TestServer::start().await;
    let port = srv.endpoint().rsplit_once(':').unwrap().1.to_string();
    let virtual_client = aws_sdk_s3::Client::from_conf(
        srv.admin()
            .config()
            .to_builder()
            .endpoint_url(format!("https://localhost:{port}"))
            .force_path_style(false)
            .build(),
    );
    let presign = PresigningConfig::expires_in(Duration::from_secs(60)).unwrap();
    let put = virtual_client
        .put_object()
        .bucket(ASSETS)
        .key("virtual/big.bin")
        .presigned(presign.clone())
        .await
        .unwrap();
    assert!(put.uri().starts_with(&format!(
        "https://leadshop-assets.localhost:{port}/virtual/big.bin?"
    )));
    let path_of = |uri: &str| {
        let rest = uri.split_once("://").unwrap().1;
        rest[rest.find('/').unwrap()..].to_string()
    };
    // 2 MiB: an object upload, not an XML body, although the path has no bucket in it.
    let body = crate::common::bytes(2 * 1024 * 1024, 7);
    let (st, text) = srv
        .https_raw_to(
            "leadshop-assets.localhost",
            "PUT",
            &path_of(put.uri()),
            &[],
            &body,
        )
        .await;
    assert_eq!(st, 200, "{text}");
    let get = virtual_client
        .get_object()
        .bucket(ASSETS)
        .key("virtual/big.bin")
        .presigned(presign)
        .await
        .unwrap();
    let (st, text) = srv
        .https_raw_to(
            "leadshop-assets.localhost",
            "GET",
            &path_of(get.uri()),
            &[("Origin", "http://localhost:3000")],
            &[],
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(header(&text, "content-length"), Some("2097152"));
    assert_eq!(
        header(&text, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    // What path style stored is what virtual hosting reads.
    let got = srv
        .admin()
        .get_object()
        .bucket(ASSETS)
        .key("virtual/big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &body[..]
    );

    let (st, text) = srv
        .https_raw_to(
            "leadshop-assets.localhost",
            "OPTIONS",
            "/virtual/big.bin",
            &[
                ("Origin", "http://localhost:3000"),
                ("Access-Control-Request-Method", "PUT"),
            ],
            &[],
        )
        .await;
    assert_eq!(st, 200, "{text}");
    // A signed request through the SDK with virtual addressing needs DNS for *.localhost,
    // which this machine's resolver lacks; browsers resolve it themselves (tests/browser).
}
