terraform {
  # 1.10: the S3 backend's native lock file (use_lockfile).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.100 and its patches: 5.86.0 had the empty-prefix lifecycle regression, 6.x changes
      # the S3 resources (blocked_encryption_types, skip_destroy) and is a deliberate move.
      # Kept in step with .terraform.lock.hcl (tests/infrastructure/test_terraform.py).
      version = "~> 5.100"
    }
  }

  # State in S3 with S3's native lock file; bucket, key and region come from
  # environments/<env>.s3.tfbackend (terraform init -backend-config=...), one state per
  # environment. README.md: "State and environments".
  backend "s3" {}
}

provider "aws" {
  region = var.region
  # Refuses to plan against any other account (an environment's credentials pointed at the
  # wrong account): README.md "State and environments".
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = local.tags
  }
}

# Billing metrics (AWS/Billing EstimatedCharges) exist only in us-east-1.
provider "aws" {
  alias               = "billing"
  region              = "us-east-1"
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = local.tags
  }
}

# The replica bucket's region (var.enable_replication): cross-region backup.
provider "aws" {
  alias               = "replica"
  region              = var.replica_region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = local.tags
  }
}
