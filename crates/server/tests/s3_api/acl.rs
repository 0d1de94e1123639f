//! ACLs where Object Ownership enables them (ObjectWriter, BucketOwnerPreferred): stored,
//! returned and enforced for AllUsers and AuthenticatedUsers grants, with Public Access
//! Block's BlockPublicAcls and IgnorePublicAcls; BucketOwnerEnforced switches them off again.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketCannedAcl, ObjectCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration,
};

use crate::common::{TestServer, bucket, code, status};

fn controls(o: ObjectOwnership) -> OwnershipControls {
    OwnershipControls::builder()
        .rules(
            OwnershipControlsRule::builder()
                .object_ownership(o)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn acls_are_enforced_where_object_ownership_enables_them() {
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("acls");
    s3.create_bucket()
        .bucket(&b)
        .object_ownership(ObjectOwnership::ObjectWriter)
        .send()
        .await
        .unwrap();
    // A new bucket has every Public Access Block setting on, as on AWS: a public ACL is
    // refused until the owner lifts it.
    let pab = s3
        .get_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let e = s3
        .put_object()
        .bucket(&b)
        .key("early")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("AccessDenied", 403));
    let e = s3
        .create_bucket()
        .bucket(bucket("acl-public-at-birth"))
        .object_ownership(ObjectOwnership::ObjectWriter)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("InvalidBucketAclWithBlockPublicAccessError", 400)
    );
    s3.delete_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_ownership_controls()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::ObjectWriter
    );
    let put = |key: &'static str, acl: Option<ObjectCannedAcl>| {
        s3.put_object()
            .bucket(&b)
            .key(key)
            .set_acl(acl)
            .body(ByteStream::from_static(b"shared"))
            .send()
    };
    put("public", Some(ObjectCannedAcl::PublicRead))
        .await
        .unwrap();
    put("private", None).await.unwrap();
    put("members", Some(ObjectCannedAcl::AuthenticatedRead))
        .await
        .unwrap();
    let srv = &srv;
    let anon = |path: String| async move { srv.https_raw("GET", &path, &[]).await };

    // AllUsers READ: anyone reads it, unsigned; the private one stays private.
    let (st, body) = anon(format!("/{b}/public")).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.ends_with("shared"));
    let (st, _) = anon(format!("/{b}/private")).await;
    assert_eq!(st, 403);
    let acl = s3
        .get_object_acl()
        .bucket(&b)
        .key("public")
        .send()
        .await
        .unwrap();
    let grants: Vec<_> = acl
        .grants()
        .iter()
        .map(|g| {
            (
                g.grantee().unwrap().uri().unwrap_or("owner").to_string(),
                g.permission().unwrap().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        grants,
        [
            ("owner".to_string(), "FULL_CONTROL".to_string()),
            (
                "http://acs.amazonaws.com/groups/global/AllUsers".to_string(),
                "READ".to_string()
            )
        ]
    );
    // AuthenticatedUsers READ: any valid key — the app key, whose own policy names only
    // leadshop-assets — but not anonymous callers.
    let app = srv.client("app");
    let read = app
        .get_object()
        .bucket(&b)
        .key("members")
        .send()
        .await
        .unwrap();
    assert_eq!(
        read.body.collect().await.unwrap().into_bytes().as_ref(),
        b"shared"
    );
    let e = app
        .get_object()
        .bucket(&b)
        .key("private")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let (st, _) = anon(format!("/{b}/members")).await;
    assert_eq!(st, 403);

    // A public bucket ACL lets anyone list.
    let (st, _) = anon(format!("/{b}?list-type=2")).await;
    assert_eq!(st, 403);
    s3.put_bucket_acl()
        .bucket(&b)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let (st, body) = anon(format!("/{b}?list-type=2")).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("<Key>private</Key>"));

    // IgnorePublicAcls: the grants count for nothing; BlockPublicAcls: they cannot be set.
    s3.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .ignore_public_acls(true)
                .block_public_acls(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (st, _) = anon(format!("/{b}/public")).await;
    assert_eq!(st, 403, "ignored");
    let e = s3
        .put_object_acl()
        .bucket(&b)
        .key("private")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("AccessDenied", 403));
    s3.delete_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let (st, _) = anon(format!("/{b}/public")).await;
    assert_eq!(st, 200, "in force again");

    // BucketOwnerEnforced is refused while the bucket ACL grants others; once private, it
    // switches every ACL off.
    let e = s3
        .put_bucket_ownership_controls()
        .bucket(&b)
        .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("InvalidBucketAclWithObjectOwnership", 400)
    );
    s3.put_bucket_acl()
        .bucket(&b)
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    s3.put_bucket_ownership_controls()
        .bucket(&b)
        .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
        .send()
        .await
        .unwrap();
    let (st, _) = anon(format!("/{b}/public")).await;
    assert_eq!(st, 403, "ACLs disabled");
    let acl = s3
        .get_object_acl()
        .bucket(&b)
        .key("public")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.grants().len(), 1, "the owner alone, as AWS reports it");

    // Deleting the ownership controls: none reported, ACLs in force as with ObjectWriter.
    s3.delete_bucket_ownership_controls()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let e = s3
        .get_bucket_ownership_controls()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), status(&e)),
        ("OwnershipControlsNotFoundError", 404)
    );
    let (st, _) = anon(format!("/{b}/public")).await;
    assert_eq!(st, 200);

    // BucketOwnerEnforced at creation refuses ACLs that grant.
    let e = s3
        .create_bucket()
        .bucket(bucket("acl-refused"))
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidBucketAclWithObjectOwnership");
}

/// Grants the typed ACL cannot hold are refused with AWS's codes, in a body and in the
/// `x-amz-grant-*` headers; one it can hold is stored and read back.
#[tokio::test]
async fn grants_that_name_no_permission_or_group_are_refused() {
    use aws_sdk_s3::types::{AccessControlPolicy, Grant, Grantee, Owner, Permission, Type};
    let srv = TestServer::start().await;
    let s3 = srv.admin();
    let b = bucket("acl-grants");
    s3.create_bucket()
        .bucket(&b)
        .object_ownership(ObjectOwnership::ObjectWriter)
        .send()
        .await
        .unwrap();
    let owner = s3.get_bucket_acl().bucket(&b).send().await.unwrap();
    let owner_id = owner.owner().unwrap().id().unwrap().to_string();
    let policy = |grantee: Grantee, permission: Permission| {
        AccessControlPolicy::builder()
            .owner(Owner::builder().id(&owner_id).build())
            .grants(
                Grant::builder()
                    .grantee(grantee)
                    .permission(permission)
                    .build(),
            )
            .build()
    };
    let group = |uri: &str| {
        Grantee::builder()
            .r#type(Type::Group)
            .uri(uri)
            .build()
            .unwrap()
    };
    let log_delivery = "http://acs.amazonaws.com/groups/s3/LogDelivery";
    let refused = [
        (
            policy(group("http://example.com/everyone"), Permission::Read),
            "InvalidArgument",
        ),
        (
            policy(group(log_delivery), Permission::from("READ_EVERYTHING")),
            "MalformedACLError",
        ),
        (
            policy(
                Grantee::builder()
                    .r#type(Type::AmazonCustomerByEmail)
                    .email_address("someone@example.com")
                    .build()
                    .unwrap(),
                Permission::Read,
            ),
            "UnresolvableGrantByEmailAddress",
        ),
    ];
    for (body, want) in refused {
        let e = s3
            .put_bucket_acl()
            .bucket(&b)
            .access_control_policy(body)
            .send()
            .await
            .unwrap_err();
        assert_eq!((code(&e).as_str(), status(&e)), (want, 400));
    }
    let e = s3
        .put_bucket_acl()
        .bucket(&b)
        .grant_read("uri=\"http://example.com/everyone\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e).as_str(), status(&e)), ("InvalidArgument", 400));
    // Allowed: the log-delivery group's WRITE (not public, so Public Access Block lets it).
    s3.put_bucket_acl()
        .bucket(&b)
        .access_control_policy(policy(group(log_delivery), Permission::Write))
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_acl().bucket(&b).send().await.unwrap();
    let grants: Vec<_> = got
        .grants()
        .iter()
        .map(|g| {
            (
                g.grantee().unwrap().uri().unwrap_or("").to_string(),
                g.permission().unwrap().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(grants, [(log_delivery.to_string(), "WRITE".to_string())]);
}
