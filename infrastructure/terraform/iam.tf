# The application's role: least privilege on the assets bucket's application prefixes,
# nothing on the log bucket, KMS only when SSE-KMS is on.

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

data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ObjectsOnApplicationPrefixes"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = [for p in var.app_prefixes : "${aws_s3_bucket.assets.arn}/${p}*"]
  }

  statement {
    sid       = "ListApplicationPrefixes"
    actions   = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.assets.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = concat([""], [for p in var.app_prefixes : "${p}*"])
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseTheBucketKey"
      actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "app" {
  name   = "leadshop-assets-access"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.app.json
}
