//! The input and output DTO types of each operation the handler table (`delegate!` in
//! `s3/mod.rs`) lists, by its `S3` trait method name.

// Spelled out so the table in `s3/mod.rs` stays one line per operation.
macro_rules! paste_input {
    (put_bucket_policy) => {
        PutBucketPolicyInput
    };
    (get_bucket_policy) => {
        GetBucketPolicyInput
    };
    (delete_bucket_policy) => {
        DeleteBucketPolicyInput
    };
    (get_bucket_policy_status) => {
        GetBucketPolicyStatusInput
    };
    (put_public_access_block) => {
        PutPublicAccessBlockInput
    };
    (get_public_access_block) => {
        GetPublicAccessBlockInput
    };
    (delete_public_access_block) => {
        DeletePublicAccessBlockInput
    };
    (create_bucket) => {
        CreateBucketInput
    };
    (head_bucket) => {
        HeadBucketInput
    };
    (list_buckets) => {
        ListBucketsInput
    };
    (delete_bucket) => {
        DeleteBucketInput
    };
    (get_bucket_location) => {
        GetBucketLocationInput
    };
    (put_bucket_versioning) => {
        PutBucketVersioningInput
    };
    (get_bucket_versioning) => {
        GetBucketVersioningInput
    };
    (get_bucket_encryption) => {
        GetBucketEncryptionInput
    };
    (get_bucket_cors) => {
        GetBucketCorsInput
    };
    (get_bucket_tagging) => {
        GetBucketTaggingInput
    };
    (put_bucket_tagging) => {
        PutBucketTaggingInput
    };
    (delete_bucket_tagging) => {
        DeleteBucketTaggingInput
    };
    (get_bucket_accelerate_configuration) => {
        GetBucketAccelerateConfigurationInput
    };
    (put_bucket_accelerate_configuration) => {
        PutBucketAccelerateConfigurationInput
    };
    (get_bucket_request_payment) => {
        GetBucketRequestPaymentInput
    };
    (put_bucket_request_payment) => {
        PutBucketRequestPaymentInput
    };
    (get_bucket_notification_configuration) => {
        GetBucketNotificationConfigurationInput
    };
    (put_bucket_notification_configuration) => {
        PutBucketNotificationConfigurationInput
    };
    (get_bucket_website) => {
        GetBucketWebsiteInput
    };
    (put_bucket_website) => {
        PutBucketWebsiteInput
    };
    (delete_bucket_website) => {
        DeleteBucketWebsiteInput
    };
    (get_bucket_replication) => {
        GetBucketReplicationInput
    };
    (put_bucket_replication) => {
        PutBucketReplicationInput
    };
    (delete_bucket_replication) => {
        DeleteBucketReplicationInput
    };
    (get_object_lock_configuration) => {
        GetObjectLockConfigurationInput
    };
    (put_object_lock_configuration) => {
        PutObjectLockConfigurationInput
    };
    (get_object_retention) => {
        GetObjectRetentionInput
    };
    (put_object_retention) => {
        PutObjectRetentionInput
    };
    (get_object_legal_hold) => {
        GetObjectLegalHoldInput
    };
    (put_object_legal_hold) => {
        PutObjectLegalHoldInput
    };
    (get_bucket_logging) => {
        GetBucketLoggingInput
    };
    (put_bucket_logging) => {
        PutBucketLoggingInput
    };
    (get_bucket_metrics_configuration) => {
        GetBucketMetricsConfigurationInput
    };
    (put_bucket_metrics_configuration) => {
        PutBucketMetricsConfigurationInput
    };
    (delete_bucket_metrics_configuration) => {
        DeleteBucketMetricsConfigurationInput
    };
    (list_bucket_metrics_configurations) => {
        ListBucketMetricsConfigurationsInput
    };
    (get_bucket_lifecycle_configuration) => {
        GetBucketLifecycleConfigurationInput
    };
    (put_bucket_lifecycle_configuration) => {
        PutBucketLifecycleConfigurationInput
    };
    (delete_bucket_lifecycle) => {
        DeleteBucketLifecycleInput
    };
    (put_bucket_cors) => {
        PutBucketCorsInput
    };
    (delete_bucket_cors) => {
        DeleteBucketCorsInput
    };
    (put_bucket_encryption) => {
        PutBucketEncryptionInput
    };
    (delete_bucket_encryption) => {
        DeleteBucketEncryptionInput
    };
    (put_object) => {
        PutObjectInput
    };
    (get_object) => {
        GetObjectInput
    };
    (head_object) => {
        HeadObjectInput
    };
    (restore_object) => {
        RestoreObjectInput
    };
    (get_bucket_acl) => {
        GetBucketAclInput
    };
    (put_bucket_acl) => {
        PutBucketAclInput
    };
    (get_object_acl) => {
        GetObjectAclInput
    };
    (put_object_acl) => {
        PutObjectAclInput
    };
    (get_bucket_ownership_controls) => {
        GetBucketOwnershipControlsInput
    };
    (put_bucket_ownership_controls) => {
        PutBucketOwnershipControlsInput
    };
    (delete_bucket_ownership_controls) => {
        DeleteBucketOwnershipControlsInput
    };
    (get_object_attributes) => {
        GetObjectAttributesInput
    };
    (copy_object) => {
        CopyObjectInput
    };
    (delete_object) => {
        DeleteObjectInput
    };
    (delete_objects) => {
        DeleteObjectsInput
    };
    (put_object_tagging) => {
        PutObjectTaggingInput
    };
    (get_object_tagging) => {
        GetObjectTaggingInput
    };
    (delete_object_tagging) => {
        DeleteObjectTaggingInput
    };
    (list_objects) => {
        ListObjectsInput
    };
    (list_objects_v2) => {
        ListObjectsV2Input
    };
    (list_object_versions) => {
        ListObjectVersionsInput
    };
    (create_multipart_upload) => {
        CreateMultipartUploadInput
    };
    (upload_part) => {
        UploadPartInput
    };
    (upload_part_copy) => {
        UploadPartCopyInput
    };
    (complete_multipart_upload) => {
        CompleteMultipartUploadInput
    };
    (abort_multipart_upload) => {
        AbortMultipartUploadInput
    };
    (list_parts) => {
        ListPartsInput
    };
    (list_multipart_uploads) => {
        ListMultipartUploadsInput
    };
}
macro_rules! paste_output {
    (put_bucket_policy) => {
        PutBucketPolicyOutput
    };
    (get_bucket_policy) => {
        GetBucketPolicyOutput
    };
    (delete_bucket_policy) => {
        DeleteBucketPolicyOutput
    };
    (get_bucket_policy_status) => {
        GetBucketPolicyStatusOutput
    };
    (put_public_access_block) => {
        PutPublicAccessBlockOutput
    };
    (get_public_access_block) => {
        GetPublicAccessBlockOutput
    };
    (delete_public_access_block) => {
        DeletePublicAccessBlockOutput
    };
    (create_bucket) => {
        CreateBucketOutput
    };
    (head_bucket) => {
        HeadBucketOutput
    };
    (list_buckets) => {
        ListBucketsOutput
    };
    (delete_bucket) => {
        DeleteBucketOutput
    };
    (get_bucket_location) => {
        GetBucketLocationOutput
    };
    (put_bucket_versioning) => {
        PutBucketVersioningOutput
    };
    (get_bucket_versioning) => {
        GetBucketVersioningOutput
    };
    (get_bucket_encryption) => {
        GetBucketEncryptionOutput
    };
    (get_bucket_cors) => {
        GetBucketCorsOutput
    };
    (get_bucket_tagging) => {
        GetBucketTaggingOutput
    };
    (put_bucket_tagging) => {
        PutBucketTaggingOutput
    };
    (delete_bucket_tagging) => {
        DeleteBucketTaggingOutput
    };
    (get_bucket_accelerate_configuration) => {
        GetBucketAccelerateConfigurationOutput
    };
    (put_bucket_accelerate_configuration) => {
        PutBucketAccelerateConfigurationOutput
    };
    (get_bucket_request_payment) => {
        GetBucketRequestPaymentOutput
    };
    (put_bucket_request_payment) => {
        PutBucketRequestPaymentOutput
    };
    (get_bucket_notification_configuration) => {
        GetBucketNotificationConfigurationOutput
    };
    (put_bucket_notification_configuration) => {
        PutBucketNotificationConfigurationOutput
    };
    (get_bucket_website) => {
        GetBucketWebsiteOutput
    };
    (put_bucket_website) => {
        PutBucketWebsiteOutput
    };
    (delete_bucket_website) => {
        DeleteBucketWebsiteOutput
    };
    (get_bucket_replication) => {
        GetBucketReplicationOutput
    };
    (put_bucket_replication) => {
        PutBucketReplicationOutput
    };
    (delete_bucket_replication) => {
        DeleteBucketReplicationOutput
    };
    (get_object_lock_configuration) => {
        GetObjectLockConfigurationOutput
    };
    (put_object_lock_configuration) => {
        PutObjectLockConfigurationOutput
    };
    (get_object_retention) => {
        GetObjectRetentionOutput
    };
    (put_object_retention) => {
        PutObjectRetentionOutput
    };
    (get_object_legal_hold) => {
        GetObjectLegalHoldOutput
    };
    (put_object_legal_hold) => {
        PutObjectLegalHoldOutput
    };
    (get_bucket_logging) => {
        GetBucketLoggingOutput
    };
    (put_bucket_logging) => {
        PutBucketLoggingOutput
    };
    (get_bucket_metrics_configuration) => {
        GetBucketMetricsConfigurationOutput
    };
    (put_bucket_metrics_configuration) => {
        PutBucketMetricsConfigurationOutput
    };
    (delete_bucket_metrics_configuration) => {
        DeleteBucketMetricsConfigurationOutput
    };
    (list_bucket_metrics_configurations) => {
        ListBucketMetricsConfigurationsOutput
    };
    (get_bucket_lifecycle_configuration) => {
        GetBucketLifecycleConfigurationOutput
    };
    (put_bucket_lifecycle_configuration) => {
        PutBucketLifecycleConfigurationOutput
    };
    (delete_bucket_lifecycle) => {
        DeleteBucketLifecycleOutput
    };
    (put_bucket_cors) => {
        PutBucketCorsOutput
    };
    (delete_bucket_cors) => {
        DeleteBucketCorsOutput
    };
    (put_bucket_encryption) => {
        PutBucketEncryptionOutput
    };
    (delete_bucket_encryption) => {
        DeleteBucketEncryptionOutput
    };
    (put_object) => {
        PutObjectOutput
    };
    (get_object) => {
        GetObjectOutput
    };
    (head_object) => {
        HeadObjectOutput
    };
    (restore_object) => {
        RestoreObjectOutput
    };
    (get_bucket_acl) => {
        GetBucketAclOutput
    };
    (put_bucket_acl) => {
        PutBucketAclOutput
    };
    (get_object_acl) => {
        GetObjectAclOutput
    };
    (put_object_acl) => {
        PutObjectAclOutput
    };
    (get_bucket_ownership_controls) => {
        GetBucketOwnershipControlsOutput
    };
    (put_bucket_ownership_controls) => {
        PutBucketOwnershipControlsOutput
    };
    (delete_bucket_ownership_controls) => {
        DeleteBucketOwnershipControlsOutput
    };
    (get_object_attributes) => {
        GetObjectAttributesOutput
    };
    (copy_object) => {
        CopyObjectOutput
    };
    (delete_object) => {
        DeleteObjectOutput
    };
    (delete_objects) => {
        DeleteObjectsOutput
    };
    (put_object_tagging) => {
        PutObjectTaggingOutput
    };
    (get_object_tagging) => {
        GetObjectTaggingOutput
    };
    (delete_object_tagging) => {
        DeleteObjectTaggingOutput
    };
    (list_objects) => {
        ListObjectsOutput
    };
    (list_objects_v2) => {
        ListObjectsV2Output
    };
    (list_object_versions) => {
        ListObjectVersionsOutput
    };
    (create_multipart_upload) => {
        CreateMultipartUploadOutput
    };
    (upload_part) => {
        UploadPartOutput
    };
    (upload_part_copy) => {
        UploadPartCopyOutput
    };
    (complete_multipart_upload) => {
        CompleteMultipartUploadOutput
    };
    (abort_multipart_upload) => {
        AbortMultipartUploadOutput
    };
    (list_parts) => {
        ListPartsOutput
    };
    (list_multipart_uploads) => {
        ListMultipartUploadsOutput
    };
}
