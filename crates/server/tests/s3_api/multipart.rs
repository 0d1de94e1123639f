use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart};

use crate::common::{TestServer, bucket, bytes, code, files_under, status};

const MIB: usize = 1024 * 1024;

fn completed(parts: &[(i32, String)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build())
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn multipart_round_trip_lists_and_etag() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("mpu");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    let up = s3
        .create_multipart_upload()
        .bucket(&b)
        .key("big.bin")
        .content_type("application/x-test")
        .metadata("m", "v")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let p1 = bytes(5 * MIB, 10);
    let p2 = bytes(5 * MIB, 11);
    let p3 = bytes(123_457, 12);
    let mut parts = Vec::new();
    for (n, data) in [(1, &p1), (2, &p2), (3, &p3)] {
        let out = s3
            .upload_part()
            .bucket(&b)
            .key("big.bin")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        parts.push((n, out.e_tag().unwrap().to_string()));
    }
    // Re-uploading a part replaces it.
    let out = s3
        .upload_part()
        .bucket(&b)
        .key("big.bin")
        .upload_id(&id)
        .part_number(3)
        .body(ByteStream::from(p3.clone()))
        .send()
        .await
        .unwrap();
    parts[2].1 = out.e_tag().unwrap().to_string();

    let listed = s3
        .list_parts()
        .bucket(&b)
        .key("big.bin")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let sizes: Vec<i64> = listed.parts().iter().map(|p| p.size().unwrap()).collect();
    assert_eq!(sizes, [5 * MIB as i64, 5 * MIB as i64, 123_457]);
    let uploads = s3.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].upload_id(), Some(id.as_str()));

    let done = s3
        .complete_multipart_upload()
        .bucket(&b)
        .key("big.bin")
        .upload_id(&id)
        .multipart_upload(completed(&parts))
        .send()
        .await
        .unwrap();
    assert!(
        done.e_tag().unwrap().ends_with("-3\""),
        "{:?}",
        done.e_tag()
    );
    let whole: Vec<u8> = [p1.as_slice(), p2.as_slice(), p3.as_slice()].concat();
    let got = s3
        .get_object()
        .bucket(&b)
        .key("big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(
        got.metadata().unwrap().get("m").map(String::as_str),
        Some("v")
    );
    assert_eq!(got.content_length(), Some(whole.len() as i64));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        whole.as_slice()
    );

    // A range across the part boundary, and one part by number.
    let got = s3
        .get_object()
        .bucket(&b)
        .key("big.bin")
        .range(format!("bytes={}-{}", 5 * MIB - 10, 5 * MIB + 9))
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &whole[5 * MIB - 10..5 * MIB + 10]
    );
    let got = s3
        .get_object()
        .bucket(&b)
        .key("big.bin")
        .part_number(2)
        .send()
        .await
        .unwrap();
    assert_eq!(got.parts_count(), Some(3));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        p2.as_slice()
    );

    assert!(
        s3.list_multipart_uploads()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
    );
    let e = s3
        .list_parts()
        .bucket(&b)
        .key("big.bin")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchUpload");
    // Exactly three data files: the replaced part 3 was removed.
    assert_eq!(files_under(&srv.data_dir().join("objects")).len(), 3);
}

#[tokio::test]
async fn completion_errors_and_abort() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("mpuerr");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let small = bytes(1000, 1);
    let e1 = s3
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    let e2 = s3
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();

    let e = s3
        .complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e1.clone()), (2, e2.clone())]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "EntityTooSmall");
    let e = s3
        .complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(2, e2.clone()), (1, e1.clone())]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidPartOrder");
    let e = s3
        .complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, "\"00\"".into())]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidPart");
    let e = s3
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .part_number(10_001)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");
    let e = s3
        .upload_part()
        .bucket(&b)
        .key("other")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchUpload");
    // A single small part is a valid object.
    s3.complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e1)]))
        .send()
        .await
        .unwrap();

    let id = s3
        .create_multipart_upload()
        .bucket(&b)
        .key("gone")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    s3.upload_part()
        .bucket(&b)
        .key("gone")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(small))
        .send()
        .await
        .unwrap();
    s3.abort_multipart_upload()
        .bucket(&b)
        .key("gone")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let e = s3
        .upload_part()
        .bucket(&b)
        .key("gone")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchUpload");
    let e = s3
        .abort_multipart_upload()
        .bucket(&b)
        .key("gone")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchUpload");
    assert_eq!(
        files_under(&srv.data_dir().join("objects")).len(),
        1,
        "only the completed object's part remains"
    );
}

#[tokio::test]
async fn multipart_checksums_composite_and_full_object() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("mpusum");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    let p1 = bytes(5 * MIB, 20);
    let p2 = bytes(77_777, 21);
    for alg in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("o-{}", alg.as_str());
        let id = s3
            .create_multipart_upload()
            .bucket(&b)
            .key(&key)
            .checksum_algorithm(alg.clone())
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_string();
        let mut parts = Vec::new();
        for (n, data) in [(1, &p1), (2, &p2)] {
            let out = s3
                .upload_part()
                .bucket(&b)
                .key(&key)
                .upload_id(&id)
                .part_number(n)
                .checksum_algorithm(alg.clone())
                .body(ByteStream::from(data.clone()))
                .send()
                .await
                .unwrap();
            let mut part = CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap());
            part = part
                .set_checksum_crc32(out.checksum_crc32().map(String::from))
                .set_checksum_crc64_nvme(out.checksum_crc64_nvme().map(String::from))
                .set_checksum_sha256(out.checksum_sha256().map(String::from));
            parts.push(part.build());
        }
        let done = s3
            .complete_multipart_upload()
            .bucket(&b)
            .key(&key)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let head = s3
            .head_object()
            .bucket(&b)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        match alg {
            ChecksumAlgorithm::Crc64Nvme => {
                // Full-object CRC64NVME: the same value a single PUT of the whole object gets.
                let whole = [p1.as_slice(), p2.as_slice()].concat();
                let single = s3
                    .put_object()
                    .bucket(&b)
                    .key("whole")
                    .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
                    .body(ByteStream::from(whole))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(head.checksum_crc64_nvme(), single.checksum_crc64_nvme());
                assert_eq!(done.checksum_crc64_nvme(), single.checksum_crc64_nvme());
                assert_eq!(
                    head.checksum_type().map(|t| t.as_str()),
                    Some("FULL_OBJECT")
                );
            }
            ChecksumAlgorithm::Crc32 => {
                assert!(head.checksum_crc32().unwrap().ends_with("-2"));
                assert_eq!(head.checksum_type().map(|t| t.as_str()), Some("COMPOSITE"));
            }
            _ => assert!(head.checksum_sha256().unwrap().ends_with("-2")),
        }
        // GET with checksum mode on a composite object: the SDK skips validation of "-N" values.
        let got = s3
            .get_object()
            .bucket(&b)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().len(),
            5 * MIB + 77_777
        );
    }
}

#[tokio::test]
async fn upload_part_copy_with_a_range() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("mpucopy");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    let src = bytes(6 * MIB, 30);
    s3.put_object()
        .bucket(&b)
        .key("src")
        .body(ByteStream::from(src.clone()))
        .send()
        .await
        .unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket(&b)
        .key("dst")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let c1 = s3
        .upload_part_copy()
        .bucket(&b)
        .key("dst")
        .upload_id(&id)
        .part_number(1)
        .copy_source(format!("{b}/src"))
        .copy_source_range(format!("bytes=0-{}", 5 * MIB - 1))
        .send()
        .await
        .unwrap();
    let c2 = s3
        .upload_part_copy()
        .bucket(&b)
        .key("dst")
        .upload_id(&id)
        .part_number(2)
        .copy_source(format!("{b}/src"))
        .copy_source_range(format!("bytes={}-{}", 5 * MIB, 6 * MIB - 1))
        .send()
        .await
        .unwrap();
    let parts = [
        (
            1,
            c1.copy_part_result().unwrap().e_tag().unwrap().to_string(),
        ),
        (
            2,
            c2.copy_part_result().unwrap().e_tag().unwrap().to_string(),
        ),
    ];
    s3.complete_multipart_upload()
        .bucket(&b)
        .key("dst")
        .upload_id(&id)
        .multipart_upload(completed(&parts))
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket(&b).key("dst").send().await.unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        src.as_slice()
    );
    let e = s3
        .upload_part_copy()
        .bucket(&b)
        .key("dst")
        .upload_id("nope")
        .part_number(1)
        .copy_source(format!("{b}/src"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchUpload");
}

#[tokio::test]
async fn a_wrong_full_object_checksum_on_complete_is_bad_digest() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("mpubad");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket(&b)
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let part = s3
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .body(ByteStream::from(bytes(1000, 40)))
        .send()
        .await
        .unwrap();
    let etag = part.e_tag().unwrap().to_string();
    let e = s3
        .complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .checksum_crc64_nvme("AAAAAAAAAAA=")
        .checksum_type(aws_sdk_s3::types::ChecksumType::FullObject)
        .multipart_upload(completed(&[(1, etag.clone())]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadDigest");
    // Nothing was committed; the upload is still there and can complete correctly.
    let e = s3
        .head_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(crate::common::status(&e), 404);
    s3.complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .checksum_crc64_nvme(part.checksum_crc64_nvme().unwrap())
        .checksum_type(aws_sdk_s3::types::ChecksumType::FullObject)
        .multipart_upload(completed(&[(1, etag)]))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn racing_conditional_completions_exactly_one_wins() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("mpurace");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    const UPLOADS: usize = 8;
    // Eight uploads of the same key, each complete but for its last step.
    let mut ready = Vec::new();
    for i in 0..UPLOADS {
        let up = s3
            .create_multipart_upload()
            .bucket(&b)
            .key("race")
            .send()
            .await
            .unwrap();
        let id = up.upload_id().unwrap().to_string();
        let part = s3
            .upload_part()
            .bucket(&b)
            .key("race")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(format!("upload {i}").into_bytes()))
            .send()
            .await
            .unwrap();
        ready.push((i, id, part.e_tag().unwrap().to_string()));
    }
    // All complete at once with If-None-Match: * (create only if absent): one object results.
    let tries = ready.into_iter().map(|(i, id, etag)| {
        let (s3, b) = (s3.clone(), b.clone());
        async move {
            let done = CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                .build();
            let r = s3
                .complete_multipart_upload()
                .bucket(&b)
                .key("race")
                .upload_id(&id)
                .if_none_match("*")
                .multipart_upload(done)
                .send()
                .await;
            (i, r.map(|_| ()).map_err(|e| crate::common::status(&e)))
        }
    });
    let results = futures::future::join_all(tries).await;
    let winners: Vec<usize> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(_, r)| matches!(r, Ok(()) | Err(412 | 409))),
        "{results:?}"
    );
    let body = s3.get_object().bucket(&b).key("race").send().await.unwrap();
    assert_eq!(
        body.body.collect().await.unwrap().into_bytes().as_ref(),
        format!("upload {}", winners[0]).as_bytes()
    );
}

#[tokio::test]
async fn a_conditional_completion_after_the_key_was_deleted_is_a_conflict() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = "leadshop-assets";
    let start = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            let id = s3
                .create_multipart_upload()
                .bucket(b)
                .key(key)
                .send()
                .await
                .unwrap()
                .upload_id()
                .unwrap()
                .to_string();
            let etag = s3
                .upload_part()
                .bucket(b)
                .key(key)
                .upload_id(&id)
                .part_number(1)
                .body(ByteStream::from_static(b"only part"))
                .send()
                .await
                .unwrap()
                .e_tag()
                .unwrap()
                .to_string();
            (id, etag)
        }
    };
    let complete = |key: &'static str, id: String, etag: String| {
        s3.complete_multipart_upload()
            .bucket(b)
            .key(key)
            .upload_id(id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                    .build(),
            )
            .send()
    };
    // The key is written and deleted while the upload is in progress: 409, and the upload is
    // still there to abort (AWS: start a new upload).
    let (id, etag) = start("conflict").await;
    s3.put_object()
        .bucket(b)
        .key("conflict")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(b)
        .key("conflict")
        .send()
        .await
        .unwrap();
    let e = complete("conflict", id.clone(), etag).await.unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("ConditionalRequestConflict", 409)
    );
    s3.abort_multipart_upload()
        .bucket(b)
        .key("conflict")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    // A key deleted before the upload began is no conflict: the object does not exist.
    let (id, etag) = start("conflict").await;
    complete("conflict", id, etag).await.unwrap();
}
