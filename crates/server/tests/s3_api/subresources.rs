//! Bucket sub-resources: bucket tagging round-trips and is validated; the configurations
//! leadshop does not offer answer as AWS does for a bucket without them (the reads Terraform's
//! provider and SDK tools make on every refresh), and writes that would turn them on are
//! refused with NotImplemented.

use aws_sdk_s3::types::{
    AccelerateConfiguration, BucketAccelerateStatus, NotificationConfiguration,
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, Payer, RequestPaymentConfiguration, Tag,
    Tagging,
};

use crate::common::{TestServer, bucket, code, status};

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    Tagging::builder()
        .set_tag_set(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn bucket_tagging_round_trips_and_is_validated() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("tagging");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    let e = s3.get_bucket_tagging().bucket(&b).send().await.unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("NoSuchTagSet", 404));
    s3.put_bucket_tagging()
        .bucket(&b)
        .tagging(tagging(&[
            ("Environment", "dev"),
            ("Project", "leadfactory"),
        ]))
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_tagging().bucket(&b).send().await.unwrap();
    let tags: Vec<_> = got.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("Environment", "dev"), ("Project", "leadfactory")]);
    for bad in [
        tagging(&[("aws:reserved", "x")]),
        tagging(&[("k", "a"), ("k", "b")]),
        tagging(&[("", "empty key")]),
    ] {
        let e = s3
            .put_bucket_tagging()
            .bucket(&b)
            .tagging(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!((code(&e).as_str(), status(&e)), ("InvalidTag", 400));
    }
    let many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let e = s3
        .put_bucket_tagging()
        .bucket(&b)
        .tagging(tagging(&many))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidTag");
    // The application's key may not tag buckets.
    let e = srv
        .client("app")
        .put_bucket_tagging()
        .bucket("leadshop-assets")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    s3.delete_bucket_tagging().bucket(&b).send().await.unwrap();
    let e = s3.get_bucket_tagging().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchTagSet");
}

#[tokio::test]
async fn unconfigured_sub_resources_answer_as_aws_does() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = "leadshop-assets";
    let inv = s3
        .list_bucket_inventory_configurations()
        .bucket(b)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (inv.is_truncated(), inv.inventory_configuration_list().len()),
        (Some(false), 0)
    );
    let e = s3
        .list_bucket_inventory_configurations()
        .bucket("no-such-bucket-here")
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("NoSuchBucket", 404));
    // It needs s3:GetInventoryConfiguration, which the application key is not given.
    let e = srv
        .client("app")
        .list_bucket_inventory_configurations()
        .bucket(b)
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("AccessDenied", 403));
    let accel = s3
        .get_bucket_accelerate_configuration()
        .bucket(b)
        .send()
        .await
        .unwrap();
    assert_eq!(accel.status(), None);
    let pay = s3
        .get_bucket_request_payment()
        .bucket(b)
        .send()
        .await
        .unwrap();
    assert_eq!(pay.payer(), Some(&Payer::BucketOwner));
    let n = s3
        .get_bucket_notification_configuration()
        .bucket(b)
        .send()
        .await
        .unwrap();
    assert!(n.topic_configurations().is_empty() && n.queue_configurations().is_empty());
    let e = s3.get_bucket_website().bucket(b).send().await.unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("NoSuchWebsiteConfiguration", 404)
    );
    let e = s3
        .get_bucket_replication()
        .bucket(b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("ReplicationConfigurationNotFoundError", 404)
    );
    let e = s3
        .get_object_lock_configuration()
        .bucket(b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("ObjectLockConfigurationNotFoundError", 404)
    );
    let e = s3
        .get_object_retention()
        .bucket(b)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("InvalidRequest", 400));
    let e = s3
        .put_object_legal_hold()
        .bucket(b)
        .key("k")
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("InvalidRequest", 400));

    // Writes that leave a feature off succeed; the ones that would turn it on do not.
    s3.delete_bucket_website().bucket(b).send().await.unwrap();
    s3.delete_bucket_replication()
        .bucket(b)
        .send()
        .await
        .unwrap();
    s3.put_bucket_accelerate_configuration()
        .bucket(b)
        .accelerate_configuration(
            AccelerateConfiguration::builder()
                .status(BucketAccelerateStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let e = s3
        .put_bucket_accelerate_configuration()
        .bucket(b)
        .accelerate_configuration(
            AccelerateConfiguration::builder()
                .status(BucketAccelerateStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("NotImplemented", 501));
    s3.put_bucket_request_payment()
        .bucket(b)
        .request_payment_configuration(
            RequestPaymentConfiguration::builder()
                .payer(Payer::BucketOwner)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let e = s3
        .put_bucket_request_payment()
        .bucket(b)
        .request_payment_configuration(
            RequestPaymentConfiguration::builder()
                .payer(Payer::Requester)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotImplemented");
    s3.put_bucket_notification_configuration()
        .bucket(b)
        .notification_configuration(NotificationConfiguration::builder().build())
        .send()
        .await
        .unwrap();

    // A missing bucket is NoSuchBucket first, as for every sub-resource.
    let e = s3
        .get_bucket_website()
        .bucket("no-such-bucket-here")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchBucket");
    // And reads are authorised like any: the app key has no s3:GetBucketWebsite.
    let e = srv
        .client("app")
        .get_bucket_website()
        .bucket(b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}
