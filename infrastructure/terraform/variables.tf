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
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.assets_bucket_name))
    error_message = "assets_bucket_name must be a valid S3 bucket name."
  }
}

variable "logs_bucket_name" {
  description = "Name of the bucket that receives the assets bucket's server access logs."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.logs_bucket_name))
    error_message = "logs_bucket_name must be a valid S3 bucket name."
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

variable "create_budget" {
  description = "Create the AWS Budget. Turn off where budgets are managed centrally (an organization's payer account), or on an endpoint without the Budgets API."
  type        = bool
  default     = true
}

variable "bucket_size_alarm_bytes" {
  description = "Alarm when the assets bucket's STANDARD storage exceeds this many bytes."
  type        = number
  default     = 500 * 1024 * 1024 * 1024
}

variable "enable_estimated_charges_alarm" {
  description = "Also alarm on the account's AWS/Billing EstimatedCharges (needs 'Receive Billing Alerts' enabled)."
  type        = bool
  default     = false
}
