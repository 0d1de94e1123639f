//! Every operation s3s 0.17.0 routes, and what leadshop does with each: the source of
//! `docs/S3-API.md` with the operation descriptors (`leadshop_spec::operations`), which a test
//! keeps equal to what they say, so the document cannot drift from the code.

/// The operations s3s 0.17.0 routes (its `ops/generated` modules), by `S3` trait method.
pub const S3S_OPERATIONS: &[&str] = &[
    "abort_multipart_upload",
    "complete_multipart_upload",
    "copy_object",
    "create_bucket",
    "create_bucket_metadata_configuration",
    "create_bucket_metadata_table_configuration",
    "create_multipart_upload",
    "create_session",
    "delete_bucket",
    "delete_bucket_analytics_configuration",
    "delete_bucket_cors",
    "delete_bucket_encryption",
    "delete_bucket_intelligent_tiering_configuration",
    "delete_bucket_inventory_configuration",
    "delete_bucket_lifecycle",
    "delete_bucket_metadata_configuration",
    "delete_bucket_metadata_table_configuration",
    "delete_bucket_metrics_configuration",
    "delete_bucket_ownership_controls",
    "delete_bucket_policy",
    "delete_bucket_replication",
    "delete_bucket_tagging",
    "delete_bucket_website",
    "delete_object",
    "delete_object_annotation",
    "delete_object_tagging",
    "delete_objects",
    "delete_public_access_block",
    "get_bucket_abac",
    "get_bucket_accelerate_configuration",
    "get_bucket_acl",
    "get_bucket_analytics_configuration",
    "get_bucket_cors",
    "get_bucket_encryption",
    "get_bucket_intelligent_tiering_configuration",
    "get_bucket_inventory_configuration",
    "get_bucket_lifecycle_configuration",
    "get_bucket_location",
    "get_bucket_logging",
    "get_bucket_metadata_configuration",
    "get_bucket_metadata_table_configuration",
    "get_bucket_metrics_configuration",
    "get_bucket_notification_configuration",
    "get_bucket_ownership_controls",
    "get_bucket_policy",
    "get_bucket_policy_status",
    "get_bucket_replication",
    "get_bucket_request_payment",
    "get_bucket_tagging",
    "get_bucket_versioning",
    "get_bucket_website",
    "get_object",
    "get_object_acl",
    "get_object_annotation",
    "get_object_attributes",
    "get_object_legal_hold",
    "get_object_lock_configuration",
    "get_object_retention",
    "get_object_tagging",
    "get_object_torrent",
    "get_public_access_block",
    "head_bucket",
    "head_object",
    "list_bucket_analytics_configurations",
    "list_bucket_intelligent_tiering_configurations",
    "list_bucket_inventory_configurations",
    "list_bucket_metrics_configurations",
    "list_buckets",
    "list_directory_buckets",
    "list_multipart_uploads",
    "list_object_annotations",
    "list_object_versions",
    "list_objects",
    "list_objects_v2",
    "list_parts",
    "listen_bucket_notification",
    "post_object",
    "put_bucket_abac",
    "put_bucket_accelerate_configuration",
    "put_bucket_acl",
    "put_bucket_analytics_configuration",
    "put_bucket_cors",
    "put_bucket_encryption",
    "put_bucket_intelligent_tiering_configuration",
    "put_bucket_inventory_configuration",
    "put_bucket_lifecycle_configuration",
    "put_bucket_logging",
    "put_bucket_metrics_configuration",
    "put_bucket_notification_configuration",
    "put_bucket_ownership_controls",
    "put_bucket_policy",
    "put_bucket_replication",
    "put_bucket_request_payment",
    "put_bucket_tagging",
    "put_bucket_versioning",
    "put_bucket_website",
    "put_object",
    "put_object_acl",
    "put_object_annotation",
    "put_object_legal_hold",
    "put_object_lock_configuration",
    "put_object_retention",
    "put_object_tagging",
    "put_public_access_block",
    "rename_object",
    "restore_object",
    "select_object_content",
    "update_bucket_metadata_annotation_table_configuration",
    "update_bucket_metadata_inventory_table_configuration",
    "update_bucket_metadata_journal_table_configuration",
    "update_object_encryption",
    "upload_part",
    "upload_part_copy",
    "write_get_object_response",
];

use leadshop_spec::Operation;
use leadshop_spec::Operation as O;

/// Where a supported operation differs from AWS in a way a client could notice.
pub const DIFFERENCES: &[(Operation, &str)] = &[
    (
        O::CompleteMultipartUpload,
        "a conditional completion (If-None-Match, If-Match) answers 409 ConditionalRequestConflict when the key got a delete marker after the upload began, as AWS does; a delete on an unversioned bucket leaves no record, so the completion is judged against the key as it is",
    ),
    (
        O::PutBucketAccelerateConfiguration,
        "transfer acceleration is not offered: `Suspended` is accepted (a no-op), `Enabled` answers NotImplemented",
    ),
    (
        O::PutBucketRequestPayment,
        "Requester Pays is not offered: `BucketOwner` is accepted (a no-op), `Requester` answers NotImplemented",
    ),
    (
        O::PutBucketNotificationConfiguration,
        "event notifications are not offered: an empty configuration is accepted, any destination answers NotImplemented",
    ),
    (
        O::PutBucketWebsite,
        "static website hosting is not offered: NotImplemented; GetBucketWebsite answers NoSuchWebsiteConfiguration and DeleteBucketWebsite succeeds, as for a bucket without one",
    ),
    (
        O::PutBucketReplication,
        "the Role is validated and used for nothing: leadshop replicates as itself, to a bucket of this server or to an endpoint `[replication.destinations]` maps the destination ARN to (credentials sealed in the data directory); a replica's ETag is its own single-part one; replica modifications, Object Lock retention and ACL translation are not carried to a replica",
    ),
    (
        O::CreateMultipartUpload,
        "in a bucket with Object Lock, the default retention of the completed object is counted from CreateMultipartUpload, not from the completion",
    ),
    (
        O::PutBucketLifecycleConfiguration,
        "rules are applied once a day at midnight UTC of the server's clock (a day is `day_seconds`), as AWS does it, by a worker that re-checks each version in the same transaction as the change; a transition changes the class without rewriting data",
    ),
    (
        O::RestoreObject,
        "archive restores only (S3 Select requests answer NotImplemented); a restore takes AWS's upper bound for the class and tier, on the server's clock (scaled by `day_seconds`); the copy expires `Days` days after it is ready, not at the following midnight UTC",
    ),
    (
        O::PutBucketAcl,
        "ACLs count only in buckets whose Object Ownership enables them, and only their AllUsers and AuthenticatedUsers grants widen access (every key belongs to the one account; grants to other canonical ids are stored but name no one here; e-mail grantees are refused with UnresolvableGrantByEmailAddress); under BucketOwnerEnforced only owner-only ACLs are accepted (no change), as on AWS",
    ),
    (
        O::PutObjectAcl,
        "as PutBucketAcl: enforced where Object Ownership enables ACLs, for AllUsers and AuthenticatedUsers grants",
    ),
    (
        O::ListObjectVersions,
        "versions and delete markers are grouped in the XML (all `Version`s, then all `DeleteMarker`s); SDKs parse them into separate lists either way",
    ),
    (
        O::GetObjectAttributes,
        "the `ETag` element is quoted, as in every other response (AWS leaves it unquoted here)",
    ),
    (
        O::DeleteObject,
        "`x-amz-if-match-last-modified-time` and `x-amz-if-match-size` (directory buckets only on AWS) answer NotImplemented",
    ),
    (
        O::PutObject,
        "`If-Match` together with `If-None-Match` answers NotImplemented",
    ),
    (
        O::PostObject,
        "browser POST uploads: the shell reads the form and checks its policy, the access hook authorises it as the PutObject it becomes; routed as PutObject; policy conditions are checked before the signature, so a form failing both gets the condition's error",
    ),
    (
        O::CreateBucket,
        "as on AWS since 2023, a new bucket has all four Public Access Block settings on and is BucketOwnerEnforced unless `x-amz-object-ownership` says otherwise; a public ACL at creation gets InvalidBucketAclWithBlockPublicAccessError (AWS's code, not in s3s's list, sent as a custom code with status 400)",
    ),
    (
        O::PutBucketLogging,
        "the target's bucket policy must admit `logging.s3.amazonaws.com` (BucketOwnerEnforced rules; target grants are refused); log lines name the TLS cipher as rustls does (`TLS13_AES_256_GCM_SHA384`, not OpenSSL's names), and write `-` for aclRequired and the source region; records reach the log bucket after `[access_logs] flush_seconds` (60) rather than AWS's hours",
    ),
    (
        O::PutBucketMetricsConfiguration,
        "a filter's Prefix selects the requests counted; tag conditions are stored and returned but not evaluated per request, and an access-point filter counts nothing (leadshop has no access points)",
    ),
];

/// `docs/S3-API.md`.
#[must_use]
pub fn document() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# S3 operations\n\nGenerated from the operation descriptors (`crates/spec/src/operations/table.rs`) and\n`crates/server/src/s3/operations.rs` (`LEADSHOP_WRITE_DOCS=1 cargo test -p leadshop-server --lib\n--ignore-rust-version operations` rewrites it; the test fails while it is out of date).\nEvery operation s3s 0.17.0 routes is listed: *supported*, *supported with a difference*\n(named), or *NotImplemented* (answered with 501 `NotImplemented`, never a silent success).\nThe IAM action is what a policy must allow (the one after \"versionId:\" when the request names a\nversion).\n\n| operation | status | IAM action | notes |\n|---|---|---|---|\n",
    );
    let (mut yes, mut total) = (0, 0);
    for method in S3S_OPERATIONS {
        total += 1;
        let name = super::operation_name(method);
        let served = Operation::ALL.iter().find(|o| o.method() == *method);
        let supported = served.is_some();
        let diff = DIFFERENCES
            .iter()
            .find(|(o, _)| Some(o) == served)
            .map(|(_, d)| *d);
        let status = match (supported, diff) {
            (true, None) => "supported",
            (true, Some(_)) => "supported, with a difference",
            (false, _) => "NotImplemented",
        };
        if supported {
            yes += 1;
        }
        let notes = diff.unwrap_or_default();
        let action = served.map_or(String::new(), |o| {
            let (plain, versioned) = (o.action(false).name, o.action(true).name);
            if plain == versioned {
                format!("`{plain}`")
            } else {
                format!("`{plain}`; versionId: `{versioned}`")
            }
        });
        let _ = writeln!(out, "| {name} | {status} | {action} | {notes} |");
    }
    let _ = writeln!(out, "\n{yes} of {total} operations supported.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operations_document_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/S3-API.md");
        let want = document();
        if std::env::var_os("LEADSHOP_WRITE_DOCS").is_some() {
            std::fs::write(&path, &want).expect("write docs/S3-API.md");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/S3-API.md is out of date: LEADSHOP_WRITE_DOCS=1 cargo test -p leadshop-server --lib --ignore-rust-version operations"
        );
        for op in Operation::ALL {
            assert!(
                S3S_OPERATIONS.contains(&op.method()),
                "{op} is served but not an s3s operation"
            );
        }
    }
}
