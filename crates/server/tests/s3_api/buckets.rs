use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::common::{TestServer, bucket, code, status};

#[tokio::test]
async fn bootstrap_creates_the_two_versioned_buckets() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(String::from))
        .collect();
    assert_eq!(names, ["leadshop-assets", "leadshop-security-logs"]);
    for b in &names {
        s3.head_bucket().bucket(b).send().await.unwrap();
        let v = s3.get_bucket_versioning().bucket(b).send().await.unwrap();
        assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"), "{b}");
    }
    let loc = s3
        .get_bucket_location()
        .bucket("leadshop-assets")
        .send()
        .await
        .unwrap();
    // us-east-1 is an empty <LocationConstraint/>, which the SDK surfaces as "" (as on AWS).
    assert_eq!(loc.location_constraint().map_or("", |c| c.as_str()), "");
}

#[tokio::test]
async fn create_head_delete_and_their_errors() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("lifecycle");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    let again = s3.create_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&again), "BucketAlreadyOwnedByYou");
    assert_eq!(status(&again), 409);

    let bad = s3
        .create_bucket()
        .bucket("Bad_Name")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "InvalidBucketName");
    // A dash beside a period: refused as AWS refuses it, while a period between letters is
    // a valid name.
    for dash_dot in ["dash-.dot", "dot.-dash"] {
        let refused = s3
            .create_bucket()
            .bucket(dash_dot)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&refused), "InvalidBucketName", "{dash_dot}");
        assert_eq!(status(&refused), 400, "{dash_dot}");
    }
    s3.create_bucket()
        .bucket("dash-a.dot")
        .send()
        .await
        .unwrap();
    s3.delete_bucket()
        .bucket("dash-a.dot")
        .send()
        .await
        .unwrap();

    let other_region = s3
        .create_bucket()
        .bucket(bucket("region"))
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&other_region), "IllegalLocationConstraintException");

    s3.put_object()
        .bucket(&b)
        .key("k")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let not_empty = s3.delete_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&not_empty), "BucketNotEmpty");
    s3.delete_object().bucket(&b).key("k").send().await.unwrap();
    s3.delete_bucket().bucket(&b).send().await.unwrap();

    let gone = s3.head_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(status(&gone), 404);
    let gone = s3.list_objects_v2().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&gone), "NoSuchBucket");
    let gone = s3.delete_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&gone), "NoSuchBucket");
}

#[tokio::test]
async fn a_versioned_bucket_with_only_delete_markers_is_not_empty() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("markers");
    s3.create_bucket().bucket(&b).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(&b)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(&b)
        .key("never-existed")
        .send()
        .await
        .unwrap();
    let e = s3.delete_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&e), "BucketNotEmpty");
}
