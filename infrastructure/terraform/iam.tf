# The application's role. Its policy is config/iam/app-policy.json — the document the local
# server's `app` key carries — with the bucket ARN of this environment: objects (and reading
# their versions) in and listing of the assets bucket, removing versions only under the test
# scripts' prefixes, nothing on the log bucket; KMS only when SSE-KMS is on, only through S3.

data "aws_iam_policy_document" "app_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [var.app_trusted_service]
    }
  }
}

resource "aws_iam_role" "app" {
  name               = "leadshop-app-${var.environment}"
  assume_role_policy = data.aws_iam_policy_document.app_assume.json
}

# EC2 instances take a role through an instance profile.
resource "aws_iam_instance_profile" "app" {
  name = "leadshop-app-${var.environment}"
  role = aws_iam_role.app.name
}

locals {
  # The shared document names the local bucket; each environment's bucket replaces it.
  app_policy_doc   = jsondecode(file("${path.module}/../../config/iam/app-policy.json"))
  app_local_bucket = "arn:aws:s3:::leadshop-assets"
  app_statements = [
    for s in local.app_policy_doc.Statement : merge(s, {
      Resource = [for r in flatten([s.Resource]) : replace(r, local.app_local_bucket, aws_s3_bucket.assets.arn)]
    })
  ]
  # SSE-KMS: S3 asks KMS for a data key on a write (GenerateDataKey) and to unwrap it on a
  # read (Decrypt), on the caller's behalf. Only through S3 in this region (kms:ViaService): the
  # role's credentials cannot use the key directly. S3 never asks KMS to encrypt data itself.
  app_kms_statements = var.kms_key_arn == null ? [] : [{
    Sid       = "UseTheBucketKeyThroughS3"
    Effect    = "Allow"
    Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource  = var.kms_key_arn
    Condition = { StringEquals = { "kms:ViaService" = "s3.${var.region}.amazonaws.com" } }
  }]
}

resource "aws_iam_role_policy" "app" {
  name = "leadshop-assets-access"
  role = aws_iam_role.app.id
  policy = jsonencode({
    Version   = local.app_policy_doc.Version
    Statement = concat(local.app_statements, local.app_kms_statements)
  })
}
