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
    for name in ["cors", "lifecycle", "encryption", "public-access-block", "versioning"] :
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
  }
  assets_policy  = templatefile("${local.spec_dir}/leadshop-assets/policy.json", local.template_vars)
  assets_logging = jsondecode(templatefile("${local.spec_dir}/leadshop-assets/logging.json", local.template_vars)).LoggingEnabled
  logs_policy = templatefile("${local.spec_dir}/leadshop-security-logs/policy.json",
  merge(local.template_vars, { bucket = var.logs_bucket_name }))
}
