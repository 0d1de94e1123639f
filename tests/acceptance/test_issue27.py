"""Issue 27, what a newcomer meets: each finding tried with the AWS CLI or boto3 at their
defaults, the refused request beside the allowed one."""

import subprocess

import pytest

ASSETS = "leadshop-assets"


def aws(env, *args, check=True):
    out = subprocess.run(["aws", *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, f"aws {' '.join(args)}: {out.stderr}"
    return out


def test_a_deleted_folder_is_no_longer_listed(env, tmp_path):
    """`aws s3 rm` of a folder's only key (a delete marker is now its newest version): the
    folder disappears from `aws s3 ls`, as on AWS, and stays in the versions listing."""
    f = tmp_path / "x"
    f.write_text("x")
    aws(env, "s3", "cp", str(f), f"s3://{ASSETS}/issue27-ghost/a.txt")
    aws(env, "s3", "cp", str(f), f"s3://{ASSETS}/issue27-kept/a.txt")
    before = aws(env, "s3", "ls", f"s3://{ASSETS}/").stdout
    assert "PRE issue27-ghost/" in before and "PRE issue27-kept/" in before

    aws(env, "s3", "rm", f"s3://{ASSETS}/issue27-ghost/a.txt")
    after = aws(env, "s3", "ls", f"s3://{ASSETS}/").stdout
    assert "PRE issue27-ghost/" not in after
    assert "PRE issue27-kept/" in after
    versions = aws(env, "s3api", "list-object-versions", "--bucket", ASSETS, "--prefix",
                   "issue27-", "--delimiter", "/", "--query", "CommonPrefixes[].Prefix",
                   "--output", "text").stdout.split()
    assert versions == ["issue27-ghost/", "issue27-kept/"]


@pytest.mark.parametrize("name", ["issue27-dash-.dot", "issue27-dot.-dash"])
def test_a_bucket_name_with_a_dash_beside_a_period_is_refused(env, name):
    refused = aws(env, "s3api", "create-bucket", "--bucket", name, check=False)
    assert refused.returncode != 0
    assert "InvalidBucketName" in refused.stderr
    allowed = "issue27-dash.dot"
    aws(env, "s3api", "create-bucket", "--bucket", allowed)
    aws(env, "s3api", "delete-bucket", "--bucket", allowed)
