"""Browser POST uploads (boto3's generate_presigned_post, sent with requests as a browser form
would be): every policy condition is enforced with the status, code and message AWS gives, and
success_action_status / success_action_redirect answer as AWS does."""

import hashlib
import re
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
import requests

BUCKET = "leadshop-assets"


def post(env, presigned, body=b"hello", fields=None, filename="a.txt", **kw):
    data = dict(presigned["fields"], **(fields or {}))
    return requests.post(presigned["url"], data=data, files={"file": (filename, body)},
                         verify=env["AWS_CA_BUNDLE"], timeout=30, **kw)


def error_of(r):
    code = re.search(r"<Code>(.*?)</Code>", r.text)
    msg = re.search(r"<Message>(.*?)</Message>", r.text)
    return r.status_code, code and code.group(1), msg and msg.group(1).replace("&quot;", '"')


def key():
    return f"post-policy/{uuid.uuid4().hex[:8]}.txt"


def condition_failed(condition: str):
    return (403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {condition}")


def test_exact_and_prefix_conditions_on_every_kind_of_field(env, s3):
    k = key()
    p = s3.generate_presigned_post(
        BUCKET, k,
        Fields={"Content-Type": "image/png", "x-amz-meta-owner": "leadfactory",
                "x-amz-server-side-encryption": "AES256"},
        Conditions=[["starts-with", "$Content-Type", "image/"], {"x-amz-meta-owner": "leadfactory"},
                    {"x-amz-server-side-encryption": "AES256"}])
    # The form as signed: stored, with its type, metadata and encryption.
    assert post(env, p).status_code == 204
    head = s3.head_object(Bucket=BUCKET, Key=k)
    assert head["ContentType"] == "image/png" and head["Metadata"] == {"owner": "leadfactory"}
    assert head["ServerSideEncryption"] == "AES256"
    # Each field changed after signing: refused, nothing stored under another key.
    assert error_of(post(env, p, fields={"key": "post-policy/elsewhere.txt"})) == \
        condition_failed(f'["eq", "$key", "{k}"]')
    assert error_of(post(env, p, fields={"Content-Type": "text/html"})) == \
        condition_failed('["starts-with", "$Content-Type", "image/"]')
    assert error_of(post(env, p, fields={"x-amz-meta-owner": "mallory"})) == \
        condition_failed('["eq", "$x-amz-meta-owner", "leadfactory"]')
    assert error_of(post(env, p, fields={"x-amz-server-side-encryption": "aws:kms"})) == \
        condition_failed('["eq", "$x-amz-server-side-encryption", "AES256"]')
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key="post-policy/elsewhere.txt")


def test_key_prefix_with_filename_placeholder(env, s3):
    p = s3.generate_presigned_post(BUCKET, "uploads/${filename}",
                                   Conditions=[["starts-with", "$key", "uploads/"]])
    assert post(env, p, filename="report.pdf").status_code == 204
    assert s3.head_object(Bucket=BUCKET, Key="uploads/report.pdf")["ContentLength"] == 5
    assert error_of(post(env, p, fields={"key": "private/${filename}"})) == \
        condition_failed('["starts-with", "$key", "uploads/"]')


def test_fields_the_policy_does_not_name_are_refused(env, s3):
    p = s3.generate_presigned_post(BUCKET, key())
    assert error_of(post(env, p, fields={"x-amz-meta-extra": "1"})) == (
        403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-extra")
    assert error_of(post(env, p, fields={"success_action_status": "201"})) == (
        403, "AccessDenied", "Invalid according to Policy: Extra input fields: success_action_status")
    # x-ignore-* fields are for the page's own use.
    assert post(env, p, fields={"x-ignore-note": "ok"}).status_code == 204


def test_content_length_range_and_expiry(env, s3):
    p = s3.generate_presigned_post(BUCKET, key(), Conditions=[["content-length-range", 2, 4]])
    assert error_of(post(env, p, body=b"hello")) == (
        400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    assert error_of(post(env, p, body=b"h")) == (
        400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
    assert post(env, p, body=b"hey").status_code == 204
    expired = s3.generate_presigned_post(BUCKET, key(), ExpiresIn=-10)
    assert error_of(post(env, expired)) == (
        403, "AccessDenied", "Invalid according to Policy: Policy expired.")


def test_success_action_status_and_redirect_answer_as_aws(env, s3):
    k = key()
    body = b"report body"
    etag = '"' + hashlib.md5(body).hexdigest() + '"'
    for status in ("200", "204"):
        p = s3.generate_presigned_post(BUCKET, k, Fields={"success_action_status": status},
                                       Conditions=[{"success_action_status": status}])
        r = post(env, p, body=body)
        assert r.status_code == int(status) and r.text == ""
        assert r.headers["ETag"] == etag
    p = s3.generate_presigned_post(BUCKET, k, Fields={"success_action_status": "201"},
                                   Conditions=[{"success_action_status": "201"}])
    r = post(env, p, body=body)
    assert r.status_code == 201
    location = f"{env['AWS_ENDPOINT_URL']}/{BUCKET}/{k}"
    assert f"<Location>{location}</Location>" in r.text
    assert f"<Bucket>{BUCKET}</Bucket><Key>{k}</Key>" in r.text
    assert re.search(r"<ETag>(&quot;|\")" + etag.strip('"') + r"(&quot;|\")</ETag>", r.text), r.text
    assert r.headers["Location"] == location and r.headers["ETag"] == etag
    redirect = "http://localhost:3000/uploaded?from=form"
    p = s3.generate_presigned_post(BUCKET, k, Fields={"success_action_redirect": redirect},
                                   Conditions=[{"success_action_redirect": redirect}])
    r = post(env, p, body=body, allow_redirects=False)
    assert r.status_code == 303
    to = urlparse(r.headers["Location"])
    assert f"{to.scheme}://{to.netloc}{to.path}" == "http://localhost:3000/uploaded"
    assert parse_qs(to.query) == {"from": ["form"], "bucket": [BUCKET], "key": [k], "etag": [etag]}
