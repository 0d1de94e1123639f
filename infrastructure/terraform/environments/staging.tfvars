environment        = "staging"
region             = "us-east-1"
assets_bucket_name = "leadshop-assets-staging"
logs_bucket_name   = "leadshop-security-logs-staging"
alert_emails       = ["ops@leadfactory.com"]
