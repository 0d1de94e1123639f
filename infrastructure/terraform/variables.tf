variable "environment" {
  description = "Deployment environment."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  description = "Region of the buckets (the seed's primary region is us-east-1)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "assets_bucket_name" {
  description = "Name of the assets bucket. Bucket names are global: each environment needs its own."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.assets_bucket_name)) && !can(regex("\\.\\.|-\\.|\\.-", var.assets_bucket_name))
    error_message = "assets_bucket_name must be a valid S3 bucket name (3-63 of a-z 0-9 . -, no .. -. or .-)."
  }
}

variable "logs_bucket_name" {
  description = "Name of the bucket that receives the assets bucket's server access logs."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.logs_bucket_name)) && !can(regex("\\.\\.|-\\.|\\.-", var.logs_bucket_name))
    error_message = "logs_bucket_name must be a valid S3 bucket name (3-63 of a-z 0-9 . -, no .. -. or .-)."
  }
}

variable "cors_origins" {
  description = "Origins allowed to upload from the browser; null keeps those of config/buckets/leadshop-assets/cors.json (localhost:3000 and staging)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.cors_origins == null || alltrue([for o in coalesce(var.cors_origins, []) : can(regex("^https?://[^/*]+$", o))])
    error_message = "cors_origins must be scheme://host[:port] origins without paths or wildcards."
  }

  validation {
    condition     = var.environment != "prod" || (var.cors_origins != null && alltrue([for o in coalesce(var.cors_origins, []) : startswith(o, "https://")]))
    error_message = "prod needs its own cors_origins, all https:// (never the development origin http://localhost:3000)."
  }
}

variable "ia_transition_days" {
  description = "Days before current objects move to STANDARD_IA (S3 requires at least 30). The default equals lifecycle.json."
  type        = number
  default     = 30

  validation {
    condition     = var.ia_transition_days >= 30
    error_message = "ia_transition_days must be at least 30 (the STANDARD_IA minimum)."
  }
}

variable "alert_emails" {
  description = "Addresses subscribed to alarms and budget alerts (each must confirm the SNS subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be email addresses."
  }

  validation {
    condition     = var.environment != "prod" || length(var.alert_emails) > 0
    error_message = "prod needs at least one address in alert_emails: without one, alarms and budget alerts reach nobody."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for SSE-KMS on the assets bucket; null keeps SSE-S3 (AES256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "app_trusted_service" {
  description = "Service principal allowed to assume the application role."
  type        = string
  default     = "ec2.amazonaws.com"
}

variable "budget_scope" {
  description = <<-EOT
    What this environment's AWS Budget measures. "account": the account's whole S3 spend (and,
    with enable_estimated_charges_alarm, the account's EstimatedCharges alarm): set it in exactly
    one environment of an account, or in each where every environment has its own account.
    "environment": only this environment's S3 spend, by the cost-allocation tag Environment
    (activate it once in the Billing console; README.md "Budgets"). "none": no budget here
    (budgets managed centrally, or an endpoint without the Budgets API).
  EOT
  type        = string

  validation {
    condition     = contains(["account", "environment", "none"], var.budget_scope)
    error_message = "budget_scope must be account, environment or none."
  }
}

variable "enable_request_metrics" {
  description = "S3 request metrics (the EntireBucket configuration of metrics.json) and the 5xx/4xx alarms and dashboard row built on them. CloudWatch bills each request metric as a custom metric (README.md \"What it costs\"), so it is opted into per environment."
  type        = bool
  default     = false
}

variable "allowed_account_ids" {
  description = "The only AWS account ids this environment may be applied to (the provider refuses any other before changing anything). null: no check."
  type        = list(string)
  default     = null

  validation {
    condition     = var.allowed_account_ids == null || alltrue([for a in coalesce(var.allowed_account_ids, []) : can(regex("^[0-9]{12}$", a))])
    error_message = "allowed_account_ids must be 12-digit AWS account ids."
  }
}

variable "bucket_size_alarm_bytes" {
  description = "Alarm when the assets bucket's STANDARD storage exceeds this many bytes."
  type        = number
  default     = 500 * 1024 * 1024 * 1024
}

variable "enable_estimated_charges_alarm" {
  description = "Also alarm on the account's AWS/Billing EstimatedCharges (needs 'Receive Billing Alerts' enabled). Only with budget_scope = \"account\": the charges are the account's. The alarm, its topic and the topic's key live in us-east-1, where billing metrics are."
  type        = bool
  default     = false

  validation {
    condition     = !var.enable_estimated_charges_alarm || var.budget_scope == "account"
    error_message = "enable_estimated_charges_alarm needs budget_scope = \"account\": the estimated charges are the whole account's, so one environment of the account owns the alarm."
  }
}

variable "enable_replication" {
  description = "Cross-region backup (docs/OPERATIONS.md \"Data recovery from the replica\"): a replica bucket in replica_region with its own Public Access Block, encryption and versioning, a least-privilege replication role, and a replication configuration copying every new version and delete marker of the assets bucket to it."
  type        = bool
  default     = false
}

variable "replica_region" {
  description = "Region of the replica bucket (another region than var.region)."
  type        = string
  default     = "us-west-2"
}

variable "replica_bucket_name" {
  description = "Name of the replica bucket; null: the assets bucket's name with -replica."
  type        = string
  default     = null
}
