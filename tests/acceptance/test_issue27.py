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


def test_keys_commands_never_create_a_data_dir_and_warn_of_unknown_actions(server, tmp_path):
    from leadshop_proc import BIN, REPO

    typo = tmp_path / "dta"
    out = subprocess.run([str(BIN), "keys", "list", "--data-dir", str(typo)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "no leadshop instance at" in out.stderr, out
    assert not typo.exists()

    data = ["--data-dir", str(server.data_dir)]
    good = REPO / "config" / "iam" / "app-policy.json"
    created = subprocess.run([str(BIN), "keys", "create", "--name", "issue27", "--policy", str(good),
                              *data], capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    assert "warning" not in created.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(good.read_text().replace('"s3:GetObject"', '"s3:GetObjekt"'))
    set_bad = subprocess.run([str(BIN), "keys", "set-policy", "--name", "issue27", "--policy",
                              str(bad), *data], capture_output=True, text=True, timeout=60)
    assert set_bad.returncode == 0, set_bad.stderr
    assert "s3:GetObjekt matches no action leadshop knows" in set_bad.stderr
    listing = subprocess.run([str(BIN), "keys", "list", *data], capture_output=True, text=True,
                             check=True, timeout=60).stdout
    assert "s3:GetObjekt" in listing
    subprocess.run([str(BIN), "keys", "delete", "--name", "issue27", *data], check=True,
                   capture_output=True, timeout=60)


def test_the_expected_owner_refusal_names_both_accounts(s3):
    import botocore.exceptions

    s3.put_object(Bucket=ASSETS, Key="issue27/owner.txt", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=ASSETS, Key="issue27/owner.txt", ExpectedBucketOwner="123456789012")
    err = e.value.response["Error"]
    assert err["Code"] == "AccessDenied"
    assert "123456789012" in err["Message"] and "000000000000" in err["Message"], err
    got = s3.get_object(Bucket=ASSETS, Key="issue27/owner.txt", ExpectedBucketOwner="000000000000")
    assert got["Body"].read() == b"x"  # the server's default account id
