"""PRP-000's infrastructure requirements as assertions on the parsed Terraform (python-hcl2)
and on the bucket spec documents it renders (config/buckets), which the local server reads too."""

import json
import re
from pathlib import Path

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "infrastructure" / "terraform"
SPEC = ROOT / "config" / "buckets"


def unquote(v):
    if isinstance(v, dict):
        return {unquote(k): unquote(x) for k, x in v.items() if k != "__is_block__"}
    if isinstance(v, list):
        return [unquote(x) for x in v]
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"':
        return v[1:-1]
    return v


def parse(path):
    with open(path) as f:
        return unquote(hcl2.load(f))


@pytest.fixture(scope="module")
def tf():
    merged = {"resource": {}, "data": {}, "variable": {}, "output": {}, "locals": {}}
    for path in sorted(TF.glob("*.tf")):
        doc = parse(path)
        for kind in ("resource", "data"):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        merged[kind][f"{rtype}.{name}"] = body
        for kind in ("variable", "output"):
            for block in doc.get(kind, []):
                merged[kind].update(block)
        for block in doc.get("locals", []):
            merged["locals"].update(block)
    return merged


def spec(bucket, name):
    return json.loads((SPEC / bucket / f"{name}.json").read_text())


def render(spec_bucket, name, **vars):
    """templatefile() for documents that only use ${name} placeholders."""
    text = (SPEC / spec_bucket / f"{name}.json").read_text()
    out = re.sub(r"\$\{(\w+)\}", lambda m: vars[m.group(1)], text)
    assert "${" not in out
    return json.loads(out)


def test_every_file_parses_and_is_formatted():
    files = sorted(TF.glob("*.tf")) + sorted((TF / "environments").glob("*.tfvars"))
    assert len(files) >= 11
    for path in files:
        parse(path)
        text = path.read_text()
        assert "\t" not in text, f"{path.name}: tabs"
        assert text.endswith("\n") and not text.endswith("\n\n"), f"{path.name}: one final newline"
        for n, line in enumerate(text.splitlines(), 1):
            assert line == line.rstrip(), f"{path.name}:{n}: trailing whitespace"
            indent = len(line) - len(line.lstrip(" "))
            assert indent % 2 == 0, f"{path.name}:{n}: indentation is not a multiple of two"


def test_versions_and_providers():
    doc = parse(TF / "versions.tf")
    tf_block = doc["terraform"][0]
    # 1.10: the S3 backend's native lock file.
    assert tf_block["required_version"] == ">= 1.10"
    aws = tf_block["required_providers"][0]["aws"]
    # target_object_key_format (5.27) and transition_default_minimum_object_size (5.7x).
    # 5.100.x: not 5.86.0 (empty-prefix lifecycle regression), not a breaking 6.x.
    assert aws["source"] == "hashicorp/aws" and aws["version"] == "~> 5.100"
    # The lock file records the same constraint (terraform init would rewrite a stale one).
    lock = (TF / ".terraform.lock.hcl").read_text()
    assert 'constraints = "~> 5.100"' in lock and 'version     = "5.100.' in lock
    # allowed_account_ids on both providers.
    for p in doc["provider"]:
        assert p["aws"]["allowed_account_ids"] == "${var.allowed_account_ids}"
    assert tf_block["backend"] == [{"s3": {}}], "partial S3 backend, filled per environment"
    for env in ("dev", "staging", "prod"):
        backend = (TF / "environments" / f"{env}.s3.tfbackend").read_text()
        assert f'key          = "leadshop/{env}/terraform.tfstate"' in backend
        assert "use_lockfile = true" in backend and "encrypt      = true" in backend
        # The state bucket carries the account id and is given at init (README.md).
        assert "\nbucket" not in backend and "leadfactory-terraform-state-$ACCOUNT_ID" in backend
    assert (TF / ".terraform.lock.hcl").exists(), "the provider version is locked"
    aliases = [p["aws"].get("alias") for p in doc["provider"]]
    assert "billing" in aliases
    billing = next(p["aws"] for p in doc["provider"] if p["aws"].get("alias") == "billing")
    assert billing["region"] == "us-east-1"


def test_seed_resources_exist(tf):
    r = tf["resource"]
    for name in [
        "aws_s3_bucket.assets", "aws_s3_bucket.logs", "aws_s3_bucket_policy.assets", "aws_s3_bucket_policy.logs",
        "aws_s3_bucket_public_access_block.assets", "aws_s3_bucket_public_access_block.logs",
        "aws_s3_bucket_ownership_controls.assets", "aws_s3_bucket_versioning.assets",
        "aws_s3_bucket_server_side_encryption_configuration.assets", "aws_s3_bucket_logging.assets",
        "aws_s3_bucket_cors_configuration.assets", "aws_s3_bucket_lifecycle_configuration.assets",
        "aws_s3_bucket_metric.assets", "aws_iam_role.app", "aws_iam_role_policy.app",
        "aws_cloudwatch_metric_alarm.s3_5xx", "aws_cloudwatch_metric_alarm.s3_4xx_surge",
        "aws_cloudwatch_metric_alarm.bucket_size", "aws_cloudwatch_dashboard.storage", "aws_budgets_budget.monthly",
        "aws_sns_topic.alerts",
    ]:
        assert name in r, name
    for b in ("assets", "logs"):
        assert r[f"aws_s3_bucket_ownership_controls.{b}"]["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    # Not alias/aws/sns: CloudWatch and Budgets cannot publish to a topic under the AWS-managed
    # key. A customer-managed key whose policy lets them, rotated.
    assert r["aws_sns_topic.alerts"]["kms_master_key_id"] == "${aws_kms_key.alerts.arn}"
    key = r["aws_kms_key.alerts"]
    assert key["enable_key_rotation"] is True
    # One key policy for the alerts key and the billing alerts key (us-east-1).
    assert key["policy"] == "${local.alerts_key_policy}"
    assert r["aws_kms_key.billing_alerts"]["policy"] == "${local.alerts_key_policy}"
    policy = (TF / "monitoring.tf").read_text()
    for service in ("cloudwatch.amazonaws.com", "budgets.amazonaws.com"):
        assert service in policy, service
    assert "kms:GenerateDataKey*" in policy and "kms:Decrypt" in policy and "aws:SourceAccount" in policy


def test_ordering_dependencies(tf):
    r = tf["resource"]
    for b in ("assets", "logs"):
        assert f"${{aws_s3_bucket_public_access_block.{b}}}" in r[f"aws_s3_bucket_policy.{b}"]["depends_on"]
        assert f"${{aws_s3_bucket_versioning.{b}}}" in r[f"aws_s3_bucket_lifecycle_configuration.{b}"]["depends_on"]


def test_cors_both_origins(tf):
    assert tf["variable"]["cors_origins"]["default"] is None, "the document's origins unless overridden"
    rules = spec("leadshop-assets", "cors")["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["http://localhost:3000", "https://staging.leadfactory.com"]
    assert {"PUT", "POST", "GET"} <= set(rules[0]["AllowedMethods"])
    cors = tf["resource"]["aws_s3_bucket_cors_configuration.assets"]["dynamic"][0]["cors_rule"]["content"][0]
    assert cors["allowed_origins"] == "${coalesce(var.cors_origins, cors_rule.value.AllowedOrigins)}"
    # Production has its own origin, https only; the development origin never reaches it.
    prod = parse(TF / "environments" / "prod.tfvars")
    assert prod["cors_origins"] and all(o.startswith("https://") for o in prod["cors_origins"])
    assert "localhost" not in str(prod["cors_origins"])
    assert any("prod" in v["condition"] for v in tf["variable"]["cors_origins"]["validation"])


def test_lifecycle_standard_ia_at_30_days_and_abort_everywhere(tf):
    assert tf["variable"]["ia_transition_days"]["default"] == 30
    assert ">= 30" in tf["variable"]["ia_transition_days"]["validation"][0]["condition"]
    for bucket in ("leadshop-assets", "leadshop-security-logs"):
        rules = spec(bucket, "lifecycle")["Rules"]
        for rule in rules:
            assert "Prefix" in rule["Filter"], f"{bucket}/{rule['ID']}: filter with a prefix, not an empty filter"
            assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1
    main = spec("leadshop-assets", "lifecycle")["Rules"][0]
    assert main["Filter"]["Prefix"] == ""
    assert {"Days": 30, "StorageClass": "STANDARD_IA"} in main["Transitions"]
    assert main["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
    assert main["NoncurrentVersionTransitions"][0]["StorageClass"] == "STANDARD_IA"
    assert "NoncurrentVersionExpiration" in main
    tmp = next(r for r in spec("leadshop-assets", "lifecycle")["Rules"] if r["Filter"]["Prefix"] == "tmp/")
    assert tmp["Expiration"]["Days"] >= 1
    # Terraform renders rules with `filter { prefix = ... }`, never an empty filter block.
    lc = tf["resource"]["aws_s3_bucket_lifecycle_configuration.assets"]
    content = lc["dynamic"][0]["rule"]["content"][0]
    assert "prefix" in content["filter"][0]
    assert "abort_incomplete_multipart_upload" in content


def test_policies_deny_insecure_transport_and_allow_only_log_delivery():
    assets = render("leadshop-assets", "policy", bucket="b", account_id="123456789012", sse_algorithm="AES256",
                    partition="aws")
    sids = {s["Sid"]: s for s in assets["Statement"]}
    st = sids["DenyInsecureTransport"]
    assert st["Effect"] == "Deny" and st["Principal"] == "*"
    assert st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sids["DenyOutdatedTls"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    assert sids["DenyWritesFromOutsideTheAccount"]["Condition"]["StringNotEquals"]["aws:PrincipalAccount"] == "123456789012"
    # The anchor module's deny of SSE-C uploads.
    assert sids["DenyCustomerProvidedKeys"]["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}
    assert not any(s["Effect"] == "Allow" for s in assets["Statement"]), "no public grants"
    # ARNs carry the partition Terraform passes (aws, aws-us-gov, aws-cn).
    for bucket in ("leadshop-assets", "leadshop-security-logs"):
        assert "arn:aws:" not in (SPEC / bucket / "policy.json").read_text()
    assert "partition     = data.aws_partition.current.partition" in (TF / "main.tf").read_text()
    logs = render("leadshop-security-logs", "policy", bucket="l", source_bucket="b", account_id="123456789012",
                  partition="aws")
    allows = [s for s in logs["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    allow = allows[0]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"} and allow["Action"] == "s3:PutObject"
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:s3:::b"
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_public_access_block_all_on_and_encryption():
    for bucket in ("leadshop-assets", "leadshop-security-logs"):
        pab = spec(bucket, "public-access-block")
        assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
        enc = spec(bucket, "encryption")["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        assert enc["SSEAlgorithm"] == "AES256", "log delivery needs SSE-S3; assets default to SSE-S3"
    assert spec("leadshop-assets", "encryption")["Rules"][0]["BucketKeyEnabled"] is True


def test_logging_target(tf):
    logging = render("leadshop-assets", "logging", bucket="b", log_bucket="leadshop-security-logs")["LoggingEnabled"]
    assert logging["TargetBucket"] == "leadshop-security-logs"
    assert logging["TargetPrefix"] == "s3-access/b/"
    assert logging["TargetObjectKeyFormat"]["PartitionedPrefix"]["PartitionDateSource"] == "EventTime"
    r = tf["resource"]["aws_s3_bucket_logging.assets"]
    assert r["target_bucket"] == "${aws_s3_bucket.logs.id}"
    assert "partitioned_prefix" in r["target_object_key_format"][0]


def test_budget_40_usd_monthly_from_the_shared_document(tf):
    # One document for Terraform and the local server's alarm: config/budget.json.
    budget = json.loads((ROOT / "config" / "budget.json").read_text())
    assert budget["BudgetLimit"] == {"Amount": "40.00", "Unit": "USD"} and budget["TimeUnit"] == "MONTHLY"
    kinds = {(n["NotificationType"], n["Threshold"]) for n in budget["Notifications"]}
    assert kinds == {("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)}
    b = tf["resource"]["aws_budgets_budget.monthly"]
    assert b["budget_type"] == "COST"
    assert "local.budget.BudgetLimit.Amount" in b["limit_amount"]
    assert "local.budget.TimeUnit" in b["time_unit"]
    assert "local.budget.Notifications" in str(b["dynamic"])
    assert "monthly_budget_usd" not in tf["variable"]
    notification = next(d["notification"] for d in b["dynamic"] if "notification" in d)["content"][0]
    assert notification["subscriber_email_addresses"] == "${var.alert_emails}"
    assert notification["subscriber_sns_topic_arns"] == ["${aws_sns_topic.alerts.arn}"]
    # One account-wide budget per account, or one per environment by its tag; after the topic
    # policy that lets Budgets publish.
    assert "TagKeyValue" in str(b["dynamic"]) and "user:Environment$" in str(b["dynamic"])
    assert "${aws_sns_topic_policy.alerts}" in b["depends_on"]
    scopes = {env: parse(TF / "environments" / f"{env}.tfvars")["budget_scope"] for env in ("dev", "staging", "prod")}
    assert scopes == {"dev": "environment", "staging": "environment", "prod": "account"}


def test_app_role_least_privilege(tf):
    # One application policy: config/iam/app-policy.json, the local `app` key's, read by iam.tf.
    text = (TF / "iam.tf").read_text()
    assert '"${path.module}/../../config/iam/app-policy.json"' in text
    doc = json.loads((ROOT / "config" / "iam" / "app-policy.json").read_text())
    listed = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
    actions = {a for st in doc["Statement"] for a in listed(st["Action"])}
    # Versioned downloads and presigned GETs of a version need s3:GetObjectVersion.
    assert {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"} <= actions
    assert not {"s3:GetObjectTagging", "s3:PutObjectTagging"} & actions, "never used by the application"
    # Removing a version for good: only under the test scripts' prefixes.
    removes = [st for st in doc["Statement"] if "s3:DeleteObjectVersion" in listed(st["Action"])]
    assert [set(listed(st["Resource"])) for st in removes] == [{
        "arn:aws:s3:::leadshop-assets/integration-tests/*", "arn:aws:s3:::leadshop-assets/performance-tests/*"}]
    assert "kms:Encrypt" not in text and '"kms:ViaService"' in text
    assert not any(a.endswith("*") for a in actions), "no wildcard actions"
    assert not any("Bucket" in a and a.startswith("s3:Put") for a in actions), "no bucket configuration changes"
    resources = {r for st in doc["Statement"] for r in listed(st["Resource"])}
    assert all(r == "arn:aws:s3:::leadshop-assets" or r.startswith("arn:aws:s3:::leadshop-assets/")
               for r in resources), "the assets bucket only"
    assert "aws_s3_bucket.logs" not in text, "nothing on the log bucket"
    # EC2 gets the role through an instance profile.
    assert tf["resource"]["aws_iam_instance_profile.app"]["role"] == "${aws_iam_role.app.name}"


def test_buckets_are_protected_and_owner_checked(tf):
    r = tf["resource"]
    for b in ("assets", "logs", "replica"):
        assert r[f"aws_s3_bucket.{b}"]["lifecycle"][0]["prevent_destroy"] is True
        for kind in ("versioning", "server_side_encryption_configuration", "lifecycle_configuration"):
            assert r[f"aws_s3_bucket_{kind}.{b}"]["expected_bucket_owner"] == "${local.account_id}", (kind, b)
        lc = r[f"aws_s3_bucket_lifecycle_configuration.{b}"]
        assert lc["transition_default_minimum_object_size"] == "all_storage_classes_128K"
    for kind in ("logging", "cors_configuration"):
        assert r[f"aws_s3_bucket_{kind}.assets"]["expected_bucket_owner"] == "${local.account_id}"
    # The rollback override lifts prevent_destroy, and lives outside the module directory.
    override = (ROOT / "infrastructure" / "rollback" / "allow_destroy_override.tf").read_text()
    assert override.count("prevent_destroy = false") == 3
    assert not list(TF.glob("*_override.tf")), "no override file in the module itself"
    # Expired delete markers are cleaned up on the assets bucket.
    main = spec("leadshop-assets", "lifecycle")["Rules"][0]
    assert main["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    # The metrics configurations come from metrics.json, which the server bootstraps too.
    assert spec("leadshop-assets", "metrics") == {"MetricsConfigurations": [{"Id": "EntireBucket"}]}
    assert "local.assets_doc.metrics.MetricsConfigurations" in r["aws_s3_bucket_metric.assets"]["for_each"]


def test_dashboard_uses_daily_storage_metrics_and_request_metrics():
    text = (TF / "monitoring.tf").read_text()
    assert "BucketSizeBytes" in text and "NumberOfObjects" in text and "period = 86400" in text
    for m in ("AllRequests", "GetRequests", "PutRequests", "4xxErrors", "5xxErrors"):
        assert m in text


def test_environments_have_distinct_bucket_names():
    names = []
    for env in ("dev", "staging", "prod"):
        doc = parse(TF / "environments" / f"{env}.tfvars")
        assert doc["environment"] == env
        names += [doc["assets_bucket_name"], doc["logs_bucket_name"]]
    assert len(names) == len(set(names))


def test_terraform_reads_the_documents_the_server_builds_in():
    # The server embeds config/buckets/*/versioning.json (crates/spec/src/bucket.rs) and
    # Terraform sets versioning from the same files: one source, no second copy.
    bucket_rs = (ROOT / "crates" / "spec" / "src" / "bucket.rs").read_text()
    embedded = set(re.findall(r'include_str!\("\.\./\.\./\.\./config/buckets/([^"]+)"\)', bucket_rs))
    assert {"leadshop-assets/versioning.json", "leadshop-security-logs/versioning.json"} <= embedded
    main = (TF / "main.tf").read_text()
    assert '"${path.module}/../../config/buckets"' in main
    s3 = (TF / "s3.tf").read_text()
    assert "local.assets_doc.versioning.Status" in s3 and "local.logs_doc.versioning.Status" in s3


def test_replication_is_prods_and_its_role_least_privilege(tf):
    """Cross-region backup: off by default, on in prod.tfvars; the replica locked down like the
    source; the replication role may read the source's versions and replicate into the replica,
    nothing else."""
    r = tf["resource"]
    assert tf["variable"]["enable_replication"]["default"] is False
    prod = (TF / "environments" / "prod.tfvars").read_text()
    assert re.search(r"^enable_replication\s*=\s*true", prod, re.M)
    for env in ("dev", "staging"):
        assert "enable_replication" not in (TF / "environments" / f"{env}.tfvars").read_text()
    pab = r["aws_s3_bucket_public_access_block.replica"]
    assert all(pab[k] is True for k in ("block_public_acls", "ignore_public_acls", "block_public_policy",
                                        "restrict_public_buckets"))
    assert r["aws_s3_bucket_versioning.replica"]["versioning_configuration"][0]["status"] == "Enabled"
    for name in ("replica",):
        assert r[f"aws_s3_bucket.{name}"]["provider"] == "${aws.replica}"
    text = (TF / "replication.tf").read_text()
    actions = sorted(set(re.findall(r'"(s3:[A-Za-z]+)"', text)))
    assert actions == sorted([
        "s3:GetReplicationConfiguration", "s3:ListBucket", "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging", "s3:ReplicateObject",
        "s3:ReplicateDelete", "s3:ReplicateTags"]), actions
    assert '"*"' not in text and "s3:*" not in text
    conf = r["aws_s3_bucket_replication_configuration.assets"]
    rule = conf["rule"][0]
    assert rule["delete_marker_replication"][0]["status"] == "Enabled"
    assert rule["destination"][0]["metrics"][0]["status"] == "Enabled"
    assert "aws_s3_bucket_versioning.replica" in str(conf["depends_on"])
