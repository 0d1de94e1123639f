//! The operations leadshop serves ([`with_operations!`](crate::with_operations)) and the
//! descriptor of each ([`Operation::describe`]): IAM actions after AWS's "Actions, resources, and
//! condition keys for Amazon S3" and the per-operation permission notes of the S3 API
//! reference; tiers after S3's request pricing; log names after the server access log format.

use super::RequestMetric::{Delete, Get, Head, List, Post, Put};
use super::Tier::{Free, Tier1, Tier2};
use super::{Descriptor, Operation, d};
use crate::actions::Scope::{Account, Bucket, Object};

/// Calls the macro `$cb` with every operation leadshop serves: its name, its s3s `S3` trait
/// method and s3s's input and output types for it (`served { … }`; the types are plain idents,
/// resolved where `$cb` expands), then the operations s3s routes to another handler
/// (`through_put_object { PostObject }`: s3s's default `post_object` calls `put_object`).
#[macro_export]
macro_rules! with_operations {
    ($cb:ident) => {
        $cb! {
            served {
                GetObject get_object GetObjectInput GetObjectOutput,
                HeadObject head_object HeadObjectInput HeadObjectOutput,
                DeleteObject delete_object DeleteObjectInput DeleteObjectOutput,
                GetObjectTagging get_object_tagging GetObjectTaggingInput GetObjectTaggingOutput,
                PutObjectTagging put_object_tagging PutObjectTaggingInput PutObjectTaggingOutput,
                DeleteObjectTagging delete_object_tagging DeleteObjectTaggingInput DeleteObjectTaggingOutput,
                GetObjectAcl get_object_acl GetObjectAclInput GetObjectAclOutput,
                GetObjectAttributes get_object_attributes GetObjectAttributesInput GetObjectAttributesOutput,
                PutObject put_object PutObjectInput PutObjectOutput,
                CopyObject copy_object CopyObjectInput CopyObjectOutput,
                CreateMultipartUpload create_multipart_upload CreateMultipartUploadInput CreateMultipartUploadOutput,
                UploadPart upload_part UploadPartInput UploadPartOutput,
                UploadPartCopy upload_part_copy UploadPartCopyInput UploadPartCopyOutput,
                CompleteMultipartUpload complete_multipart_upload CompleteMultipartUploadInput CompleteMultipartUploadOutput,
                PutObjectAcl put_object_acl PutObjectAclInput PutObjectAclOutput,
                AbortMultipartUpload abort_multipart_upload AbortMultipartUploadInput AbortMultipartUploadOutput,
                ListParts list_parts ListPartsInput ListPartsOutput,
                DeleteObjects delete_objects DeleteObjectsInput DeleteObjectsOutput,
                ListObjects list_objects ListObjectsInput ListObjectsOutput,
                ListObjectsV2 list_objects_v2 ListObjectsV2Input ListObjectsV2Output,
                HeadBucket head_bucket HeadBucketInput HeadBucketOutput,
                ListObjectVersions list_object_versions ListObjectVersionsInput ListObjectVersionsOutput,
                ListMultipartUploads list_multipart_uploads ListMultipartUploadsInput ListMultipartUploadsOutput,
                CreateBucket create_bucket CreateBucketInput CreateBucketOutput,
                DeleteBucket delete_bucket DeleteBucketInput DeleteBucketOutput,
                GetBucketLocation get_bucket_location GetBucketLocationInput GetBucketLocationOutput,
                GetBucketVersioning get_bucket_versioning GetBucketVersioningInput GetBucketVersioningOutput,
                PutBucketVersioning put_bucket_versioning PutBucketVersioningInput PutBucketVersioningOutput,
                GetBucketPolicy get_bucket_policy GetBucketPolicyInput GetBucketPolicyOutput,
                PutBucketPolicy put_bucket_policy PutBucketPolicyInput PutBucketPolicyOutput,
                DeleteBucketPolicy delete_bucket_policy DeleteBucketPolicyInput DeleteBucketPolicyOutput,
                GetBucketPolicyStatus get_bucket_policy_status GetBucketPolicyStatusInput GetBucketPolicyStatusOutput,
                GetPublicAccessBlock get_public_access_block GetPublicAccessBlockInput GetPublicAccessBlockOutput,
                PutPublicAccessBlock put_public_access_block PutPublicAccessBlockInput PutPublicAccessBlockOutput,
                DeletePublicAccessBlock delete_public_access_block DeletePublicAccessBlockInput DeletePublicAccessBlockOutput,
                GetBucketCors get_bucket_cors GetBucketCorsInput GetBucketCorsOutput,
                PutBucketCors put_bucket_cors PutBucketCorsInput PutBucketCorsOutput,
                DeleteBucketCors delete_bucket_cors DeleteBucketCorsInput DeleteBucketCorsOutput,
                GetBucketEncryption get_bucket_encryption GetBucketEncryptionInput GetBucketEncryptionOutput,
                PutBucketEncryption put_bucket_encryption PutBucketEncryptionInput PutBucketEncryptionOutput,
                DeleteBucketEncryption delete_bucket_encryption DeleteBucketEncryptionInput DeleteBucketEncryptionOutput,
                GetBucketLifecycleConfiguration get_bucket_lifecycle_configuration GetBucketLifecycleConfigurationInput GetBucketLifecycleConfigurationOutput,
                PutBucketLifecycleConfiguration put_bucket_lifecycle_configuration PutBucketLifecycleConfigurationInput PutBucketLifecycleConfigurationOutput,
                DeleteBucketLifecycle delete_bucket_lifecycle DeleteBucketLifecycleInput DeleteBucketLifecycleOutput,
                GetBucketLogging get_bucket_logging GetBucketLoggingInput GetBucketLoggingOutput,
                PutBucketLogging put_bucket_logging PutBucketLoggingInput PutBucketLoggingOutput,
                GetBucketTagging get_bucket_tagging GetBucketTaggingInput GetBucketTaggingOutput,
                PutBucketTagging put_bucket_tagging PutBucketTaggingInput PutBucketTaggingOutput,
                DeleteBucketTagging delete_bucket_tagging DeleteBucketTaggingInput DeleteBucketTaggingOutput,
                GetBucketAcl get_bucket_acl GetBucketAclInput GetBucketAclOutput,
                PutBucketAcl put_bucket_acl PutBucketAclInput PutBucketAclOutput,
                GetBucketOwnershipControls get_bucket_ownership_controls GetBucketOwnershipControlsInput GetBucketOwnershipControlsOutput,
                PutBucketOwnershipControls put_bucket_ownership_controls PutBucketOwnershipControlsInput PutBucketOwnershipControlsOutput,
                DeleteBucketOwnershipControls delete_bucket_ownership_controls DeleteBucketOwnershipControlsInput DeleteBucketOwnershipControlsOutput,
                ListBuckets list_buckets ListBucketsInput ListBucketsOutput,
                RestoreObject restore_object RestoreObjectInput RestoreObjectOutput,
                GetBucketAccelerateConfiguration get_bucket_accelerate_configuration GetBucketAccelerateConfigurationInput GetBucketAccelerateConfigurationOutput,
                PutBucketAccelerateConfiguration put_bucket_accelerate_configuration PutBucketAccelerateConfigurationInput PutBucketAccelerateConfigurationOutput,
                GetBucketRequestPayment get_bucket_request_payment GetBucketRequestPaymentInput GetBucketRequestPaymentOutput,
                PutBucketRequestPayment put_bucket_request_payment PutBucketRequestPaymentInput PutBucketRequestPaymentOutput,
                GetBucketNotificationConfiguration get_bucket_notification_configuration GetBucketNotificationConfigurationInput GetBucketNotificationConfigurationOutput,
                PutBucketNotificationConfiguration put_bucket_notification_configuration PutBucketNotificationConfigurationInput PutBucketNotificationConfigurationOutput,
                GetBucketWebsite get_bucket_website GetBucketWebsiteInput GetBucketWebsiteOutput,
                PutBucketWebsite put_bucket_website PutBucketWebsiteInput PutBucketWebsiteOutput,
                DeleteBucketWebsite delete_bucket_website DeleteBucketWebsiteInput DeleteBucketWebsiteOutput,
                GetBucketReplication get_bucket_replication GetBucketReplicationInput GetBucketReplicationOutput,
                PutBucketReplication put_bucket_replication PutBucketReplicationInput PutBucketReplicationOutput,
                DeleteBucketReplication delete_bucket_replication DeleteBucketReplicationInput DeleteBucketReplicationOutput,
                GetObjectLockConfiguration get_object_lock_configuration GetObjectLockConfigurationInput GetObjectLockConfigurationOutput,
                PutObjectLockConfiguration put_object_lock_configuration PutObjectLockConfigurationInput PutObjectLockConfigurationOutput,
                GetObjectRetention get_object_retention GetObjectRetentionInput GetObjectRetentionOutput,
                PutObjectRetention put_object_retention PutObjectRetentionInput PutObjectRetentionOutput,
                GetObjectLegalHold get_object_legal_hold GetObjectLegalHoldInput GetObjectLegalHoldOutput,
                PutObjectLegalHold put_object_legal_hold PutObjectLegalHoldInput PutObjectLegalHoldOutput,
                GetBucketMetricsConfiguration get_bucket_metrics_configuration GetBucketMetricsConfigurationInput GetBucketMetricsConfigurationOutput,
                PutBucketMetricsConfiguration put_bucket_metrics_configuration PutBucketMetricsConfigurationInput PutBucketMetricsConfigurationOutput,
                DeleteBucketMetricsConfiguration delete_bucket_metrics_configuration DeleteBucketMetricsConfigurationInput DeleteBucketMetricsConfigurationOutput,
                ListBucketMetricsConfigurations list_bucket_metrics_configurations ListBucketMetricsConfigurationsInput ListBucketMetricsConfigurationsOutput,
                ListBucketInventoryConfigurations list_bucket_inventory_configurations ListBucketInventoryConfigurationsInput ListBucketInventoryConfigurationsOutput,
            }
            through_put_object { PostObject post_object }
        }
    };
}

impl Operation {
    /// What the server does with this operation besides handling it. The match is
    /// exhaustive: an operation cannot be added without its descriptor.
    #[must_use]
    pub const fn describe(self) -> Descriptor {
        use Operation as O;
        match self {
            O::GetObject => d(Tier2, "s3:GetObject", Object, "OBJECT")
                .versioned("s3:GetObjectVersion")
                .metric(Get),
            O::HeadObject => d(Tier2, "s3:GetObject", Object, "OBJECT")
                .versioned("s3:GetObjectVersion")
                .metric(Head),
            O::DeleteObject => d(Free, "s3:DeleteObject", Object, "OBJECT")
                .versioned("s3:DeleteObjectVersion")
                .metric(Delete),
            O::GetObjectTagging => d(Tier2, "s3:GetObjectTagging", Object, "OBJECT_TAGGING")
                .versioned("s3:GetObjectVersionTagging"),
            O::PutObjectTagging => d(Tier1, "s3:PutObjectTagging", Object, "OBJECT_TAGGING")
                .versioned("s3:PutObjectVersionTagging")
                .document(),
            O::DeleteObjectTagging => d(Free, "s3:DeleteObjectTagging", Object, "OBJECT_TAGGING")
                .versioned("s3:DeleteObjectVersionTagging"),
            O::GetObjectAcl => {
                d(Tier2, "s3:GetObjectAcl", Object, "ACL").versioned("s3:GetObjectVersionAcl")
            }
            O::GetObjectAttributes => {
                d(Tier2, "s3:GetObjectAttributes", Object, "OBJECT_ATTRIBUTES")
                    .versioned("s3:GetObjectVersionAttributes")
            }
            // Uploads of every shape need s3:PutObject; copies also need read access to the
            // source, which the access hook checks separately.
            O::PutObject => d(Tier1, "s3:PutObject", Object, "OBJECT")
                .metric(Put)
                .data(),
            O::PostObject => d(Tier1, "s3:PutObject", Object, "OBJECT")
                .metric(Post)
                .data(),
            O::CopyObject => d(Tier1, "s3:PutObject", Object, "OBJECT").copy(),
            O::CreateMultipartUpload => d(Tier1, "s3:PutObject", Object, "UPLOADS").metric(Post),
            O::UploadPart => d(Tier1, "s3:PutObject", Object, "PART").metric(Put).data(),
            O::UploadPartCopy => d(Tier1, "s3:PutObject", Object, "PART").copy(),
            O::CompleteMultipartUpload => d(Tier1, "s3:PutObject", Object, "UPLOAD")
                .metric(Post)
                .document(),
            O::PutObjectAcl => d(Tier1, "s3:PutObjectAcl", Object, "ACL").document(),
            O::AbortMultipartUpload => d(Free, "s3:AbortMultipartUpload", Object, "UPLOAD"),
            O::ListParts => d(Tier1, "s3:ListMultipartUploadParts", Object, "UPLOAD"),
            // Authorised per key as s3:DeleteObject; the bucket-level check uses it too.
            O::DeleteObjects => d(Free, "s3:DeleteObject", Bucket, "MULTI_OBJECT_DELETE")
                .metric(Delete)
                .document(),
            O::ListObjects | O::ListObjectsV2 => {
                d(Tier1, "s3:ListBucket", Bucket, "BUCKET").metric(List)
            }
            O::HeadBucket => d(Tier2, "s3:ListBucket", Bucket, "BUCKET").metric(Head),
            O::ListObjectVersions => {
                d(Tier1, "s3:ListBucketVersions", Bucket, "BUCKETVERSIONS").metric(List)
            }
            O::ListMultipartUploads => {
                d(Tier1, "s3:ListBucketMultipartUploads", Bucket, "UPLOADS").metric(List)
            }
            O::CreateBucket => d(Tier1, "s3:CreateBucket", Bucket, "BUCKET").document(),
            O::DeleteBucket => d(Free, "s3:DeleteBucket", Bucket, "BUCKET"),
            O::GetBucketLocation => d(Tier2, "s3:GetBucketLocation", Bucket, "LOCATION"),
            O::GetBucketVersioning => d(Tier2, "s3:GetBucketVersioning", Bucket, "VERSIONING"),
            O::PutBucketVersioning => {
                d(Tier1, "s3:PutBucketVersioning", Bucket, "VERSIONING").document()
            }
            O::GetBucketPolicy => d(Tier2, "s3:GetBucketPolicy", Bucket, "BUCKETPOLICY"),
            O::PutBucketPolicy => d(Tier1, "s3:PutBucketPolicy", Bucket, "BUCKETPOLICY").document(),
            O::DeleteBucketPolicy => d(Free, "s3:DeleteBucketPolicy", Bucket, "BUCKETPOLICY"),
            O::GetBucketPolicyStatus => {
                d(Tier2, "s3:GetBucketPolicyStatus", Bucket, "POLICY_STATUS")
            }
            O::GetPublicAccessBlock => d(
                Tier2,
                "s3:GetBucketPublicAccessBlock",
                Bucket,
                "PUBLIC_ACCESS_BLOCK",
            ),
            O::PutPublicAccessBlock => d(
                Tier1,
                "s3:PutBucketPublicAccessBlock",
                Bucket,
                "PUBLIC_ACCESS_BLOCK",
            )
            .document(),
            O::DeletePublicAccessBlock => d(
                Free,
                "s3:PutBucketPublicAccessBlock",
                Bucket,
                "PUBLIC_ACCESS_BLOCK",
            ),
            O::GetBucketCors => d(Tier2, "s3:GetBucketCORS", Bucket, "CORS"),
            O::PutBucketCors => d(Tier1, "s3:PutBucketCORS", Bucket, "CORS").document(),
            O::DeleteBucketCors => d(Free, "s3:PutBucketCORS", Bucket, "CORS"),
            O::GetBucketEncryption => {
                d(Tier2, "s3:GetEncryptionConfiguration", Bucket, "ENCRYPTION")
            }
            O::PutBucketEncryption => {
                d(Tier1, "s3:PutEncryptionConfiguration", Bucket, "ENCRYPTION").document()
            }
            O::DeleteBucketEncryption => {
                d(Free, "s3:PutEncryptionConfiguration", Bucket, "ENCRYPTION")
            }
            O::GetBucketLifecycleConfiguration => {
                d(Tier2, "s3:GetLifecycleConfiguration", Bucket, "LIFECYCLE")
            }
            O::PutBucketLifecycleConfiguration => {
                d(Tier1, "s3:PutLifecycleConfiguration", Bucket, "LIFECYCLE").document()
            }
            O::DeleteBucketLifecycle => {
                d(Free, "s3:PutLifecycleConfiguration", Bucket, "LIFECYCLE")
            }
            O::GetBucketLogging => d(Tier2, "s3:GetBucketLogging", Bucket, "LOGGING_STATUS"),
            O::PutBucketLogging => {
                d(Tier1, "s3:PutBucketLogging", Bucket, "LOGGING_STATUS").document()
            }
            O::GetBucketTagging => d(Tier2, "s3:GetBucketTagging", Bucket, "TAGGING"),
            O::PutBucketTagging => d(Tier1, "s3:PutBucketTagging", Bucket, "TAGGING").document(),
            O::DeleteBucketTagging => d(Free, "s3:PutBucketTagging", Bucket, "TAGGING"),
            O::GetBucketAcl => d(Tier2, "s3:GetBucketAcl", Bucket, "ACL"),
            O::PutBucketAcl => d(Tier1, "s3:PutBucketAcl", Bucket, "ACL").document(),
            O::GetBucketOwnershipControls => d(
                Tier2,
                "s3:GetBucketOwnershipControls",
                Bucket,
                "OWNERSHIP_CONTROLS",
            ),
            O::PutBucketOwnershipControls => d(
                Tier1,
                "s3:PutBucketOwnershipControls",
                Bucket,
                "OWNERSHIP_CONTROLS",
            )
            .document(),
            O::DeleteBucketOwnershipControls => d(
                Free,
                "s3:PutBucketOwnershipControls",
                Bucket,
                "OWNERSHIP_CONTROLS",
            ),
            O::ListBuckets => d(Tier1, "s3:ListAllMyBuckets", Account, "SERVICE"),
            O::RestoreObject => d(Tier1, "s3:RestoreObject", Object, "RESTORE")
                .metric(Post)
                .document(),
            O::GetBucketAccelerateConfiguration => {
                d(Tier2, "s3:GetAccelerateConfiguration", Bucket, "ACCELERATE")
            }
            O::PutBucketAccelerateConfiguration => {
                d(Tier1, "s3:PutAccelerateConfiguration", Bucket, "ACCELERATE").document()
            }
            O::GetBucketRequestPayment => d(
                Tier2,
                "s3:GetBucketRequestPayment",
                Bucket,
                "REQUEST_PAYMENT",
            ),
            O::PutBucketRequestPayment => d(
                Tier1,
                "s3:PutBucketRequestPayment",
                Bucket,
                "REQUEST_PAYMENT",
            )
            .document(),
            O::GetBucketNotificationConfiguration => {
                d(Tier2, "s3:GetBucketNotification", Bucket, "NOTIFICATION")
            }
            O::PutBucketNotificationConfiguration => {
                d(Tier1, "s3:PutBucketNotification", Bucket, "NOTIFICATION").document()
            }
            O::GetBucketWebsite => d(Tier2, "s3:GetBucketWebsite", Bucket, "WEBSITE"),
            O::PutBucketWebsite => d(Tier1, "s3:PutBucketWebsite", Bucket, "WEBSITE").document(),
            O::DeleteBucketWebsite => d(Free, "s3:DeleteBucketWebsite", Bucket, "WEBSITE"),
            O::GetBucketReplication => d(
                Tier2,
                "s3:GetReplicationConfiguration",
                Bucket,
                "REPLICATION",
            ),
            O::PutBucketReplication => d(
                Tier1,
                "s3:PutReplicationConfiguration",
                Bucket,
                "REPLICATION",
            )
            .document(),
            O::DeleteBucketReplication => d(
                Free,
                "s3:PutReplicationConfiguration",
                Bucket,
                "REPLICATION",
            ),
            O::GetObjectLockConfiguration => d(
                Tier2,
                "s3:GetBucketObjectLockConfiguration",
                Bucket,
                "OBJECT_LOCK_CONFIGURATION",
            ),
            O::PutObjectLockConfiguration => d(
                Tier1,
                "s3:PutBucketObjectLockConfiguration",
                Bucket,
                "OBJECT_LOCK_CONFIGURATION",
            )
            .document(),
            O::GetObjectRetention => d(Tier2, "s3:GetObjectRetention", Object, "RETENTION"),
            O::PutObjectRetention => {
                d(Tier1, "s3:PutObjectRetention", Object, "RETENTION").document()
            }
            O::GetObjectLegalHold => d(Tier2, "s3:GetObjectLegalHold", Object, "LEGAL_HOLD"),
            O::PutObjectLegalHold => {
                d(Tier1, "s3:PutObjectLegalHold", Object, "LEGAL_HOLD").document()
            }
            O::GetBucketMetricsConfiguration | O::ListBucketMetricsConfigurations => {
                d(Tier2, "s3:GetMetricsConfiguration", Bucket, "METRICS")
            }
            O::PutBucketMetricsConfiguration => {
                d(Tier1, "s3:PutMetricsConfiguration", Bucket, "METRICS").document()
            }
            O::ListBucketInventoryConfigurations => {
                d(Tier2, "s3:GetInventoryConfiguration", Bucket, "INVENTORY")
            }
            O::DeleteBucketMetricsConfiguration => {
                d(Free, "s3:PutMetricsConfiguration", Bucket, "METRICS")
            }
        }
    }
}
