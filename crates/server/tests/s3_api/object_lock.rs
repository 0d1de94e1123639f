//! Object Lock on a test clock: retention modes, legal holds, the governance bypass and its
//! permission, default retention, and lifecycle leaving locked versions alone.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, DefaultRetention, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold,
    ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode,
    ObjectLockRule, VersioningConfiguration,
};
use leadshop_keys::access_keys::{self as keys, KeyPaths};
use leadshop_store::{Clock, TestClock};

use crate::clock::server_on;
use crate::common::{bucket, code, status};
use crate::lifecycle::{put_rules, wait_for_pass};

const DAY: Duration = Duration::from_secs(86_400);

async fn put(s3: &Client, b: &str, key: &str) -> String {
    s3.put_object()
        .bucket(b)
        .key(key)
        .body(ByteStream::from_static(b"locked data"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string()
}

fn at(clock: &TestClock, from_now: Duration) -> DateTime {
    DateTime::from_millis(clock.now_ms() + from_now.as_millis() as i64)
}

async fn delete_version(
    s3: &Client,
    b: &str,
    key: &str,
    v: &str,
    bypass: bool,
) -> Result<(), String> {
    let mut req = s3.delete_object().bucket(b).key(key).version_id(v);
    if bypass {
        req = req.bypass_governance_retention(true);
    }
    req.send().await.map(|_| ()).map_err(|e| {
        assert_eq!(status(&e), 403);
        code(&e)
    })
}

#[tokio::test]
async fn object_lock_protects_versions_as_aws_does() {
    let clock = TestClock::starting_now();
    let srv = server_on(&clock).await;
    let s3 = srv.admin();
    let b = bucket("locked");
    s3.create_bucket()
        .bucket(&b)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    // Versioned from the start, for good.
    let v = s3.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let e = s3
        .put_bucket_versioning()
        .bucket(&b)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("InvalidBucketState", 409));
    let got = s3
        .get_object_lock_configuration()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let c = got.object_lock_configuration().unwrap();
    assert_eq!(c.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    assert!(c.rule().is_none());

    // Default retention: GOVERNANCE for one day.
    s3.put_object_lock_configuration()
        .bucket(&b)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Governance)
                                .days(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let g = put(&s3, &b, "g").await;
    let head = s3.head_object().bucket(&b).key("g").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    let until = head
        .object_lock_retain_until_date()
        .unwrap()
        .to_millis()
        .unwrap();
    assert!(
        (until - (clock.now_ms() + 86_400_000)).abs() < 2000,
        "{until}"
    );
    // Nobody deletes it without the bypass; a delete marker is fine (nothing is destroyed).
    assert_eq!(
        delete_version(&s3, &b, "g", &g, false).await.unwrap_err(),
        "AccessDenied"
    );
    s3.delete_object().bucket(&b).key("g").send().await.unwrap();
    // A key allowed everything but the bypass cannot lift it, even asking to.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:*","Resource":"*"},
        {"Effect":"Deny","Action":"s3:BypassGovernanceRetention","Resource":"*"}]}"#;
    let master = leadshop_keys::master_key::MasterSource::File(srv.data_dir().join("master.key"));
    let key = keys::create(&KeyPaths::new(srv.data_dir()), &master, "operator", policy).unwrap();
    let operator = srv.client_with(&key.access_key_id, &key.secret_access_key, None);
    assert_eq!(
        delete_version(&operator, &b, "g", &g, true)
            .await
            .unwrap_err(),
        "AccessDenied"
    );
    // The admin (s3:*) may, when it asks to.
    delete_version(&s3, &b, "g", &g, true).await.unwrap();

    // COMPLIANCE: extended, never shortened, never lifted, not even with the bypass.
    let c = s3
        .put_object()
        .bucket(&b)
        .key("c")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(at(&clock, DAY * 2))
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    let retention = |mode: ObjectLockRetentionMode, d: Duration| {
        s3.put_object_retention()
            .bucket(&b)
            .key("c")
            .version_id(&c)
            .bypass_governance_retention(true)
            .retention(
                ObjectLockRetention::builder()
                    .mode(mode)
                    .retain_until_date(at(&clock, d))
                    .build(),
            )
            .send()
    };
    let e = retention(ObjectLockRetentionMode::Compliance, DAY)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "shortened");
    let e = retention(ObjectLockRetentionMode::Governance, DAY * 3)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "weakened to GOVERNANCE");
    retention(ObjectLockRetentionMode::Compliance, DAY * 3)
        .await
        .unwrap();
    let got = s3
        .get_object_retention()
        .bucket(&b)
        .key("c")
        .version_id(&c)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.retention().unwrap().mode(),
        Some(&ObjectLockRetentionMode::Compliance)
    );
    assert_eq!(
        delete_version(&s3, &b, "c", &c, true).await.unwrap_err(),
        "AccessDenied"
    );
    clock.advance(DAY * 3 + Duration::from_secs(1));
    delete_version(&s3, &b, "c", &c, false).await.unwrap();

    // A legal hold outlives its retention until it is lifted.
    let h = put(&s3, &b, "h").await;
    s3.put_object_legal_hold()
        .bucket(&b)
        .key("h")
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap();
    clock.advance(DAY * 2);
    assert_eq!(
        delete_version(&s3, &b, "h", &h, true).await.unwrap_err(),
        "AccessDenied"
    );
    let hold = s3
        .get_object_legal_hold()
        .bucket(&b)
        .key("h")
        .send()
        .await
        .unwrap();
    assert_eq!(
        hold.legal_hold().unwrap().status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    s3.put_object_legal_hold()
        .bucket(&b)
        .key("h")
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::Off)
                .build(),
        )
        .send()
        .await
        .unwrap();
    delete_version(&s3, &b, "h", &h, false).await.unwrap();

    // Lifecycle does not delete a locked noncurrent version.
    put_rules(
        &s3,
        &b,
        vec![
            LifecycleRule::builder()
                .id("old")
                .status(aws_sdk_s3::types::ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("n").build())
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let old = s3
        .put_object()
        .bucket(&b)
        .key("n")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(at(&clock, DAY * 10))
        .body(ByteStream::from_static(b"old"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    put(&s3, &b, "n").await;
    clock.advance(DAY * 3);
    wait_for_pass(&srv, &clock).await;
    let versions = s3
        .list_object_versions()
        .bucket(&b)
        .prefix("n")
        .send()
        .await
        .unwrap();
    assert!(
        versions
            .versions()
            .iter()
            .any(|v| v.version_id() == Some(old.as_str())),
        "the locked noncurrent version is still there"
    );
}

#[tokio::test]
async fn buckets_without_object_lock_refuse_lock_requests() {
    let clock = TestClock::starting_now();
    let srv = server_on(&clock).await;
    let s3 = srv.admin();
    let e = s3
        .put_object()
        .bucket("leadshop-assets")
        .key("x")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(at(&clock, DAY))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("InvalidRequest", 400));
    let b = bucket("unlocked");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    let e = s3
        .put_object_lock_configuration()
        .bucket(&b)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("InvalidBucketState", 409));
    let e = s3
        .get_object_lock_configuration()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ObjectLockConfigurationNotFoundError");
    // A versioned bucket may turn Object Lock on (AWS allows it since 2023).
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
    s3.put_object_lock_configuration()
        .bucket(&b)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let e = s3
        .put_object()
        .bucket(&b)
        .key("y")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(at(&clock, Duration::ZERO))
        .body(ByteStream::from_static(b"y"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "InvalidArgument",
        "a retain-until date in the past"
    );
}
