environment        = "dev"
region             = "us-east-1"
assets_bucket_name = "leadshop-assets-dev"
logs_bucket_name   = "leadshop-security-logs-dev"
alert_emails       = ["ops@leadfactory.com"]
