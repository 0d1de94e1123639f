environment        = "dev"
region             = "us-east-1"
assets_bucket_name = "leadshop-assets-dev"
logs_bucket_name   = "leadshop-security-logs-dev"
alert_emails       = ["ops@leadfactory.com"]
# One account-wide budget (owned by prod) plus one per other environment by its tag; where each
# environment has its own account, set "account" in each (README.md "Budgets").
budget_scope = "environment"
# Request metrics are billed per metric (README.md "What it costs").
enable_request_metrics = false
# The account this environment lives in (the provider refuses any other):
# allowed_account_ids = ["123456789012"]
