# The budget is config/budget.json, the document `leadshop serve` alarms on locally: one
# amount and one set of thresholds for both.
locals {
  budget = jsondecode(file("${path.module}/../../config/budget.json"))
}

# budget_scope (variables.tf): "account" measures the whole account's S3 spend — one
# environment per account owns it, so a shared account gets each alert once —; "environment"
# only this environment's, by its Environment cost-allocation tag.
resource "aws_budgets_budget" "monthly" {
  count = var.budget_scope == "none" ? 0 : 1

  name         = var.budget_scope == "account" ? "leadshop-account-s3-monthly" : "leadshop-${var.environment}-monthly"
  budget_type  = "COST"
  limit_amount = local.budget.BudgetLimit.Amount
  limit_unit   = local.budget.BudgetLimit.Unit
  time_unit    = local.budget.TimeUnit

  cost_filter {
    name   = "Service"
    values = ["Amazon Simple Storage Service"]
  }

  dynamic "cost_filter" {
    for_each = var.budget_scope == "environment" ? [1] : []
    content {
      name   = "TagKeyValue"
      values = ["user:Environment$${var.environment}"]
    }
  }

  # Budgets checks that it may publish to the topic when the budget is created.
  depends_on = [aws_sns_topic_policy.alerts]

  dynamic "notification" {
    for_each = local.budget.Notifications
    content {
      comparison_operator        = notification.value.ComparisonOperator
      threshold                  = notification.value.Threshold
      threshold_type             = "PERCENTAGE"
      notification_type          = notification.value.NotificationType
      subscriber_sns_topic_arns  = [aws_sns_topic.alerts.arn]
      subscriber_email_addresses = var.alert_emails
    }
  }
}

# Budgets publishes to the alerts topic.
data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "AllowBudgetsAndCloudWatch"
    actions   = ["SNS:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}
