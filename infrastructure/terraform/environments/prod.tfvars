environment        = "prod"
region             = "us-east-1"
assets_bucket_name = "leadshop-assets"
logs_bucket_name   = "leadshop-security-logs"
alert_emails       = ["ops@leadfactory.com"]
# Production's front-end origin(s); localhost and staging are not allowed to upload to prod.
cors_origins = ["https://app.leadfactory.com"]
# One account-wide budget (owned by prod) plus one per other environment by its tag; where each
# environment has its own account, set "account" in each (README.md "Budgets").
budget_scope = "account"
# Request metrics are billed per metric (README.md "What it costs").
enable_request_metrics = true
# Cross-region backup: every new version and delete marker copied to a replica bucket in
# another region (docs/OPERATIONS.md "Data recovery from the replica").
enable_replication = true
replica_region     = "us-west-2"
# The account this environment lives in (the provider refuses any other):
# allowed_account_ids = ["123456789012"]
