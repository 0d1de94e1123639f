environment        = "prod"
region             = "us-east-1"
assets_bucket_name = "leadshop-assets"
logs_bucket_name   = "leadshop-security-logs"
alert_emails       = ["ops@leadfactory.com"]
# Production's front-end origin(s); localhost and staging are not allowed to upload to prod.
cors_origins = ["https://app.leadfactory.com"]
