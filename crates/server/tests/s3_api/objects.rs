use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, Delete, MetadataDirective, ObjectIdentifier, StorageClass,
    Tag, Tagging,
};

use crate::common::{TestServer, bucket, bytes, code, files_under, status};

async fn new_bucket(srv: &TestServer, name: &str) -> String {
    let b = bucket(name);
    srv.admin().create_bucket().bucket(&b).send().await.unwrap();
    b
}

#[tokio::test]
async fn put_get_head_round_trip_with_headers_metadata_and_storage_class() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "roundtrip").await;
    let data = bytes(300_000, 1);
    let put = s3
        .put_object()
        .bucket(&b)
        .key("reports/r.pdf")
        .body(ByteStream::from(data.clone()))
        .content_type("application/pdf")
        .content_disposition("attachment; filename=\"r.pdf\"")
        .content_language("en")
        .cache_control("max-age=60")
        .metadata("Owner", "lead-42")
        .storage_class(StorageClass::StandardIa)
        .tagging("kind=report&tier=a%20b")
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_string();
    assert_eq!(etag, format!("\"{:x}\"", md5_of(&data)));
    assert_eq!(put.version_id(), None, "unversioned bucket");

    let got = s3
        .get_object()
        .bucket(&b)
        .key("reports/r.pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    assert_eq!(got.content_type(), Some("application/pdf"));
    assert_eq!(
        got.content_disposition(),
        Some("attachment; filename=\"r.pdf\"")
    );
    assert_eq!(got.content_language(), Some("en"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(got.storage_class(), Some(&StorageClass::StandardIa));
    assert_eq!(
        got.metadata().unwrap().get("owner").map(String::as_str),
        Some("lead-42")
    );
    assert_eq!(got.tag_count(), Some(2));
    assert_eq!(got.content_length(), Some(300_000));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), data.as_slice());

    let head = s3
        .head_object()
        .bucket(&b)
        .key("reports/r.pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(300_000));
    assert_eq!(head.e_tag(), Some(etag.as_str()));

    let tags = s3
        .get_object_tagging()
        .bucket(&b)
        .key("reports/r.pdf")
        .send()
        .await
        .unwrap();
    let mut pairs: Vec<(String, String)> = tags
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("kind".to_string(), "report".to_string()),
            ("tier".to_string(), "a b".to_string())
        ]
    );

    let missing = s3
        .get_object()
        .bucket(&b)
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "NoSuchKey");
    let missing = s3
        .head_object()
        .bucket(&b)
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&missing), 404);
    let bad_class = s3
        .put_object()
        .bucket(&b)
        .key("x")
        .storage_class(StorageClass::from("FAST"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad_class), "InvalidStorageClass");
}

fn md5_of(data: &[u8]) -> u128 {
    use md5::Digest;
    u128::from_be_bytes(md5::Md5::digest(data).into())
}

#[tokio::test]
async fn ranges_conditionals_and_response_overrides() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "ranges").await;
    let data = bytes(1_000_000, 2);
    s3.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();

    for (range, start, end) in [
        ("bytes=0-0", 0, 1),
        ("bytes=10-99", 10, 100),
        ("bytes=-500", 999_500, 1_000_000),
        ("bytes=999990-", 999_990, 1_000_000),
        ("bytes=262140-524300", 262_140, 524_301),
    ] {
        let got = s3
            .get_object()
            .bucket(&b)
            .key("k")
            .range(range)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.content_range(),
            Some(format!("bytes {}-{}/1000000", start, end - 1).as_str()),
            "{range}"
        );
        let body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(body.as_ref(), &data[start..end], "{range}");
    }
    let e = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .range("bytes=1000000-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRange");
    assert_eq!(status(&e), 416);

    let etag = s3
        .head_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    let e = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .if_match("\"0000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 412);
    s3.get_object()
        .bucket(&b)
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    let e = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 304);
    let past = DateTime::from_secs(1_000_000_000);
    let future = DateTime::from_secs(4_000_000_000);
    s3.get_object()
        .bucket(&b)
        .key("k")
        .if_modified_since(past)
        .send()
        .await
        .unwrap();
    let e = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .if_modified_since(future)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 304);
    let e = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .if_unmodified_since(past)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 412);
    // If-Match wins over a failing If-Unmodified-Since (RFC 9110 §13.2.2), as on S3.
    s3.get_object()
        .bucket(&b)
        .key("k")
        .if_match(&etag)
        .if_unmodified_since(past)
        .send()
        .await
        .unwrap();

    let got = s3
        .get_object()
        .bucket(&b)
        .key("k")
        .response_content_type("text/plain")
        .response_content_disposition("inline")
        .response_cache_control("no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.content_disposition(), Some("inline"));
    assert_eq!(got.cache_control(), Some("no-cache"));
}

#[tokio::test]
async fn every_checksum_algorithm_is_verified_stored_and_returned() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "checksums").await;
    let data = bytes(2_500_000, 3);
    for alg in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("c/{}", alg.as_str());
        let put = s3
            .put_object()
            .bucket(&b)
            .key(&key)
            .checksum_algorithm(alg.clone())
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let sent = [
            put.checksum_crc32(),
            put.checksum_crc32_c(),
            put.checksum_crc64_nvme(),
            put.checksum_sha1(),
            put.checksum_sha256(),
        ];
        assert_eq!(
            sent.iter().flatten().count(),
            1,
            "{alg:?}: exactly the asked-for checksum"
        );
        // With ChecksumMode the SDK validates the returned checksum against the body itself.
        let got = s3
            .get_object()
            .bucket(&b)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let back = [
            got.checksum_crc32(),
            got.checksum_crc32_c(),
            got.checksum_crc64_nvme(),
            got.checksum_sha1(),
            got.checksum_sha256(),
        ];
        assert_eq!(back, sent, "{alg:?}");
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            data.as_slice()
        );
    }
    // The SDK's default (WhenSupported) is a CRC32 trailer on aws-chunked: kept and returned.
    s3.put_object()
        .bucket(&b)
        .key("default")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket(&b)
        .key("default")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    // The CRC32 of the body, computed here independently of the server.
    use base64::Engine as _;
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &data) as u32;
    let expected = base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes());
    assert_eq!(head.checksum_crc32(), Some(expected.as_str()));
}

#[tokio::test]
async fn bad_digests_are_refused_and_leave_nothing_behind() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "digests").await;
    let before = files_under(&srv.data_dir().join("objects")).len();

    let e = s3
        .put_object()
        .bucket(&b)
        .key("crc")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadDigest");
    let e = s3
        .put_object()
        .bucket(&b)
        .key("sha")
        .checksum_sha256("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadDigest");
    let e = s3
        .put_object()
        .bucket(&b)
        .key("md5")
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadDigest");
    let e = s3
        .put_object()
        .bucket(&b)
        .key("md5")
        .content_md5("not-base64!")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidDigest");

    for k in ["crc", "sha", "md5"] {
        let e = s3.head_object().bucket(&b).key(k).send().await.unwrap_err();
        assert_eq!(status(&e), 404, "{k} must not be visible");
    }
    assert_eq!(
        files_under(&srv.data_dir().join("objects")).len(),
        before,
        "no data file kept"
    );
    assert!(
        files_under(&srv.data_dir().join("tmp")).is_empty(),
        "no temp file kept"
    );
}

#[tokio::test]
async fn odd_keys_are_stored_faithfully_and_never_touch_the_filesystem() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "keys").await;
    let long = "k".repeat(1024);
    let keys = [
        "../../../../etc/passwd",
        "a//b",
        "/leading",
        "..",
        "trailing/",
        "\u{00e9}t\u{00e9}/\u{1f600}.png",
        "sp ace+plus%25",
        long.as_str(),
    ];
    for (i, k) in keys.iter().enumerate() {
        s3.put_object()
            .bucket(&b)
            .key(*k)
            .body(ByteStream::from(format!("v{i}").into_bytes()))
            .send()
            .await
            .unwrap();
    }
    for (i, k) in keys.iter().enumerate() {
        let got = s3.get_object().bucket(&b).key(*k).send().await.unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            format!("v{i}").as_bytes(),
            "{k}"
        );
    }
    let listed: Vec<String> = s3
        .list_objects_v2()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect();
    let mut expected: Vec<String> = keys.iter().map(|k| (*k).to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);

    let e = s3
        .put_object()
        .bucket(&b)
        .key("k".repeat(1025))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KeyTooLongError");

    // Everything the server wrote is inside its data directory, named by id, never by key.
    for f in files_under(srv.data_dir()) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !name.contains("passwd") && !name.contains("leading"),
            "{}",
            f.display()
        );
    }
    assert!(!std::path::Path::new("/etc/passwd.leadshop").exists());
}

#[tokio::test]
async fn delete_object_and_delete_objects() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "deletes").await;
    for k in ["a", "b", "c"] {
        s3.put_object()
            .bucket(&b)
            .key(k)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    s3.delete_object().bucket(&b).key("a").send().await.unwrap();
    // Deleting a missing key succeeds, as on S3.
    s3.delete_object().bucket(&b).key("a").send().await.unwrap();
    let del = Delete::builder()
        .objects(ObjectIdentifier::builder().key("b").build().unwrap())
        .objects(ObjectIdentifier::builder().key("c").build().unwrap())
        .objects(ObjectIdentifier::builder().key("zz").build().unwrap())
        .build()
        .unwrap();
    // boto3 >= 1.36 and the SDKs send a CRC checksum instead of Content-MD5 here.
    let out = s3
        .delete_objects()
        .bucket(&b)
        .delete(del)
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 3);
    assert!(out.errors().is_empty());
    let left = s3.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(left.key_count(), Some(0));
    let files = files_under(&srv.data_dir().join("objects"));
    assert!(
        files.is_empty(),
        "deleted data is removed from disk: {files:?}"
    );
}

#[tokio::test]
async fn copy_object_with_directives_conditions_and_versions() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "copies").await;
    let data = bytes(700_000, 4);
    let src = s3
        .put_object()
        .bucket(&b)
        .key("src")
        .content_type("image/png")
        .metadata("m", "1")
        .tagging("t=1")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let etag = src.e_tag().unwrap().to_string();

    let out = s3
        .copy_object()
        .bucket(&b)
        .key("dst")
        .copy_source(format!("{b}/src"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.copy_object_result().unwrap().e_tag(),
        Some(etag.as_str())
    );
    let got = s3.get_object().bucket(&b).key("dst").send().await.unwrap();
    assert_eq!(got.content_type(), Some("image/png"));
    assert_eq!(
        got.metadata().unwrap().get("m").map(String::as_str),
        Some("1")
    );
    assert_eq!(got.tag_count(), Some(1));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        data.as_slice()
    );

    s3.copy_object()
        .bucket(&b)
        .key("dst2")
        .copy_source(format!("{b}/src"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/plain")
        .metadata("m", "2")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket(&b)
        .key("dst2")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(
        head.metadata().unwrap().get("m").map(String::as_str),
        Some("2")
    );

    let e = s3
        .copy_object()
        .bucket(&b)
        .key("dst3")
        .copy_source(format!("{b}/src"))
        .copy_source_if_match("\"nope\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "PreconditionFailed");
    let e = s3
        .copy_object()
        .bucket(&b)
        .key("dst3")
        .copy_source(format!("{b}/src"))
        .copy_source_if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        status(&e),
        412,
        "copy-source conditions answer 412, never 304"
    );
    let e = s3
        .copy_object()
        .bucket(&b)
        .key("src")
        .copy_source(format!("{b}/src"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
    let e = s3
        .copy_object()
        .bucket(&b)
        .key("x")
        .copy_source(format!("{b}/missing"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchKey");

    // Tags can be replaced and removed.
    s3.put_object_tagging()
        .bucket(&b)
        .key("dst")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("x").value("y").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let tags = s3
        .get_object_tagging()
        .bucket(&b)
        .key("dst")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_set().len(), 1);
    assert_eq!(tags.tag_set()[0].key(), "x");
    s3.delete_object_tagging()
        .bucket(&b)
        .key("dst")
        .send()
        .await
        .unwrap();
    assert!(
        s3.get_object_tagging()
            .bucket(&b)
            .key("dst")
            .send()
            .await
            .unwrap()
            .tag_set()
            .is_empty()
    );
    let too_many = Tagging::builder()
        .set_tag_set(Some(
            (0..11)
                .map(|i| {
                    Tag::builder()
                        .key(format!("k{i}"))
                        .value("v")
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .build()
        .unwrap();
    let e = s3
        .put_object_tagging()
        .bucket(&b)
        .key("dst")
        .tagging(too_many)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidTag");
}

#[tokio::test]
async fn conditional_writes() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "condput").await;
    s3.put_object()
        .bucket(&b)
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await
        .unwrap();
    let e = s3
        .put_object()
        .bucket(&b)
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 412);
    let etag = s3
        .head_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    s3.put_object()
        .bucket(&b)
        .key("k")
        .if_match(&etag)
        .body(ByteStream::from_static(b"3"))
        .send()
        .await
        .unwrap();
    let e = s3
        .put_object()
        .bucket(&b)
        .key("k")
        .if_match(&etag)
        .body(ByteStream::from_static(b"4"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 412);
    let got = s3.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"3"
    );
}

#[tokio::test]
async fn entity_too_large_and_malformed_xml() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = crate::common::test_config(dir.path());
    cfg.max_put_size = 1024 * 1024;
    let srv = TestServer {
        handle: leadshop_server::start(cfg).await.unwrap(),
        dir,
    };
    let s3 = srv.admin();
    let b = new_bucket(&srv, "limits").await;
    let e = s3
        .put_object()
        .bucket(&b)
        .key("big")
        .body(ByteStream::from(bytes(1024 * 1024 + 1, 5)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "EntityTooLarge");
    s3.put_object()
        .bucket(&b)
        .key("ok")
        .body(ByteStream::from(bytes(1024 * 1024, 5)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        files_under(&srv.data_dir().join("objects")).len(),
        1,
        "the refused upload left nothing"
    );
    assert!(files_under(&srv.data_dir().join("tmp")).is_empty());

    let many = Delete::builder()
        .set_objects(Some(
            (0..1001)
                .map(|i| {
                    ObjectIdentifier::builder()
                        .key(format!("k{i}"))
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .build()
        .unwrap();
    let e = s3
        .delete_objects()
        .bucket(&b)
        .delete(many)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedXML");
}

#[tokio::test]
async fn conditional_deletes_and_if_match_any() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "conddel").await;
    let put = |key: &'static str, body: &'static [u8]| {
        s3.put_object()
            .bucket(&b)
            .key(key)
            .body(ByteStream::from_static(body))
            .send()
    };
    let etag = put("k", b"1").await.unwrap().e_tag().unwrap().to_string();
    // A different ETag: 412, and the object stays.
    let e = s3
        .delete_object()
        .bucket(&b)
        .key("k")
        .if_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (412, "PreconditionFailed"));
    s3.head_object().bucket(&b).key("k").send().await.unwrap();
    // The current ETag: deleted.
    s3.delete_object()
        .bucket(&b)
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(
            &s3.head_object()
                .bucket(&b)
                .key("k")
                .send()
                .await
                .unwrap_err()
        ),
        404
    );
    // Nothing to compare with: NoSuchKey.
    let e = s3
        .delete_object()
        .bucket(&b)
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchKey"));
    // If-Match: * writes only over an existing object.
    let e = s3
        .put_object()
        .bucket(&b)
        .key("k")
        .if_match("*")
        .body(ByteStream::from_static(b"2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchKey"));
    put("k", b"3").await.unwrap();
    s3.put_object()
        .bucket(&b)
        .key("k")
        .if_match("*")
        .body(ByteStream::from_static(b"4"))
        .send()
        .await
        .unwrap();
    // DeleteObjects: each key's ETag is its own condition, refusals reported per key.
    let etag_a = put("a", b"a").await.unwrap().e_tag().unwrap().to_string();
    put("c", b"c").await.unwrap();
    let ids = [
        ("a", etag_a.as_str()),
        ("c", "\"11111111111111111111111111111111\""),
    ]
    .into_iter()
    .map(|(k, e)| ObjectIdentifier::builder().key(k).e_tag(e).build().unwrap())
    .collect();
    let out = s3
        .delete_objects()
        .bucket(&b)
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    let deleted: Vec<_> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["a"]);
    let [err] = out.errors() else {
        panic!("one error expected: {:?}", out.errors())
    };
    assert_eq!(
        (err.key(), err.code()),
        (Some("c"), Some("PreconditionFailed"))
    );
    s3.head_object().bucket(&b).key("c").send().await.unwrap();
}

#[tokio::test]
async fn racing_conditional_writers_exactly_one_wins() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "condrace").await;
    const WRITERS: usize = 24;
    // Create-if-absent: of many writers, one creates the object, every other gets 412.
    let tries = (0..WRITERS).map(|i| {
        let s3 = s3.clone();
        let b = b.clone();
        async move {
            let r = s3
                .put_object()
                .bucket(&b)
                .key("race")
                .if_none_match("*")
                .body(ByteStream::from(format!("writer {i}").into_bytes()))
                .send()
                .await;
            (
                i,
                r.map(|o| o.e_tag().unwrap().to_string())
                    .map_err(|e| status(&e)),
            )
        }
    });
    let results = futures::future::join_all(tries).await;
    let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(_, r)| matches!(r, Ok(_) | Err(412 | 409))),
        "{results:?}"
    );
    let (winner, Ok(etag)) = winners[0].clone() else {
        unreachable!()
    };
    let body = s3.get_object().bucket(&b).key("race").send().await.unwrap();
    assert_eq!(
        body.body.collect().await.unwrap().into_bytes().as_ref(),
        format!("writer {winner}").as_bytes()
    );
    // Compare-and-swap on that ETag: again exactly one replaces it.
    let tries = (0..WRITERS).map(|i| {
        let (s3, b, etag) = (s3.clone(), b.clone(), etag.clone());
        async move {
            s3.put_object()
                .bucket(&b)
                .key("race")
                .if_match(&etag)
                .body(ByteStream::from(format!("swap {i}").into_bytes()))
                .send()
                .await
                .map_err(|e| status(&e))
        }
    });
    let results = futures::future::join_all(tries).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(412 | 409))));
}

#[tokio::test]
async fn get_object_attributes_names_what_was_asked() {
    use aws_sdk_s3::types::ObjectAttributes;
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "attrs").await;
    let put = s3
        .put_object()
        .bucket(&b)
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .storage_class(StorageClass::StandardIa)
        .body(ByteStream::from_static(b"attributes"))
        .send()
        .await
        .unwrap();
    let out = s3
        .get_object_attributes()
        .bucket(&b)
        .key("k")
        .object_attributes(ObjectAttributes::Etag)
        .object_attributes(ObjectAttributes::Checksum)
        .object_attributes(ObjectAttributes::StorageClass)
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::ObjectParts)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.e_tag().map(|e| e.trim_matches('"')),
        put.e_tag().map(|e| e.trim_matches('"'))
    );
    assert_eq!(
        out.checksum().and_then(|c| c.checksum_crc32_c()),
        put.checksum_crc32_c()
    );
    assert_eq!(out.storage_class(), Some(&StorageClass::StandardIa));
    assert_eq!(out.object_size(), Some(10));
    assert!(
        out.object_parts().is_none(),
        "a single-part object has no parts"
    );
    let e = s3
        .get_object_attributes()
        .bucket(&b)
        .key("absent")
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchKey"));
}

#[tokio::test]
async fn acls_are_disabled_as_under_bucket_owner_enforced() {
    use aws_sdk_s3::types::{ObjectCannedAcl, ObjectOwnership, Permission};
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = new_bucket(&srv, "acls").await;
    // Without Public Access Block (new buckets have it), ownership alone refuses ACLs.
    s3.delete_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let acl = s3.get_bucket_acl().bucket(&b).send().await.unwrap();
    let grants: Vec<_> = acl
        .grants()
        .iter()
        .map(|g| g.permission().cloned())
        .collect();
    assert_eq!(grants, [Some(Permission::FullControl)]);
    s3.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    s3.put_object_acl()
        .bucket(&b)
        .key("k")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .send()
        .await
        .unwrap();
    let e = s3
        .put_object_acl()
        .bucket(&b)
        .key("k")
        .grant_read("uri=\"http://acs.amazonaws.com/groups/global/AuthenticatedUsers\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (status(&e), code(&e).as_str()),
        (400, "AccessControlListNotSupported")
    );
    let controls = s3
        .get_bucket_ownership_controls()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let rules = controls.ownership_controls().unwrap().rules();
    assert_eq!(
        rules[0].object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );
}
