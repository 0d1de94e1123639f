"""A local AWS for `infrastructure/terraform/`: S3 is a real `leadshop serve`, IAM, STS, SNS,
KMS, CloudWatch and Budgets are moto's server (moto[server] from PyPI), both on 127.0.0.1
port 0, stopped when the test ends. Terraform runs unchanged on a copy of the module; the only
file added is `local_override.tf`, which points the two provider blocks at those endpoints
(what an operator would do for LocalStack)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "acceptance"))

from leadshop_proc import BIN, Leadshop  # noqa: E402

TERRAFORM = shutil.which("terraform")
PLUGIN_DIR = Path("/opt/tf-plugins")
ACCOUNT = "123456789012"  # moto's account: aws_caller_identity answers it
# The README's state bucket: suffixed with the account id, since bucket names are global.
STATE_BUCKET = f"leadfactory-terraform-state-{ACCOUNT}"

SERVER_CONFIG = f"""
account_id = "{ACCOUNT}"
# No bootstrap: Terraform creates every bucket, as on a new AWS account.
buckets_dir = "{{empty}}"

[access_logs]
# Deliveries would race the rollback's emptying of the log bucket.
flush_seconds = 3600
"""


REPLICA_REGION = "us-west-2"
REPLICA_CONFIG = f"""
account_id = "{ACCOUNT}"
region = "{REPLICA_REGION}"
buckets_dir = "{{empty}}"
"""
# prod.tfvars enables replication to leadshop-assets-replica in us-west-2.
DESTINATION = """
[replication]
poll_ms = 50
max_backoff_seconds = 2

[replication.destinations.replica]
bucket = "arn:aws:s3:::leadshop-assets-replica"
endpoint = "{endpoint}"
region = "us-west-2"
ca_bundle = "{ca}"
leadshop = true
"""


class TerraformFailed(AssertionError):
    pass


class LocalCloud:
    def __init__(self, root: Path):
        from moto.server import ThreadedMotoServer

        self.root = root
        empty = root / "no-buckets"
        empty.mkdir(parents=True)
        # prod's replica region (enable_replication): a second leadshop, its own data and CA,
        # serving us-west-2; the first maps the replica bucket's ARN to it, as an operator's
        # [replication.destinations] does.
        self.replica = Leadshop(root / "replica", config=REPLICA_CONFIG.replace("{empty}", str(empty))).start()
        self.replica_env = self.replica.env("admin")
        config = SERVER_CONFIG.replace("{empty}", str(empty)) + DESTINATION.format(
            endpoint=self.replica_env["AWS_ENDPOINT_URL"], ca=self.replica_env["AWS_CA_BUNDLE"])
        self.leadshop = Leadshop(root / "leadshop", config=config)
        out = subprocess.run(
            [str(BIN), "replication", "credentials", "set", "replica", "--access-key-id",
             self.replica_env["AWS_ACCESS_KEY_ID"], "--data-dir", str(self.leadshop.data_dir),
             "--config", str(self.leadshop.config)],
            input=self.replica_env["AWS_SECRET_ACCESS_KEY"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        self.leadshop.start()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        self.env = self.leadshop.env("admin")
        self.s3_url = self.env["AWS_ENDPOINT_URL"]
        self.ca = self.env["AWS_CA_BUNDLE"]

    def stop(self) -> None:
        self.moto.stop()
        self.leadshop.stop()
        self.replica.stop()

    def s3(self):
        import boto3

        return boto3.session.Session(
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        ).client("s3", endpoint_url=self.s3_url, verify=self.ca)

    def s3_replica(self):
        """The replica region's S3 (prod's replica bucket)."""
        import boto3

        return boto3.session.Session(
            aws_access_key_id=self.replica_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.replica_env["AWS_SECRET_ACCESS_KEY"],
            region_name=REPLICA_REGION,
        ).client("s3", endpoint_url=self.replica_env["AWS_ENDPOINT_URL"], verify=self.replica_env["AWS_CA_BUNDLE"])

    def override(self, max_retries: int = 5) -> str:
        endpoints = "\n".join(
            f'    {svc:<10} = "{self.moto_url}"' for svc in ["iam", "sts", "sns", "kms", "cloudwatch", "budgets"]
        )
        block = f"""
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  custom_ca_bundle            = "{self.ca}"
  max_retries                 = {max_retries}
  endpoints {{
    s3         = "{self.s3_url}"
{endpoints}
  }}
"""
        # The replica region's S3 is the second server, with its own key (IAM stays moto's),
        # from a credentials file as an operator's profile would be: no key in any .tf file
        # (checkov's CKV_AWS_41 reads the rendered plan, overrides included).
        creds = self.root / "replica.credentials"
        creds.write_text(f"[replica]\naws_access_key_id = {self.replica_env['AWS_ACCESS_KEY_ID']}\n"
                         f"aws_secret_access_key = {self.replica_env['AWS_SECRET_ACCESS_KEY']}\n")
        replica = (block.replace(self.s3_url, self.replica_env["AWS_ENDPOINT_URL"])
                   .replace(self.ca, self.replica_env["AWS_CA_BUNDLE"])
                   + f'  shared_credentials_files = ["{creds}"]\n  profile = "replica"\n')
        return (f'provider "aws" {{{block}}}\n\nprovider "aws" {{\n  alias = "billing"{block}}}\n'
                f'\nprovider "aws" {{\n  alias = "replica"{replica}}}\n')

    def backend_config(self) -> str:
        """The S3 backend's local half: the state lives in leadshop, with its lock file."""
        return f"""endpoints = {{ s3 = "{self.s3_url}" }}
use_path_style              = true
custom_ca_bundle            = "{self.ca}"
skip_credentials_validation = true
skip_requesting_account_id  = true
skip_metadata_api_check     = true
skip_region_validation      = true
"""


class Workdir:
    """A copy of `infrastructure/` and the documents the module reads (`../../config`)."""

    def __init__(self, root: Path, cloud: LocalCloud, backend: str = "s3"):
        self.root = root
        shutil.copytree(REPO / "config", root / "config")
        shutil.copytree(
            REPO / "infrastructure",
            root / "infrastructure",
            ignore=shutil.ignore_patterns(".terraform", "terraform.tfstate*", "tflocal_override.tf"),
        )
        self.dir = root / "infrastructure" / "terraform"
        self.cloud = cloud
        (self.dir / "local_override.tf").write_text(
            cloud.override() + ('\nterraform {\n  backend "local" {}\n}\n' if backend == "local" else "")
        )
        (self.dir / "local.s3.tfbackend").write_text(cloud.backend_config())
        self.env = dict(os.environ)
        self.env.update(
            {
                "AWS_ACCESS_KEY_ID": cloud.env["AWS_ACCESS_KEY_ID"],
                "AWS_SECRET_ACCESS_KEY": cloud.env["AWS_SECRET_ACCESS_KEY"],
                "AWS_REGION": "us-east-1",
                # The AWS CLI v1 reads only this one (a runbook's `aws sts` call).
                "AWS_DEFAULT_REGION": "us-east-1",
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1",
                "TF_DATA_DIR": str(root / "tf-data"),
            }
        )
        for k in ["AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_SESSION_TOKEN"]:
            self.env.pop(k, None)
        self.times: dict[str, float] = {}

    def tf(self, *args: str, label: str | None = None, ok: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
        started = time.monotonic()
        run = subprocess.run(
            [TERRAFORM, f"-chdir={self.dir}", *args, "-no-color"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if label:
            self.times[label] = round(time.monotonic() - started, 1)
        if ok and run.returncode != 0:
            raise TerraformFailed(f"terraform {' '.join(args)} failed ({run.returncode}):\n{run.stdout[-6000:]}\n{run.stderr[-6000:]}")
        return run

    def init(self, environment: str | None) -> None:
        args = ["init", "-input=false", "-reconfigure"]
        if PLUGIN_DIR.is_dir():
            args.append(f"-plugin-dir={PLUGIN_DIR}")
        if environment is not None:
            args += [
                f"-backend-config=environments/{environment}.s3.tfbackend",
                f"-backend-config=bucket={STATE_BUCKET}",
                "-backend-config=local.s3.tfbackend",
            ]
        self.tf(*args, label="init" if environment else None)


def verify(cloud: LocalCloud, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(cloud.env)
    return subprocess.run([str(BIN), "verify", *args], env=env, capture_output=True, text=True, timeout=120)


def write_times(rows: list[tuple[str, dict[str, float]]]) -> None:
    out = REPO / "target" / "terraform-apply-times.md"
    out.parent.mkdir(exist_ok=True)
    steps = sorted({k for _, t in rows for k in t})
    lines = ["| environment | " + " | ".join(steps) + " |", "|---|" + "---|" * len(steps)]
    for env, t in rows:
        lines.append(f"| {env} | " + " | ".join(f"{t[s]} s" if s in t else "" for s in steps) + " |")
    out.write_text("\n".join(lines) + "\n")
    (out.with_suffix(".json")).write_text(json.dumps(dict(rows), indent=2))
