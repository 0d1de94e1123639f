environment        = "prod"
region             = "us-east-1"
assets_bucket_name = "leadshop-assets"
logs_bucket_name   = "leadshop-security-logs"
alert_emails       = ["ops@leadfactory.com"]
