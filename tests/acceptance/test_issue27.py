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


def test_the_readme_python_steps_run_in_a_fresh_virtualenv(server, tmp_path):
    """README.md's LeadFactory block, line by line in one bash, with only the virtualenv's
    place and the data directory filled in: a newcomer's first Python commands (the seed's
    integration test and benchmark) pass without anything installed beforehand."""
    import re

    from leadshop_proc import REPO

    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- leadfactory-quickstart -->\s*```sh\n(.*?)```", text, re.S).group(1)
    venv = tmp_path / "venv"
    block = block.replace(".venv", str(venv)).replace("../../data", str(server.data_dir))
    import os

    # Nothing of the test's own environment but PATH: no AWS_* settings, no site-packages.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "OK" in out.stderr  # unittest's verdict
    assert "5 iterations of 10MB" in out.stdout
    # The runs removed every version they wrote.
    s3 = server.env("admin")
    left = aws(s3, "s3api", "list-object-versions", "--bucket", ASSETS, "--prefix",
               "performance-tests/", "--query", "length(Versions || `[]`)", "--output", "text").stdout
    assert left.strip() == "0", left


def test_an_exported_ca_bundle_shadowing_the_dotenv_is_named(server, tmp_path):
    """`leadshop env --dotenv > .env` on a machine that exports the system CA bundle: the
    exported value wins (python-dotenv's rule); the package warns of it when it reads the
    file, and the certificate failure that follows names both bundles."""
    import os
    import sys

    from leadshop_proc import BIN

    dotenv = subprocess.run([str(BIN), "env", "--data-dir", str(server.data_dir), "--dotenv"],
                            check=True, capture_output=True, text=True).stdout
    (tmp_path / ".env").write_text(dotenv)
    code = ("import logging; logging.basicConfig()\n"
            "from leadshop_storage import S3Storage, StorageError\n"
            "s = S3Storage.from_env()\n"
            "try:\n"
            "    print('exists', s.exists('issue27/none'))\n"
            "except StorageError as e:\n"
            "    print('refused', type(e).__name__, e)\n")
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    system = "/etc/ssl/certs/ca-certificates.crt"
    shadowed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                              env={**base, "AWS_CA_BUNDLE": system}, timeout=120)
    assert "AWS_CA_BUNDLE is exported as " + system in shadowed.stderr, shadowed.stderr
    assert shadowed.stdout.startswith("refused StorageUnavailable"), shadowed.stdout + shadowed.stderr
    assert "shadows the .env's AWS_CA_BUNDLE=" in shadowed.stdout
    # Unset, the .env's own bundle is used: the same call goes through.
    plain = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                           env=base, timeout=120)
    assert plain.stdout.strip() == "exists False", plain.stdout + plain.stderr
    assert "exported as" not in plain.stderr
