use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use crate::common::{TestServer, bucket, code, status};

async fn versioned(srv: &TestServer, status: BucketVersioningStatus) -> String {
    let s3 = srv.admin();
    let b = bucket("ver");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(&b)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
    b
}

async fn body(s3: &aws_sdk_s3::Client, b: &str, k: &str, v: Option<&str>) -> Vec<u8> {
    let got = s3
        .get_object()
        .bucket(b)
        .key(k)
        .set_version_id(v.map(String::from))
        .send()
        .await
        .unwrap();
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn versions_delete_markers_and_restore() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = versioned(&srv, BucketVersioningStatus::Enabled).await;
    let v1 = s3
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"one"))
        .send()
        .await
        .unwrap();
    let v2 = s3
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"two"))
        .send()
        .await
        .unwrap();
    let (v1, v2) = (
        v1.version_id().unwrap().to_string(),
        v2.version_id().unwrap().to_string(),
    );
    assert_ne!(v1, v2);
    assert_eq!(body(&s3, &b, "k", None).await, b"two");
    assert_eq!(body(&s3, &b, "k", Some(&v1)).await, b"one");

    let del = s3.delete_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let marker = del.version_id().unwrap().to_string();
    let e = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchKey");
    let raw = e.raw_response().unwrap();
    assert_eq!(raw.headers().get("x-amz-delete-marker"), Some("true"));
    let e = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 405, "a delete marker cannot be read");
    assert!(
        s3.list_objects_v2()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .contents()
            .is_empty()
    );

    let versions = s3.list_object_versions().bucket(&b).send().await.unwrap();
    let ids: Vec<(&str, bool)> = versions
        .versions()
        .iter()
        .map(|v| (v.version_id().unwrap(), v.is_latest().unwrap()))
        .collect();
    assert_eq!(ids, [(v2.as_str(), false), (v1.as_str(), false)]);
    assert_eq!(versions.delete_markers().len(), 1);
    assert_eq!(
        versions.delete_markers()[0].version_id(),
        Some(marker.as_str())
    );
    assert_eq!(versions.delete_markers()[0].is_latest(), Some(true));

    // Removing the delete marker brings the object back.
    s3.delete_object()
        .bucket(&b)
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(body(&s3, &b, "k", None).await, b"two");
    // Deleting a version permanently.
    s3.delete_object()
        .bucket(&b)
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(body(&s3, &b, "k", None).await, b"one");
    let e = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchVersion");
    let e = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .version_id("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchVersion");
}

#[tokio::test]
async fn suspended_versioning_writes_the_null_version() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("nullver");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    // Written before versioning: the null version.
    s3.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"before"))
        .send()
        .await
        .unwrap();
    s3.put_bucket_versioning()
        .bucket(&b)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v = s3
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"enabled"))
        .send()
        .await
        .unwrap();
    let enabled_id = v.version_id().unwrap().to_string();
    assert_eq!(body(&s3, &b, "k", Some("null")).await, b"before");

    s3.put_bucket_versioning()
        .bucket(&b)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        s3.get_bucket_versioning()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .status(),
        Some(&BucketVersioningStatus::Suspended)
    );
    let put = s3
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"suspended"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.version_id(), Some("null"));
    // The new null version replaced the old one; the enabled-era version is kept.
    assert_eq!(body(&s3, &b, "k", Some("null")).await, b"suspended");
    assert_eq!(body(&s3, &b, "k", Some(&enabled_id)).await, b"enabled");
    let versions = s3.list_object_versions().bucket(&b).send().await.unwrap();
    let ids: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    assert_eq!(ids, ["null", enabled_id.as_str()]);

    let del = s3.delete_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(del.version_id(), Some("null"));
    assert_eq!(del.delete_marker(), Some(true));
    assert_eq!(body(&s3, &b, "k", Some(&enabled_id)).await, b"enabled");
}

#[tokio::test]
async fn list_object_versions_paginates_with_markers() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = versioned(&srv, BucketVersioningStatus::Enabled).await;
    for k in ["a", "b"] {
        for i in 0..3 {
            s3.put_object()
                .bucket(&b)
                .key(k)
                .body(ByteStream::from(vec![i]))
                .send()
                .await
                .unwrap();
        }
    }
    let mut seen = Vec::new();
    let (mut km, mut vm) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(&b)
            .max_keys(2)
            .set_key_marker(km.clone())
            .set_version_id_marker(vm.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.versions()
                .iter()
                .map(|v| (v.key().unwrap().to_string(), v.is_latest().unwrap())),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        km = page.next_key_marker().map(String::from);
        vm = page.next_version_id_marker().map(String::from);
    }
    let expected: Vec<(String, bool)> = [
        ("a", true),
        ("a", false),
        ("a", false),
        ("b", true),
        ("b", false),
        ("b", false),
    ]
    .iter()
    .map(|(k, l)| ((*k).to_string(), *l))
    .collect();
    assert_eq!(seen, expected);
}
