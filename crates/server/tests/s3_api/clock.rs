//! Time-dependent behaviour on a test clock: the server takes wall-clock time from one
//! `Clock`, so a test moves time forward instead of sleeping.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use leadshop_keys::access_keys::{self as keys, KeyPaths};
use leadshop_store::{Clock, TestClock};

use crate::common::{TestServer, code, test_config};

const ASSETS: &str = "leadshop-assets";
const DAY: Duration = Duration::from_secs(86_400);

pub(crate) async fn server_on(clock: &std::sync::Arc<TestClock>) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = leadshop_server::StartOptions {
        clock: clock.clone(),
        ..Default::default()
    };
    let handle = leadshop_server::start_with(test_config(dir.path()), options)
        .await
        .expect("server starts");
    TestServer { handle, dir }
}

#[tokio::test]
async fn a_presigned_url_expires_when_the_clock_passes_its_time() {
    let clock = TestClock::starting_now();
    let srv = server_on(&clock).await;
    let app = srv.client("app");
    app.put_object()
        .bucket(ASSETS)
        .key("shots/a.png")
        .body(ByteStream::from_static(b"png"))
        .send()
        .await
        .unwrap();
    let config = PresigningConfig::builder()
        .start_time(clock.now())
        .expires_in(Duration::from_secs(60))
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
    let path = &url[url.find("/leadshop-assets").unwrap()..];

    clock.advance(Duration::from_secs(60));
    let (st, body) = srv.https_raw("GET", path, &[]).await;
    assert_eq!(st, 200, "at its last second the URL still reads: {body}");
    assert!(body.ends_with("png"));

    clock.advance(Duration::from_secs(1));
    let (st, body) = srv.https_raw("GET", path, &[]).await;
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains("Request has expired"), "{body}");
}

#[tokio::test]
async fn a_policy_bounded_by_aws_current_time_stops_allowing_at_its_date() {
    let clock = TestClock::starting_now();
    let srv = server_on(&clock).await;
    let admin = srv.admin();
    admin
        .put_object()
        .bucket(ASSETS)
        .key("reports/q3.pdf")
        .body(ByteStream::from_static(b"%PDF"))
        .send()
        .await
        .unwrap();
    // A contractor may read reports for one day from now.
    // Policies compare whole seconds (`aws:CurrentTime` has no fraction).
    let until = time::OffsetDateTime::from_unix_timestamp(clock.now_secs() + 86_400)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject",
        "Resource":"arn:aws:s3:::leadshop-assets/reports/*",
        "Condition":{{"DateLessThan":{{"aws:CurrentTime":"{until}"}}}}}}]}}"#
    );
    let master = leadshop_keys::master_key::MasterSource::File(srv.data_dir().join("master.key"));
    let key = keys::create(
        &KeyPaths::new(srv.data_dir()),
        &master,
        "contractor",
        &policy,
    )
    .unwrap();
    let contractor = srv.client_with(&key.access_key_id, &key.secret_access_key, None);
    let read = || {
        contractor
            .get_object()
            .bucket(ASSETS)
            .key("reports/q3.pdf")
            .send()
    };

    read().await.expect("allowed before the date");
    clock.advance(DAY - Duration::from_secs(1));
    read().await.expect("allowed a second before the date");
    clock.advance(Duration::from_secs(1));
    let err = read().await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
}

#[tokio::test]
async fn records_are_stamped_by_the_clock() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let clock = TestClock::at(start);
    // The SDK signs with the real time; the server's clock only stamps and evaluates.
    let srv = server_on(&clock).await;
    let admin = srv.admin();
    let put = |key: &'static str| {
        admin
            .put_object()
            .bucket(ASSETS)
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
    };
    // Not under tmp/: the bucket expires those a day old, and the lifecycle worker may
    // remove the first one as soon as the clock jumps.
    put("stamps/first").await.unwrap();
    clock.advance(30 * DAY);
    put("stamps/second").await.unwrap();
    let stamp = |key: &'static str| {
        let admin = admin.clone();
        async move {
            let head = admin
                .head_object()
                .bucket(ASSETS)
                .key(key)
                .send()
                .await
                .unwrap();
            head.last_modified().unwrap().secs()
        }
    };
    assert_eq!(stamp("stamps/first").await, 1_790_000_000);
    assert_eq!(stamp("stamps/second").await, 1_790_000_000 + 30 * 86_400);
}

#[tokio::test]
async fn a_glacier_restore_completes_and_expires_on_the_clock() {
    use aws_sdk_s3::types::{GlacierJobParameters, RestoreRequest, StorageClass, Tier};
    let clock = TestClock::starting_now();
    let srv = server_on(&clock).await;
    let s3 = srv.admin();
    s3.put_object()
        .bucket(ASSETS)
        .key("cold")
        .storage_class(StorageClass::Glacier)
        .body(ByteStream::from_static(b"archived"))
        .send()
        .await
        .unwrap();
    let get = || s3.get_object().bucket(ASSETS).key("cold").send();
    assert_eq!(code(&get().await.unwrap_err()), "InvalidObjectState");
    let restore = |days: i32| {
        s3.restore_object()
            .bucket(ASSETS)
            .key("cold")
            .restore_request(
                RestoreRequest::builder()
                    .days(days)
                    .glacier_job_parameters(
                        GlacierJobParameters::builder()
                            .tier(Tier::Standard)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
    };
    restore(1).await.unwrap();
    let restore_header = || async {
        s3.head_object()
            .bucket(ASSETS)
            .key("cold")
            .send()
            .await
            .unwrap()
            .restore()
            .map(str::to_string)
    };
    // GLACIER Standard: five hours.
    clock.advance(Duration::from_secs(4 * 3600));
    assert_eq!(
        restore_header().await.as_deref(),
        Some("ongoing-request=\"true\"")
    );
    assert_eq!(
        code(&restore(1).await.unwrap_err()),
        "RestoreAlreadyInProgress"
    );
    assert_eq!(code(&get().await.unwrap_err()), "InvalidObjectState");
    clock.advance(Duration::from_secs(3600));
    let header = restore_header().await.unwrap();
    assert!(
        header.starts_with("ongoing-request=\"false\", expiry-date=\""),
        "{header}"
    );
    let body = get()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(body.as_ref(), b"archived");
    // One day later the copy is gone.
    clock.advance(DAY);
    assert_eq!(restore_header().await, None);
    assert_eq!(code(&get().await.unwrap_err()), "InvalidObjectState");
}
