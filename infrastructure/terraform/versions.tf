terraform {
  # 1.10: the S3 backend's native lock file (use_lockfile).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.86, < 7.0"
    }
  }

  # State in S3 with S3's native lock file; bucket, key and region come from
  # environments/<env>.s3.tfbackend (terraform init -backend-config=...), one state per
  # environment. README.md: "State and environments".
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# Billing metrics (AWS/Billing EstimatedCharges) exist only in us-east-1.
provider "aws" {
  alias  = "billing"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}
