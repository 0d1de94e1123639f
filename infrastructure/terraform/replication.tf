# Cross-region backup (var.enable_replication, on for prod): the assets bucket replicated to a
# bucket in var.replica_region, as `leadshop serve` replicates to `[replication.destinations]`.
# The replica is locked down like the source (Public Access Block, SSE, versioning, owner-only
# objects); S3 writes it with the replication role, whose policy allows reading the source's
# versions and replicating into the replica, nothing else.

locals {
  replicate    = var.enable_replication ? 1 : 0
  replica_name = coalesce(var.replica_bucket_name, "${var.assets_bucket_name}-replica")
}

resource "aws_s3_bucket" "replica" {
  #checkov:skip=CKV_AWS_144:This is the replica; replicating it again would be a third copy.
  #checkov:skip=CKV2_AWS_62:No consumer of event notifications exists; replication metrics cover it.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) like the source's baseline; a KMS key in the replica region is the operator's choice.
  #checkov:skip=CKV_AWS_18:Only replication writes here; the source bucket's access logs record the writes that matter.
  count    = local.replicate
  provider = aws.replica
  bucket   = local.replica_name

  # The backup outlives a mistaken destroy, like the source (the rollback runbook lifts it).
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "replica" {
  count    = local.replicate
  provider = aws.replica
  bucket   = aws_s3_bucket.replica[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "replica" {
  count                   = local.replicate
  provider                = aws.replica
  bucket                  = aws_s3_bucket.replica[0].id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "replica" {
  count                 = local.replicate
  provider              = aws.replica
  bucket                = aws_s3_bucket.replica[0].id
  expected_bucket_owner = local.account_id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica" {
  count                 = local.replicate
  provider              = aws.replica
  bucket                = aws_s3_bucket.replica[0].id
  expected_bucket_owner = local.account_id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

# Old versions of the backup expire like the source's; incomplete uploads are aborted.
resource "aws_s3_bucket_lifecycle_configuration" "replica" {
  count                 = local.replicate
  provider              = aws.replica
  bucket                = aws_s3_bucket.replica[0].id
  expected_bucket_owner = local.account_id
  # S3's default since September 2024, stated so a plan never flips it.
  transition_default_minimum_object_size = "all_storage_classes_128K"

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {
      prefix = ""
    }
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.replica]
}

data "aws_iam_policy_document" "replication_assume" {
  count = local.replicate
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  count              = local.replicate
  name               = "leadshop-replication-${var.environment}"
  assume_role_policy = data.aws_iam_policy_document.replication_assume[0].json
}

# What S3 needs to replicate, and nothing more: read the source's configuration and versions,
# write replicas (objects, delete markers, tags) into the replica.
resource "aws_iam_role_policy" "replication" {
  count = local.replicate
  name  = "leadshop-assets-replication"
  role  = aws_iam_role.replication[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadTheSourceConfiguration"
        Effect   = "Allow"
        Action   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
        Resource = aws_s3_bucket.assets.arn
      },
      {
        Sid      = "ReadTheSourceVersions"
        Effect   = "Allow"
        Action   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
        Resource = "${aws_s3_bucket.assets.arn}/*"
      },
      {
        Sid      = "WriteReplicas"
        Effect   = "Allow"
        Action   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
        Resource = "${aws_s3_bucket.replica[0].arn}/*"
      },
    ]
  })
}

resource "aws_s3_bucket_replication_configuration" "assets" {
  count  = local.replicate
  bucket = aws_s3_bucket.assets.id
  role   = aws_iam_role.replication[0].arn

  rule {
    id       = "backup-everything"
    priority = 1
    status   = "Enabled"
    filter {
      prefix = ""
    }
    delete_marker_replication {
      status = "Enabled"
    }
    destination {
      bucket        = aws_s3_bucket.replica[0].arn
      storage_class = "STANDARD"
      metrics {
        status = "Enabled"
        event_threshold {
          minutes = 15
        }
      }
    }
  }

  # Both buckets must be versioned before S3 accepts the configuration.
  depends_on = [aws_s3_bucket_versioning.assets, aws_s3_bucket_versioning.replica]
}
