use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;

use crate::common::{TestServer, bucket, code};

async fn filled(srv: &TestServer, keys: &[&str]) -> String {
    let s3 = srv.admin();
    let b = bucket("list");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    for k in keys {
        s3.put_object()
            .bucket(&b)
            .key(*k)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    b
}

const KEYS: [&str; 9] = [
    "a.txt",
    "photos/2024/1.jpg",
    "photos/2024/2.jpg",
    "photos/2025/1.jpg",
    "photos/x.jpg",
    "reports/q1.pdf",
    "reports/q2.pdf",
    "tmp/u1",
    "z",
];

#[tokio::test]
async fn list_v2_prefix_delimiter_and_pagination() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = filled(&srv, &KEYS).await;

    let top = s3
        .list_objects_v2()
        .bucket(&b)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = top.contents().iter().filter_map(|o| o.key()).collect();
    let cps: Vec<&str> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["a.txt", "z"]);
    assert_eq!(cps, ["photos/", "reports/", "tmp/"]);
    assert_eq!(top.key_count(), Some(5));

    let photos = s3
        .list_objects_v2()
        .bucket(&b)
        .prefix("photos/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = photos.contents().iter().filter_map(|o| o.key()).collect();
    let cps: Vec<&str> = photos
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["photos/x.jpg"]);
    assert_eq!(cps, ["photos/2024/", "photos/2025/"]);

    // Page through everything two at a time, with and without a delimiter.
    for delimiter in [None, Some("/")] {
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(&b)
                .max_keys(2)
                .set_delimiter(delimiter.map(String::from))
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap();
            assert!(page.key_count().unwrap() <= 2);
            seen.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(String::from)),
            );
            seen.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(String::from)),
            );
            if page.is_truncated() != Some(true) {
                break;
            }
            token = page.next_continuation_token().map(String::from);
        }
        let expected: Vec<String> = match delimiter {
            None => KEYS.iter().map(|k| (*k).to_string()).collect(),
            Some(_) => ["a.txt", "photos/", "reports/", "tmp/", "z"]
                .iter()
                .map(|k| (*k).to_string())
                .collect(),
        };
        assert_eq!(seen, expected, "delimiter {delimiter:?}");
    }

    let after = s3
        .list_objects_v2()
        .bucket(&b)
        .start_after("reports/q1.pdf")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = after.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["reports/q2.pdf", "tmp/u1", "z"]);

    let e = s3
        .list_objects_v2()
        .bucket(&b)
        .continuation_token("zz-not-ours")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");
}

#[tokio::test]
async fn list_v1_markers_and_url_encoding() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = filled(&srv, &["a b", "caf\u{e9}", "plain", "x+y"]).await;
    let page = s3
        .list_objects()
        .bucket(&b)
        .max_keys(2)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a b", "caf\u{e9}"]);
    assert_eq!(page.is_truncated(), Some(true));
    let next = s3
        .list_objects()
        .bucket(&b)
        .marker(page.next_marker().unwrap_or("caf\u{e9}"))
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = next.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["plain", "x+y"]);

    // The Rust SDK hands url-encoded keys through as the server sent them (boto3 decodes).
    let enc = s3
        .list_objects_v2()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = enc.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a%20b", "caf%C3%A9", "plain", "x%2By"]);
}

#[tokio::test]
async fn max_keys_zero_and_empty_delimiters() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = filled(&srv, &["a/1", "a/2", "b"]).await;
    // max-keys=0: nothing, and nothing more to fetch.
    let v2 = s3
        .list_objects_v2()
        .bucket(&b)
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            v2.is_truncated(),
            v2.key_count(),
            v2.next_continuation_token()
        ),
        (Some(false), Some(0), None)
    );
    let v1 = s3
        .list_objects()
        .bucket(&b)
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert_eq!((v1.is_truncated(), v1.contents().len()), (Some(false), 0));
    let vs = s3
        .list_object_versions()
        .bucket(&b)
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert_eq!((vs.is_truncated(), vs.versions().len()), (Some(false), 0));
    // An empty delimiter groups nothing and is not echoed.
    let all = s3
        .list_objects_v2()
        .bucket(&b)
        .delimiter("")
        .send()
        .await
        .unwrap();
    assert_eq!(all.delimiter(), None);
    assert!(all.common_prefixes().is_empty());
    assert_eq!(all.contents().len(), 3);
    let v1 = s3
        .list_objects()
        .bucket(&b)
        .delimiter("")
        .send()
        .await
        .unwrap();
    assert_eq!((v1.delimiter(), v1.contents().len()), (None, 3));
    // Without a delimiter a truncated v1 page has no NextMarker: the last key is the marker.
    let page = s3
        .list_objects()
        .bucket(&b)
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (page.is_truncated(), page.next_marker()),
        (Some(true), None)
    );
    let page = s3
        .list_objects()
        .bucket(&b)
        .max_keys(1)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(page.next_marker(), Some("a/"));
}
