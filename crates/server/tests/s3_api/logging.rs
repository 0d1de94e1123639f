//! Server access logging and request-metrics configurations through the official Rust SDK:
//! the baseline logging of leadshop-assets reads back as its document says; a target whose
//! policy does not admit the logging service is refused with InvalidTargetBucketForLogging;
//! metrics configurations round-trip, list and delete, and a missing one is
//! NoSuchConfiguration (404).

use aws_sdk_s3::types::{
    BucketLoggingStatus, LoggingEnabled, MetricsConfiguration, MetricsFilter, PartitionDateSource,
};

use crate::common::{TestServer, bucket, code, status};

const ASSETS: &str = "leadshop-assets";

#[tokio::test]
async fn logging_reads_back_and_needs_a_target_that_admits_the_logging_service() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let got = s3.get_bucket_logging().bucket(ASSETS).send().await.unwrap();
    let l = got
        .logging_enabled()
        .expect("the baseline logs leadshop-assets");
    assert_eq!(l.target_bucket(), "leadshop-security-logs");
    assert_eq!(l.target_prefix(), "s3-access/leadshop-assets/");
    let source = l
        .target_object_key_format()
        .and_then(|f| f.partitioned_prefix())
        .and_then(|p| p.partition_date_source());
    assert_eq!(source, Some(&PartitionDateSource::EventTime));

    let target = bucket("log-target");
    s3.create_bucket().bucket(&target).send().await.unwrap();
    let to_target = BucketLoggingStatus::builder()
        .logging_enabled(
            LoggingEnabled::builder()
                .target_bucket(&target)
                .target_prefix("logs/")
                .build()
                .unwrap(),
        )
        .build();
    let e = s3
        .put_bucket_logging()
        .bucket(ASSETS)
        .bucket_logging_status(to_target.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("InvalidTargetBucketForLogging", 400)
    );
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{target}/logs/*")}]});
    s3.put_bucket_policy()
        .bucket(&target)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    s3.put_bucket_logging()
        .bucket(ASSETS)
        .bucket_logging_status(to_target)
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_logging().bucket(ASSETS).send().await.unwrap();
    assert_eq!(got.logging_enabled().unwrap().target_bucket(), target);
    s3.put_bucket_logging()
        .bucket(ASSETS)
        .bucket_logging_status(BucketLoggingStatus::builder().build())
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_logging().bucket(ASSETS).send().await.unwrap();
    assert!(got.logging_enabled().is_none());
}

#[tokio::test]
async fn metrics_configurations_round_trip_list_and_delete() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let config = |id: &str, prefix: &str| {
        MetricsConfiguration::builder()
            .id(id)
            .filter(MetricsFilter::Prefix(prefix.into()))
            .build()
            .unwrap()
    };
    for (id, prefix) in [("Reports", "reports/"), ("Tmp", "tmp/")] {
        s3.put_bucket_metrics_configuration()
            .bucket(ASSETS)
            .id(id)
            .metrics_configuration(config(id, prefix))
            .send()
            .await
            .unwrap();
    }
    let got = s3
        .get_bucket_metrics_configuration()
        .bucket(ASSETS)
        .id("Reports")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.metrics_configuration(),
        Some(&config("Reports", "reports/"))
    );
    let listed = s3
        .list_bucket_metrics_configurations()
        .bucket(ASSETS)
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = listed
        .metrics_configuration_list()
        .iter()
        .map(|c| c.id())
        .collect();
    // EntireBucket is the baseline's (config/buckets/leadshop-assets/metrics.json).
    assert_eq!(ids, ["EntireBucket", "Reports", "Tmp"]);
    let e = s3
        .put_bucket_metrics_configuration()
        .bucket(ASSETS)
        .id("Other")
        .metrics_configuration(config("Mismatch", "x/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");
    s3.delete_bucket_metrics_configuration()
        .bucket(ASSETS)
        .id("Reports")
        .send()
        .await
        .unwrap();
    let e = s3
        .get_bucket_metrics_configuration()
        .bucket(ASSETS)
        .id("Reports")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("NoSuchConfiguration", 404)
    );
    let e = s3
        .delete_bucket_metrics_configuration()
        .bucket(ASSETS)
        .id("Reports")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);
}
