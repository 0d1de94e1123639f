# The alerts topic is encrypted with a customer-managed key: CloudWatch alarms and AWS Budgets
# cannot publish to a topic under the AWS-managed alias/aws/sns key, whose policy cannot grant
# them kms:GenerateDataKey and kms:Decrypt. This key's policy does, for this account only.
locals {
  # The policy of each alerts topic's key: the account administers it; CloudWatch alarms and
  # AWS Budgets of this account may encrypt to and decrypt from the topic.
  alerts_key_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersTheKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "AlarmsAndBudgetsPublishToTheTopic"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"] }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
  # The request-metric filter the 5xx/4xx alarms and the dashboard row read.
  request_metrics_filter = var.enable_request_metrics ? aws_s3_bucket_metric.assets["EntireBucket"].name : null
}

resource "aws_kms_key" "alerts" {
  description             = "leadshop ${var.environment}: encrypts the alerts SNS topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = local.alerts_key_policy
}

resource "aws_kms_alias" "alerts" {
  name          = "alias/leadshop-alerts-${var.environment}"
  target_key_id = aws_kms_key.alerts.key_id
}

resource "aws_sns_topic" "alerts" {
  name              = "leadshop-alerts-${var.environment}"
  kms_master_key_id = aws_kms_key.alerts.arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "s3_5xx" {
  count = var.enable_request_metrics ? 1 : 0

  alarm_name          = "leadshop-${var.environment}-s3-5xx"
  alarm_description   = "The assets bucket answers 5xx errors."
  namespace           = "AWS/S3"
  metric_name         = "5xxErrors"
  dimensions          = { BucketName = aws_s3_bucket.assets.id, FilterId = local.request_metrics_filter }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 5
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "s3_4xx_surge" {
  count = var.enable_request_metrics ? 1 : 0

  alarm_name          = "leadshop-${var.environment}-s3-4xx-surge"
  alarm_description   = "Many refused requests: misconfigured clients or probing."
  namespace           = "AWS/S3"
  metric_name         = "4xxErrors"
  dimensions          = { BucketName = aws_s3_bucket.assets.id, FilterId = local.request_metrics_filter }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 100
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "bucket_size" {
  alarm_name          = "leadshop-${var.environment}-bucket-size"
  alarm_description   = "STANDARD storage of the assets bucket is above the expected size."
  namespace           = "AWS/S3"
  metric_name         = "BucketSizeBytes"
  dimensions          = { BucketName = aws_s3_bucket.assets.id, StorageType = "StandardStorage" }
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = var.bucket_size_alarm_bytes
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# Billing metrics exist only in us-east-1, and an alarm may only act on a topic of its own
# region: the EstimatedCharges alarm gets its own topic and key there, whatever var.region is.
resource "aws_kms_key" "billing_alerts" {
  count    = var.enable_estimated_charges_alarm ? 1 : 0
  provider = aws.billing

  description             = "leadshop ${var.environment}: encrypts the billing alerts SNS topic (us-east-1)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = local.alerts_key_policy
}

resource "aws_sns_topic" "billing_alerts" {
  count    = var.enable_estimated_charges_alarm ? 1 : 0
  provider = aws.billing

  name              = "leadshop-billing-alerts-${var.environment}"
  kms_master_key_id = aws_kms_key.billing_alerts[0].arn
}

resource "aws_sns_topic_policy" "billing_alerts" {
  count    = var.enable_estimated_charges_alarm ? 1 : 0
  provider = aws.billing

  arn = aws_sns_topic.billing_alerts[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AllowCloudWatchAlarms"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "SNS:Publish"
      Resource  = aws_sns_topic.billing_alerts[0].arn
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_sns_topic_subscription" "billing_email" {
  for_each = var.enable_estimated_charges_alarm ? toset(var.alert_emails) : toset([])
  provider = aws.billing

  topic_arn = aws_sns_topic.billing_alerts[0].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "estimated_charges" {
  count    = var.enable_estimated_charges_alarm ? 1 : 0
  provider = aws.billing

  alarm_name          = "leadshop-${var.environment}-estimated-charges"
  alarm_description   = "Account estimated charges above the monthly budget."
  namespace           = "AWS/Billing"
  metric_name         = "EstimatedCharges"
  dimensions          = { Currency = "USD" }
  statistic           = "Maximum"
  period              = 21600
  evaluation_periods  = 1
  threshold           = tonumber(local.budget.BudgetLimit.Amount)
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [aws_sns_topic.billing_alerts[0].arn]
  ok_actions          = [aws_sns_topic.billing_alerts[0].arn]
}

resource "aws_cloudwatch_dashboard" "storage" {
  dashboard_name = "leadshop-${var.environment}"
  dashboard_body = jsonencode({
    widgets = concat([
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Bucket size by storage class (daily)"
          region = var.region
          period = 86400
          stat   = "Average"
          metrics = [
            ["AWS/S3", "BucketSizeBytes", "BucketName", aws_s3_bucket.assets.id, "StorageType", "StandardStorage"],
            ["AWS/S3", "BucketSizeBytes", "BucketName", aws_s3_bucket.assets.id, "StorageType", "StandardIAStorage"],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "Number of objects (daily)"
          region  = var.region
          period  = 86400
          stat    = "Average"
          metrics = [["AWS/S3", "NumberOfObjects", "BucketName", aws_s3_bucket.assets.id, "StorageType", "AllStorageTypes"]]
        }
      },
      ], var.enable_request_metrics ? [
      {
        type = "metric", x = 0, y = 6, width = 24, height = 6
        properties = {
          title  = "Requests and errors (request metrics, FilterId ${local.request_metrics_filter})"
          region = var.region
          period = 300
          stat   = "Sum"
          metrics = [
            for m in ["AllRequests", "GetRequests", "PutRequests", "4xxErrors", "5xxErrors"] :
            ["AWS/S3", m, "BucketName", aws_s3_bucket.assets.id, "FilterId", local.request_metrics_filter]
          ]
        }
      }
    ] : [])
  })
}
