# ---- leadshop-assets --------------------------------------------------------------------

resource "aws_s3_bucket" "assets" {
  #checkov:skip=CKV_AWS_144:Replication is var.enable_replication (on for prod, replication.tf); dev and staging rely on versioning.
  #checkov:skip=CKV2_AWS_62:No consumer of event notifications exists yet; access logs and metrics cover auditing.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is the baseline the local server mirrors; SSE-KMS is enabled with var.kms_key_arn.
  bucket = var.assets_bucket_name

  # The bucket and its objects outlive a mistaken destroy; the rollback runbook
  # (docs/OPERATIONS.md) says how to remove it deliberately.
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "assets" {
  bucket = aws_s3_bucket.assets.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "assets" {
  bucket                  = aws_s3_bucket.assets.id
  block_public_acls       = local.assets_doc["public-access-block"].BlockPublicAcls
  ignore_public_acls      = local.assets_doc["public-access-block"].IgnorePublicAcls
  block_public_policy     = local.assets_doc["public-access-block"].BlockPublicPolicy
  restrict_public_buckets = local.assets_doc["public-access-block"].RestrictPublicBuckets
}

resource "aws_s3_bucket_versioning" "assets" {
  bucket                = aws_s3_bucket.assets.id
  expected_bucket_owner = local.account_id
  versioning_configuration {
    status = local.assets_doc.versioning.Status
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "assets" {
  bucket                = aws_s3_bucket.assets.id
  expected_bucket_owner = local.account_id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.sse_algorithm
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.assets_doc.encryption.Rules[0].BucketKeyEnabled
  }
}

resource "aws_s3_bucket_logging" "assets" {
  bucket                = aws_s3_bucket.assets.id
  expected_bucket_owner = local.account_id
  target_bucket         = aws_s3_bucket.logs.id
  target_prefix         = local.assets_logging.TargetPrefix

  target_object_key_format {
    partitioned_prefix {
      partition_date_source = local.assets_logging.TargetObjectKeyFormat.PartitionedPrefix.PartitionDateSource
    }
  }

  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_s3_bucket_cors_configuration" "assets" {
  bucket                = aws_s3_bucket.assets.id
  expected_bucket_owner = local.account_id

  dynamic "cors_rule" {
    for_each = local.assets_doc.cors.CORSRules
    content {
      id              = cors_rule.value.ID
      allowed_origins = coalesce(var.cors_origins, cors_rule.value.AllowedOrigins)
      allowed_methods = cors_rule.value.AllowedMethods
      allowed_headers = cors_rule.value.AllowedHeaders
      expose_headers  = cors_rule.value.ExposeHeaders
      max_age_seconds = cors_rule.value.MaxAgeSeconds
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "assets" {
  bucket                = aws_s3_bucket.assets.id
  expected_bucket_owner = local.account_id
  # S3's default since September 2024, stated so a plan never flips it.
  transition_default_minimum_object_size = "all_storage_classes_128K"

  dynamic "rule" {
    for_each = local.assets_doc.lifecycle.Rules
    content {
      id     = rule.value.ID
      status = rule.value.Status

      filter {
        prefix = rule.value.Filter.Prefix
      }

      dynamic "transition" {
        for_each = lookup(rule.value, "Transitions", [])
        content {
          days          = transition.value.StorageClass == "STANDARD_IA" ? var.ia_transition_days : transition.value.Days
          storage_class = transition.value.StorageClass
        }
      }

      dynamic "expiration" {
        for_each = lookup(rule.value, "Expiration", null) == null ? [] : [rule.value.Expiration]
        content {
          days                         = lookup(expiration.value, "Days", null)
          expired_object_delete_marker = lookup(expiration.value, "ExpiredObjectDeleteMarker", null)
        }
      }

      dynamic "noncurrent_version_transition" {
        for_each = lookup(rule.value, "NoncurrentVersionTransitions", [])
        content {
          noncurrent_days = noncurrent_version_transition.value.NoncurrentDays
          storage_class   = noncurrent_version_transition.value.StorageClass
        }
      }

      dynamic "noncurrent_version_expiration" {
        for_each = lookup(rule.value, "NoncurrentVersionExpiration", null) == null ? [] : [rule.value.NoncurrentVersionExpiration]
        content {
          noncurrent_days = noncurrent_version_expiration.value.NoncurrentDays
        }
      }

      # Every rule of the spec documents carries one (tests/infrastructure checks it).
      abort_incomplete_multipart_upload {
        days_after_initiation = rule.value.AbortIncompleteMultipartUpload.DaysAfterInitiation
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.assets]
}

resource "aws_s3_bucket_policy" "assets" {
  bucket = aws_s3_bucket.assets.id
  policy = local.assets_policy

  depends_on = [aws_s3_bucket_public_access_block.assets, aws_s3_bucket_ownership_controls.assets]
}

# Request metrics (AllRequests, GetRequests, PutRequests, 4xxErrors, 5xxErrors), one per
# configuration of metrics.json (EntireBucket: the whole bucket); billed per metric, so only
# with enable_request_metrics.
resource "aws_s3_bucket_metric" "assets" {
  for_each = var.enable_request_metrics ? { for c in local.assets_doc.metrics.MetricsConfigurations : c.Id => c } : {}
  bucket   = aws_s3_bucket.assets.id
  name     = each.key

  dynamic "filter" {
    for_each = lookup(each.value, "Filter", null) == null ? [] : [each.value.Filter]
    content {
      prefix = lookup(filter.value, "Prefix", null)
    }
  }
}

# ---- leadshop-security-logs -------------------------------------------------------------

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target; logging it into itself would log its own log deliveries.
  #checkov:skip=CKV_AWS_144:Cross-region replication is out of scope for PRP-000; versioning covers recovery.
  #checkov:skip=CKV2_AWS_62:Log objects need no event notifications.
  #checkov:skip=CKV_AWS_145:S3 server access log delivery supports only SSE-S3 on the target bucket.
  bucket = var.logs_bucket_name

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = local.logs_doc["public-access-block"].BlockPublicAcls
  ignore_public_acls      = local.logs_doc["public-access-block"].IgnorePublicAcls
  block_public_policy     = local.logs_doc["public-access-block"].BlockPublicPolicy
  restrict_public_buckets = local.logs_doc["public-access-block"].RestrictPublicBuckets
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket                = aws_s3_bucket.logs.id
  expected_bucket_owner = local.account_id
  versioning_configuration {
    status = local.logs_doc.versioning.Status
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket                = aws_s3_bucket.logs.id
  expected_bucket_owner = local.account_id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = local.logs_doc.encryption.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm
    }
    bucket_key_enabled = local.logs_doc.encryption.Rules[0].BucketKeyEnabled
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket                = aws_s3_bucket.logs.id
  expected_bucket_owner = local.account_id
  # S3's default since September 2024, stated so a plan never flips it.
  transition_default_minimum_object_size = "all_storage_classes_128K"

  dynamic "rule" {
    for_each = local.logs_doc.lifecycle.Rules
    content {
      id     = rule.value.ID
      status = rule.value.Status

      filter {
        prefix = rule.value.Filter.Prefix
      }

      dynamic "transition" {
        for_each = lookup(rule.value, "Transitions", [])
        content {
          days          = transition.value.Days
          storage_class = transition.value.StorageClass
        }
      }

      dynamic "expiration" {
        for_each = lookup(rule.value, "Expiration", null) == null ? [] : [rule.value.Expiration]
        content {
          days                         = lookup(expiration.value, "Days", null)
          expired_object_delete_marker = lookup(expiration.value, "ExpiredObjectDeleteMarker", null)
        }
      }

      dynamic "noncurrent_version_expiration" {
        for_each = lookup(rule.value, "NoncurrentVersionExpiration", null) == null ? [] : [rule.value.NoncurrentVersionExpiration]
        content {
          noncurrent_days = noncurrent_version_expiration.value.NoncurrentDays
        }
      }

      # Every rule of the spec documents carries one (tests/infrastructure checks it).
      abort_incomplete_multipart_upload {
        days_after_initiation = rule.value.AbortIncompleteMultipartUpload.DaysAfterInitiation
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = local.logs_policy

  depends_on = [aws_s3_bucket_public_access_block.logs, aws_s3_bucket_ownership_controls.logs]
}
