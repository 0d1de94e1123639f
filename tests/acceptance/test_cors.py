"""Bucket CORS with the AWS CLI and curl: the baseline rules are the cors.json document, the
configuration round-trips, and preflights are allowed or refused by origin, method and
headers."""

import json
import subprocess

import pytest

from leadshop_proc import REPO

ASSETS = "leadshop-assets"


def aws(env, *args):
    out = subprocess.run(["aws", "s3api", *args], env=env, capture_output=True, text=True,
                         timeout=60)
    return out.returncode, out.stdout, out.stderr


def preflight(env, origin, method, headers=None, path=f"/{ASSETS}/uploads/a.png"):
    cmd = ["curl", "-s", "-o", "/dev/null", "-D", "-", "-X", "OPTIONS", "--cacert",
           env["AWS_CA_BUNDLE"], "-H", f"Origin: {origin}", "-H",
           f"Access-Control-Request-Method: {method}"]
    if headers:
        cmd += ["-H", f"Access-Control-Request-Headers: {headers}"]
    out = subprocess.run(cmd + [env["AWS_ENDPOINT_URL"] + path], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    lines = out.splitlines()
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if ":" in l)}
    return status, hdrs


def test_get_bucket_cors_equals_the_cors_document(env):
    rc, out, err = aws(env, "get-bucket-cors", "--bucket", ASSETS)
    assert rc == 0, err
    expected = json.loads((REPO / "config/buckets/leadshop-assets/cors.json").read_text())
    assert json.loads(out) == expected


def test_put_get_delete_round_trip(env, s3):
    s3.create_bucket(Bucket="cors-cli")
    rc, _, err = aws(env, "get-bucket-cors", "--bucket", "cors-cli")
    assert rc != 0 and "NoSuchCORSConfiguration" in err
    doc = {"CORSRules": [{"AllowedOrigins": ["https://*.leadfactory.com"],
                          "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["content-type"],
                          "MaxAgeSeconds": 60}]}
    rc, _, err = aws(env, "put-bucket-cors", "--bucket", "cors-cli", "--cors-configuration",
                     json.dumps(doc))
    assert rc == 0, err
    rc, out, _ = aws(env, "get-bucket-cors", "--bucket", "cors-cli")
    assert json.loads(out) == doc
    bad = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}
    rc, _, err = aws(env, "put-bucket-cors", "--bucket", "cors-cli", "--cors-configuration",
                     json.dumps(bad))
    assert rc != 0 and "InvalidRequest" in err
    rc, _, err = aws(env, "delete-bucket-cors", "--bucket", "cors-cli")
    assert rc == 0, err
    rc, _, err = aws(env, "get-bucket-cors", "--bucket", "cors-cli")
    assert "NoSuchCORSConfiguration" in err


@pytest.mark.parametrize("origin,method,headers,allowed", [
    ("http://localhost:3000", "PUT", "content-type", True),
    ("http://localhost:3000", "POST", None, True),
    ("http://localhost:3000", "GET", "x-amz-meta-lead, content-md5", True),
    ("https://staging.leadfactory.com", "HEAD", None, True),
    ("http://localhost:3000", "DELETE", None, False),
    ("http://localhost:3001", "PUT", "content-type", False),
    ("https://leadfactory.com", "GET", None, False),
    ("http://LOCALHOST:3000", "GET", None, False),
])
def test_preflight_matrix_with_curl(env, origin, method, headers, allowed):
    status, h = preflight(env, origin, method, headers)
    if allowed:
        assert status == 200
        assert h["access-control-allow-origin"] == origin
        assert method in h["access-control-allow-methods"]
        assert h["access-control-max-age"] == "3000"
        if headers:
            assert h["access-control-allow-headers"] == headers.replace(" ", "").replace(",", ", ")
    else:
        assert status == 403
        assert "access-control-allow-origin" not in h
