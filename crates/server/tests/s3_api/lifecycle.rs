//! Lifecycle configuration and the lifecycle worker, on a test clock: the worker runs a pass
//! at each midnight of the server's clock, so a test advances days and waits for the pass.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketVersioningStatus, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration,
    StorageClass, Tag, Transition, TransitionStorageClass, VersioningConfiguration,
};
use leadshop_store::{Clock, TestClock};

use crate::clock::server_on;
use crate::common::{TestServer, bucket, bytes, code, status};

const ASSETS: &str = "leadshop-assets";
const DAY: Duration = Duration::from_secs(86_400);
const DAY_MS: i64 = 86_400_000;

/// Waits until the worker has finished the pass of the clock's day; returns the status.
pub(crate) async fn wait_for_pass(srv: &TestServer, clock: &TestClock) -> serde_json::Value {
    let day = clock.now_ms().div_euclid(DAY_MS);
    let path = srv.data_dir().join("lifecycle-status.json");
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && v["last"]["day"].as_i64() == Some(day)
        {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no lifecycle pass finished for day {day}");
}

async fn advance_days(srv: &TestServer, clock: &TestClock, days: u32) -> serde_json::Value {
    clock.advance(DAY * days);
    wait_for_pass(srv, clock).await
}

async fn put(s3: &Client, b: &str, key: &str, len: usize) -> String {
    s3.put_object()
        .bucket(b)
        .key(key)
        .body(ByteStream::from(bytes(len, len as u64)))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap_or("null")
        .to_string()
}

async fn class_of(s3: &Client, b: &str, key: &str) -> Option<StorageClass> {
    s3.head_object()
        .bucket(b)
        .key(key)
        .send()
        .await
        .unwrap()
        .storage_class()
        .cloned()
}

async fn versions(s3: &Client, b: &str, prefix: &str) -> Vec<(String, bool, String)> {
    let out = s3
        .list_object_versions()
        .bucket(b)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut all: Vec<_> = out
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap().to_string(),
                false,
                v.storage_class()
                    .map_or("STANDARD", |c| c.as_str())
                    .to_string(),
            )
        })
        .collect();
    all.extend(
        out.delete_markers()
            .iter()
            .map(|m| (m.key().unwrap().to_string(), true, String::new())),
    );
    all
}

fn rule_counts(status: &serde_json::Value, bucket: &str, rule: &str) -> serde_json::Value {
    status["totals"][bucket][rule].clone()
}

#[tokio::test]
async fn the_baseline_rules_transition_expire_and_abort_on_the_clock() {
    let clock = TestClock::starting_now();
    let srv = server_on(&clock).await;
    let s3 = srv.admin();
    wait_for_pass(&srv, &clock).await;
    // A large and a small report, a temporary upload, a report written twice, an upload left
    // incomplete.
    put(&s3, ASSETS, "reports/big.pdf", 200 * 1024).await;
    put(&s3, ASSETS, "reports/small.txt", 1000).await;
    let first = put(&s3, ASSETS, "reports/doc.pdf", 150 * 1024).await;
    put(&s3, ASSETS, "reports/doc.pdf", 160 * 1024).await;
    let tmp = s3
        .put_object()
        .bucket(ASSETS)
        .key("tmp/upload.bin")
        .body(ByteStream::from_static(b"temporary"))
        .send()
        .await
        .unwrap();
    let upload = s3
        .create_multipart_upload()
        .bucket(ASSETS)
        .key("reports/partial.bin")
        .send()
        .await
        .unwrap();
    assert!(upload.upload_id().is_some());

    // x-amz-expiration names the rule that will expire tmp/ objects, and when.
    let expiration = tmp.expiration().expect("x-amz-expiration on PUT");
    assert!(
        expiration.starts_with("expiry-date=\"")
            && expiration.ends_with(", rule-id=\"expire-temporary-uploads\""),
        "{expiration}"
    );
    assert!(
        expiration.contains("00:00:00 GMT"),
        "midnight: {expiration}"
    );
    let head = s3
        .head_object()
        .bucket(ASSETS)
        .key("tmp/upload.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.expiration(), Some(expiration));
    let head = s3
        .head_object()
        .bucket(ASSETS)
        .key("reports/big.pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(head.expiration(), None, "no rule expires reports");

    // Day 2: the temporary upload expired (a delete marker: the bucket is versioned).
    advance_days(&srv, &clock, 2).await;
    let e = s3
        .get_object()
        .bucket(ASSETS)
        .key("tmp/upload.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchKey");
    let mut tmp_versions = versions(&s3, ASSETS, "tmp/").await;
    tmp_versions.sort();
    assert_eq!(tmp_versions.len(), 2, "{tmp_versions:?}");
    // Day 4: its noncurrent version is gone a day after it became noncurrent; the delete
    // marker, which hides nothing now, goes at the next pass (as on AWS: the day after).
    advance_days(&srv, &clock, 2).await;
    assert_eq!(
        versions(&s3, ASSETS, "tmp/").await,
        vec![("tmp/upload.bin".to_string(), true, String::new())]
    );
    advance_days(&srv, &clock, 1).await;
    assert_eq!(versions(&s3, ASSETS, "tmp/").await, vec![]);

    // Day 8: the incomplete upload is aborted (7 days).
    let uploads = s3
        .list_multipart_uploads()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1, "still there on day 5");
    advance_days(&srv, &clock, 3).await;
    let uploads = s3
        .list_multipart_uploads()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "aborted after 7 days");

    // Day 30: not yet (30 days from creation, rounded up to the next midnight).
    advance_days(&srv, &clock, 22).await;
    assert_eq!(class_of(&s3, ASSETS, "reports/big.pdf").await, None);
    // Day 31: STANDARD_IA, as HEAD and listings say; the small one stays (under 128 KiB).
    advance_days(&srv, &clock, 1).await;
    assert_eq!(
        class_of(&s3, ASSETS, "reports/big.pdf").await,
        Some(StorageClass::StandardIa)
    );
    assert_eq!(class_of(&s3, ASSETS, "reports/small.txt").await, None);
    let listed = s3
        .list_objects_v2()
        .bucket(ASSETS)
        .prefix("reports/")
        .send()
        .await
        .unwrap();
    let classes: Vec<_> = listed
        .contents()
        .iter()
        .map(|o| (o.key().unwrap(), o.storage_class().unwrap().as_str()))
        .collect();
    assert_eq!(
        classes,
        [
            ("reports/big.pdf", "STANDARD_IA"),
            ("reports/doc.pdf", "STANDARD_IA"),
            ("reports/small.txt", "STANDARD")
        ]
    );
    // The noncurrent version moved too (30 days after it became noncurrent)…
    let doc = versions(&s3, ASSETS, "reports/doc.pdf").await;
    assert_eq!(doc.len(), 2);
    assert!(doc.iter().all(|(_, _, c)| c == "STANDARD_IA"), "{doc:?}");
    // …and the data is the same bytes.
    let body = s3
        .get_object()
        .bucket(ASSETS)
        .key("reports/doc.pdf")
        .version_id(&first)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(body.as_ref(), bytes(150 * 1024, 150 * 1024).as_slice());

    // Day 91: the noncurrent version is deleted (90 days), the current one stays.
    let status = advance_days(&srv, &clock, 60).await;
    assert_eq!(versions(&s3, ASSETS, "reports/doc.pdf").await.len(), 1);
    let main = rule_counts(&status, ASSETS, "standard-ia-after-30-days");
    assert_eq!(main["transitioned"], 3, "{status}");
    assert_eq!(main["noncurrent_deleted"], 1, "{status}");
    assert_eq!(main["uploads_aborted"], 1, "{status}");
    let tmp = rule_counts(&status, ASSETS, "expire-temporary-uploads");
    assert_eq!(tmp["expired"], 1, "{status}");
    assert_eq!(tmp["noncurrent_deleted"], 1, "{status}");
    // The tmp/ delete marker is removed once, by the first rule that reaches it: the main
    // rule's ExpiredObjectDeleteMarker.
    assert_eq!(main["delete_markers_removed"], 1, "{status}");
    assert_eq!(tmp["delete_markers_removed"], 0, "{status}");
}

fn rule(id: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
}

fn prefix(p: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(p).build()
}

pub(crate) async fn put_rules(
    s3: &Client,
    b: &str,
    rules: Vec<LifecycleRule>,
) -> Result<(), aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::put_bucket_lifecycle_configuration::PutBucketLifecycleConfigurationError>>{
    s3.put_bucket_lifecycle_configuration()
        .bucket(b)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .map(|_| ())
}

#[tokio::test]
async fn configurations_round_trip_and_invalid_ones_get_aws_errors() {
    let clock = TestClock::starting_now();
    let srv = server_on(&clock).await;
    let s3 = srv.admin();
    // The baseline, from config/buckets/leadshop-assets/lifecycle.json.
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = got.rules().iter().map(|r| r.id().unwrap()).collect();
    assert_eq!(
        ids,
        ["standard-ia-after-30-days", "expire-temporary-uploads"]
    );
    assert_eq!(
        got.transition_default_minimum_object_size()
            .map(|m| m.as_str()),
        Some("all_storage_classes_128K")
    );
    let t = &got.rules()[0].transitions()[0];
    assert_eq!(
        (t.days(), t.storage_class()),
        (Some(30), Some(&TransitionStorageClass::StandardIa))
    );

    let b = bucket("lifecycle-config");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    let e = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchLifecycleConfiguration");
    assert_eq!(status(&e), 404);

    // Every filter form and action, read back as written.
    let tagged = LifecycleRuleFilter::builder()
        .and(
            LifecycleRuleAndOperator::builder()
                .prefix("logs/")
                .tags(Tag::builder().key("class").value("cold").build().unwrap())
                .object_size_greater_than(1024)
                .object_size_less_than(1 << 30)
                .build(),
        )
        .build();
    let rules = vec![
        rule("archive")
            .filter(tagged)
            .transitions(
                Transition::builder()
                    .days(0)
                    .storage_class(TransitionStorageClass::Glacier)
                    .build(),
            )
            .expiration(LifecycleExpiration::builder().days(400).build())
            .build()
            .unwrap(),
        rule("markers")
            .filter(prefix(""))
            .expiration(
                LifecycleExpiration::builder()
                    .expired_object_delete_marker(true)
                    .build(),
            )
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(3)
                    .newer_noncurrent_versions(2)
                    .build(),
            )
            .build()
            .unwrap(),
        LifecycleRule::builder()
            .id("off")
            .status(ExpirationStatus::Disabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .object_size_greater_than(5)
                    .build(),
            )
            .expiration(
                LifecycleExpiration::builder()
                    .date(aws_sdk_s3::primitives::DateTime::from_secs(1_893_456_000))
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    put_rules(&s3, &b, rules.clone()).await.unwrap();
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules(), rules.as_slice());

    // Refused as AWS refuses them.
    let refused = |rules: Vec<LifecycleRule>| {
        let s3 = s3.clone();
        let b = b.clone();
        async move {
            let e = put_rules(&s3, &b, rules).await.unwrap_err();
            (
                code(&e),
                status(&e),
                e.into_service_error()
                    .meta()
                    .message()
                    .unwrap_or("")
                    .to_string(),
            )
        }
    };
    let (c, st, m) = refused(vec![
        rule("ia")
            .filter(prefix(""))
            .transitions(
                Transition::builder()
                    .days(10)
                    .storage_class(TransitionStorageClass::StandardIa)
                    .build(),
            )
            .build()
            .unwrap(),
    ])
    .await;
    assert_eq!((c.as_str(), st), ("InvalidArgument", 400));
    assert!(
        m.contains("greater than or equal to 30 for storageClass 'STANDARD_IA'"),
        "{m}"
    );
    let (c, _, _) = refused(vec![rule("none").filter(prefix("")).build().unwrap()]).await;
    assert_eq!(c, "InvalidRequest", "a rule without an action");
    let (c, _, _) = refused(vec![
        rule("neg")
            .filter(prefix(""))
            .expiration(LifecycleExpiration::builder().days(0).build())
            .build()
            .unwrap(),
    ])
    .await;
    assert_eq!(c, "InvalidArgument");
    let (c, _, _) = refused(vec![
        rule("order")
            .filter(prefix(""))
            .transitions(
                Transition::builder()
                    .days(60)
                    .storage_class(TransitionStorageClass::Glacier)
                    .build(),
            )
            .expiration(LifecycleExpiration::builder().days(30).build())
            .build()
            .unwrap(),
    ])
    .await;
    assert_eq!(c, "InvalidArgument", "expiration before the transition");
    let dup = rule("same")
        .filter(prefix(""))
        .expiration(LifecycleExpiration::builder().days(3).build())
        .build()
        .unwrap();
    let (c, _, _) = refused(vec![dup.clone(), dup]).await;
    assert_eq!(c, "InvalidArgument", "duplicate rule ids");
    let (c, _, _) = refused(vec![
        rule("tags")
            .filter(
                LifecycleRuleFilter::builder()
                    .tag(Tag::builder().key("a").value("b").build().unwrap())
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                aws_sdk_s3::types::AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(1)
                    .build(),
            )
            .build()
            .unwrap(),
    ])
    .await;
    assert_eq!(c, "InvalidRequest", "abort with a tag filter");
    // Nothing refused was stored.
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules(), rules.as_slice());

    // The application's key may not change lifecycle rules (its policy does not allow it).
    let e = put_rules(&srv.client("app"), ASSETS, rules)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    s3.delete_bucket_lifecycle()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let e = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchLifecycleConfiguration");
}

#[tokio::test]
async fn noncurrent_limits_delete_markers_tags_and_unversioned_buckets() {
    let clock = TestClock::starting_now();
    let srv = server_on(&clock).await;
    let s3 = srv.admin();
    let b = bucket("lifecycle-rules");
    s3.create_bucket().bucket(&b).send().await.unwrap();
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
    put_rules(
        &s3,
        &b,
        vec![
            rule("keep-two")
                .filter(prefix("k"))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .newer_noncurrent_versions(2)
                        .build(),
                )
                .build()
                .unwrap(),
            rule("markers")
                .filter(prefix("m/"))
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .build()
                .unwrap(),
            rule("cold")
                .filter(
                    LifecycleRuleFilter::builder()
                        .tag(Tag::builder().key("tier").value("cold").build().unwrap())
                        .build(),
                )
                .transitions(
                    Transition::builder()
                        .days(1)
                        .storage_class(TransitionStorageClass::Glacier)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    for i in 0..5 {
        put(&s3, &b, "k", 10 + i).await;
    }
    let only = put(&s3, &b, "m/x", 3).await;
    s3.delete_object()
        .bucket(&b)
        .key("m/x")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(&b)
        .key("m/x")
        .version_id(&only)
        .send()
        .await
        .unwrap();
    put(&s3, &b, "m/kept", 3).await;
    s3.delete_object()
        .bucket(&b)
        .key("m/kept")
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&b)
        .key("c/frozen")
        .tagging("tier=cold")
        .body(ByteStream::from_static(b"frozen"))
        .send()
        .await
        .unwrap();
    put(&s3, &b, "c/warm", 4).await;

    advance_days(&srv, &clock, 2).await;
    // Two newest noncurrent versions kept, beside the current one.
    let sizes: Vec<_> = s3
        .list_object_versions()
        .bucket(&b)
        .prefix("k")
        .send()
        .await
        .unwrap()
        .versions()
        .iter()
        .map(|v| v.size().unwrap())
        .collect();
    assert_eq!(sizes, [14, 13, 12]);
    // A delete marker that hides nothing is removed; one that hides a version stays.
    assert_eq!(versions(&s3, &b, "m/x").await, vec![]);
    assert_eq!(versions(&s3, &b, "m/kept").await.len(), 2);
    // Tagged: to GLACIER (custom filters do not need 128 KiB… a tag filter alone does, as on
    // AWS, so only objects of 128 KiB or more move; this one is small and stays).
    assert_eq!(class_of(&s3, &b, "c/frozen").await, None);
    s3.put_object()
        .bucket(&b)
        .key("c/frozen")
        .tagging("tier=cold")
        .body(ByteStream::from(bytes(130 * 1024, 1)))
        .send()
        .await
        .unwrap();
    advance_days(&srv, &clock, 2).await;
    assert_eq!(
        class_of(&s3, &b, "c/frozen").await,
        Some(StorageClass::Glacier)
    );
    assert_eq!(class_of(&s3, &b, "c/warm").await, None, "untagged stays");
    let e = s3
        .get_object()
        .bucket(&b)
        .key("c/frozen")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidObjectState", "archived by the lifecycle");

    // Unversioned: expiration removes the object for good.
    let u = bucket("lifecycle-unversioned");
    s3.create_bucket().bucket(&u).send().await.unwrap();
    put_rules(
        &s3,
        &u,
        vec![
            rule("gone")
                .filter(prefix(""))
                .expiration(LifecycleExpiration::builder().days(1).build())
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    put(&s3, &u, "a", 5).await;
    let head = s3.head_object().bucket(&u).key("a").send().await.unwrap();
    assert!(head.expiration().unwrap().contains("rule-id=\"gone\""));
    let copied = s3
        .copy_object()
        .bucket(&u)
        .key("b")
        .copy_source(format!("{u}/a"))
        .send()
        .await
        .unwrap();
    assert!(copied.expiration().unwrap().contains("rule-id=\"gone\""));
    let mpu = s3
        .create_multipart_upload()
        .bucket(&u)
        .key("c")
        .send()
        .await
        .unwrap();
    let part = s3
        .upload_part()
        .bucket(&u)
        .key("c")
        .upload_id(mpu.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    let done = s3
        .complete_multipart_upload()
        .bucket(&u)
        .key("c")
        .upload_id(mpu.upload_id().unwrap())
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(done.expiration().unwrap().contains("rule-id=\"gone\""));
    advance_days(&srv, &clock, 2).await;
    assert_eq!(versions(&s3, &u, "").await, vec![]);
}

/// Buckets without rules between buckets with rules, all within one batch of the pass: the
/// worker passes over the rule-less ones (their objects stay, none of their versions is
/// counted as scanned) and still applies the rules of every bucket after them.
#[tokio::test]
async fn buckets_without_rules_are_passed_over_and_the_buckets_after_them_still_decided() {
    let clock = TestClock::starting_now();
    let srv = server_on(&clock).await;
    let s3 = srv.admin();
    let base = bucket("lc-many");
    let plain: Vec<String> = (0..12).map(|i| format!("{base}-a{i:02}")).collect();
    let more: Vec<String> = (0..12).map(|i| format!("{base}-n{i:02}")).collect();
    let ruled = [format!("{base}-m"), format!("{base}-z")];
    for b in plain.iter().chain(&more).chain(&ruled) {
        s3.create_bucket().bucket(b).send().await.unwrap();
        for k in ["x/1", "x/2", "y"] {
            put(&s3, b, k, 10).await;
        }
    }
    for b in &ruled {
        put_rules(
            &s3,
            b,
            vec![
                rule("expire-x")
                    .filter(prefix("x/"))
                    .expiration(LifecycleExpiration::builder().days(1).build())
                    .build()
                    .unwrap(),
            ],
        )
        .await
        .unwrap();
    }
    let status = advance_days(&srv, &clock, 2).await;
    for b in &ruled {
        let left: Vec<_> = versions(&s3, b, "")
            .await
            .into_iter()
            .map(|v| v.0)
            .collect();
        assert_eq!(left, ["y"], "{b}: x/ expired, y kept; {status}");
        assert_eq!(
            rule_counts(&status, b, "expire-x")["expired"],
            2,
            "{status}"
        );
    }
    for b in plain.iter().chain(&more) {
        let left: Vec<_> = versions(&s3, b, "")
            .await
            .into_iter()
            .map(|v| v.0)
            .collect();
        assert_eq!(left, ["x/1", "x/2", "y"], "{b} has no rules");
    }
    // Only the two ruled buckets' versions were looked at (3 each), whichever pass counted.
    assert_eq!(status["last"]["versions_scanned"], 6, "{status}");
}
