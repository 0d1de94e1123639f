# The rollback runbook (docs/OPERATIONS.md, "Infrastructure failure") copies this file into
# infrastructure/terraform/ to lift prevent_destroy for one deliberate `terraform destroy`, and
# deletes it afterwards. Terraform merges *_override.tf files into the resources they name.
resource "aws_s3_bucket" "assets" {
  lifecycle {
    prevent_destroy = false
  }
}

resource "aws_s3_bucket" "logs" {
  lifecycle {
    prevent_destroy = false
  }
}

resource "aws_s3_bucket" "replica" {
  lifecycle {
    prevent_destroy = false
  }
}
