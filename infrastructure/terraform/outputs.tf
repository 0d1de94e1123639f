output "assets_bucket" {
  description = "Name of the assets bucket (AWS_S3_BUCKET_NAME)."
  value       = aws_s3_bucket.assets.id
}

output "assets_bucket_arn" {
  description = "ARN of the assets bucket."
  value       = aws_s3_bucket.assets.arn
}

output "logs_bucket" {
  description = "Bucket receiving the server access logs."
  value       = aws_s3_bucket.logs.id
}

output "app_role_arn" {
  description = "Role the application assumes."
  value       = aws_iam_role.app.arn
}

output "app_instance_profile" {
  description = "Instance profile that gives EC2 instances the application role."
  value       = aws_iam_instance_profile.app.name
}

output "alerts_topic_arn" {
  description = "SNS topic of alarms and budget alerts."
  value       = aws_sns_topic.alerts.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.storage.dashboard_name
}

output "billing_alerts_topic_arn" {
  description = "SNS topic (us-east-1) of the EstimatedCharges alarm; null without it."
  value       = var.enable_estimated_charges_alarm ? aws_sns_topic.billing_alerts[0].arn : null
}

output "replica_bucket" {
  description = "The cross-region replica of the assets bucket (null without var.enable_replication)."
  value       = one(aws_s3_bucket.replica[*].id)
}
