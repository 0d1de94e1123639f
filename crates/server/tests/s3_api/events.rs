//! Request records: each S3 request produces one, with what access logs and metrics need, and
//! subscribers receive them off the request path.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use leadshop_server::events::{RequestRecord, Subscriber};
use leadshop_spec::Operation;

use crate::common::{TestServer, test_config};

const ASSETS: &str = "leadshop-assets";

#[derive(Default)]
struct Collect(Mutex<Vec<RequestRecord>>);

impl Subscriber for Collect {
    fn name(&self) -> &'static str {
        "test"
    }
    fn on_request(&self, record: &RequestRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

impl Collect {
    /// Waits (up to 10 s) for the record of the first request matching `f`: delivery is
    /// asynchronous by design.
    async fn find(&self, f: impl Fn(&RequestRecord) -> bool) -> RequestRecord {
        for _ in 0..1000 {
            if let Some(r) = self.0.lock().unwrap().iter().find(|r| f(r)) {
                return r.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no such record among {:#?}", self.0.lock().unwrap());
    }
}

#[tokio::test]
async fn every_request_produces_one_record_with_what_logs_need() {
    let sub = Arc::new(Collect::default());
    let dir = tempfile::tempdir().unwrap();
    let options = leadshop_server::StartOptions {
        subscribers: vec![sub.clone()],
        ..Default::default()
    };
    let handle = leadshop_server::start_with(test_config(dir.path()), options)
        .await
        .unwrap();
    let srv = TestServer { handle, dir };
    let app = srv.client("app");
    let put = app
        .put_object()
        .bucket(ASSETS)
        .key("shots/a.png")
        .body(ByteStream::from_static(b"0123456789"))
        .send()
        .await
        .unwrap();
    let got = app
        .get_object()
        .bucket(ASSETS)
        .key("shots/a.png")
        .range("bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"2345"
    );
    let _ = app
        .list_objects_v2()
        .bucket("leadshop-security-logs")
        .send()
        .await;
    let _ = app.head_object().bucket(ASSETS).key("missing").send().await;

    let w = sub
        .find(|r| r.operation == Some(Operation::PutObject))
        .await;
    assert_eq!(w.status, 200);
    assert_eq!(w.method, "PUT");
    assert_eq!(w.bucket.as_deref(), Some(ASSETS));
    assert_eq!(w.key.as_deref(), Some("shots/a.png"));
    assert!(
        w.principal.as_deref().unwrap().ends_with(":user/app"),
        "{w:?}"
    );
    assert!(w.access_key_id.is_some());
    assert_eq!(w.object_size, Some(10));
    assert!(w.bytes_in >= 10, "aws-chunked framing counts too: {w:?}");
    assert_eq!(w.version_id.as_deref(), put.version_id());
    assert_eq!(w.signature_version, Some("SigV4"));
    assert_eq!(w.auth_type, Some("AuthHeader"));
    assert_eq!(w.tls_version.as_deref(), Some("TLSv1.3"));
    assert!(w.tls_cipher.is_some() && w.host.is_some() && w.remote_ip.is_some());
    assert!(
        w.user_agent.as_deref().unwrap().contains("aws-sdk-rust"),
        "{w:?}"
    );
    assert!(w.time_ms > 0 && w.total_time >= w.first_byte_time);
    assert_eq!(w.error_code, None);
    assert_eq!(w.request_id.len(), 16);

    let r = sub
        .find(|r| r.operation == Some(Operation::GetObject))
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.bytes_out, 4, "the range sent");
    assert_eq!(r.object_size, Some(10), "the whole object");

    let denied = sub
        .find(|r| r.operation == Some(Operation::ListObjectsV2))
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.error_code.as_deref(), Some("AccessDenied"));
    assert!(denied.bytes_out > 0, "the error document was sent");

    let head = sub
        .find(|r| r.operation == Some(Operation::HeadObject))
        .await;
    assert_eq!(head.status, 404);
    assert_eq!(head.error_code.as_deref(), Some("NoSuchKey"));
    assert_eq!(head.object_size, None);

    // A request refused before the operation is known (a bad signature) still has a record.
    let (status, _) = srv
        .https_raw(
            "GET",
            "/leadshop-assets/x",
            &[(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIANOSUCHKEY0000000/20261130/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
            ), ("x-amz-date", "20261130T000000Z"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
        )
        .await;
    assert_eq!(status, 403);
    let refused = sub
        .find(|r| r.uri == "/leadshop-assets/x" && r.status == 403)
        .await;
    assert!(refused.error_code.is_some(), "{refused:?}");
    assert_eq!(refused.principal, None);

    // The server's own subscriber, read as a scraper reads it: the console's /metrics.
    let console = srv.handle.endpoints().console.clone();
    let want = "leadshop_requests_total{bucket=\"all\",operation=\"PutObject\",status=\"200\"} 1\n";
    let mut metrics = String::new();
    for _ in 0..1000 {
        metrics = scrape(console.trim_start_matches("http://")).await;
        if metrics.contains(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(metrics.contains(want), "{metrics}");
    assert!(metrics.contains("leadshop_events_dropped_total{subscriber=\"metrics\"} 0\n"));
    let sent = srv.stop().await;
    drop(sent);
}

async fn scrape(addr: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    out
}
