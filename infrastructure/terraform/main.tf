data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id    = data.aws_caller_identity.current.account_id
  spec_dir      = "${path.module}/../../config/buckets"
  sse_algorithm = var.kms_key_arn == null ? "AES256" : "aws:kms"

  tags = {
    Project     = "leadshop"
    Environment = var.environment
    ManagedBy   = "terraform"
  }

  # The bucket documents are the ones `leadshop serve` enforces locally (config/buckets).
  assets_doc = {
    for name in ["cors", "lifecycle", "encryption", "public-access-block", "versioning", "metrics"] :
    name => jsondecode(file("${local.spec_dir}/leadshop-assets/${name}.json"))
  }
  logs_doc = {
    for name in ["lifecycle", "encryption", "public-access-block", "versioning"] :
    name => jsondecode(file("${local.spec_dir}/leadshop-security-logs/${name}.json"))
  }
  template_vars = {
    bucket        = var.assets_bucket_name
    log_bucket    = var.logs_bucket_name
    source_bucket = var.assets_bucket_name
    account_id    = local.account_id
    sse_algorithm = local.sse_algorithm
    partition     = data.aws_partition.current.partition
  }
  assets_policy_doc = jsondecode(templatefile("${local.spec_dir}/leadshop-assets/policy.json", local.template_vars))
  # With SSE-KMS, writes that name another KMS key are refused too (the anchor module's
  # key-id pinning); without it the document is the one the local server enforces.
  # An upload naming aws:kms without a key id would get the AWS-managed aws/s3 key: refused
  # too, so every SSE-KMS object is under the pinned key.
  kms_pin_statements = [for st in [
    {
      Sid       = "DenyOtherKmsKeys"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:PutObject"
      Resource  = "arn:${data.aws_partition.current.partition}:s3:::${var.assets_bucket_name}/*"
      Condition = { StringNotEqualsIfExists = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = var.kms_key_arn } }
    },
    {
      Sid       = "DenyKmsWithoutTheKeyId"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:PutObject"
      Resource  = "arn:${data.aws_partition.current.partition}:s3:::${var.assets_bucket_name}/*"
      Condition = {
        StringEquals = { "s3:x-amz-server-side-encryption" = ["aws:kms", "aws:kms:dsse"] }
        Null         = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = "true" }
      }
    },
  ] : st if var.kms_key_arn != null]
  assets_policy = jsonencode(merge(local.assets_policy_doc, {
    Statement = concat(local.assets_policy_doc.Statement, local.kms_pin_statements)
  }))
  assets_logging = jsondecode(templatefile("${local.spec_dir}/leadshop-assets/logging.json", local.template_vars)).LoggingEnabled
  logs_policy = templatefile("${local.spec_dir}/leadshop-security-logs/policy.json",
  merge(local.template_vars, { bucket = var.logs_bucket_name }))
}
