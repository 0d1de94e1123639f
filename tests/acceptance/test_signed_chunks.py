"""aws-chunked with per-chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), signed here by
hand following AWS's "Signature Calculations for the Authorization Header: Transferring Payload
in Multiple Chunks": SDKs use it over plain HTTP, which this server refuses, so no SDK sends it."""

import datetime
import hashlib
import hmac
import http.client
import ssl
import urllib.parse

import pytest

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed_chunked_put(endpoint: str, ca: str, key_id: str, secret: str, bucket: str, key: str,
                       chunks: list[bytes], tamper_chunk: int | None = None):
    url = urllib.parse.urlparse(endpoint)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    signing_key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), "us-east-1"), "s3"), "aws4_request")

    def encoded_len(n: int) -> int:
        return len(f"{n:x};chunk-signature=") + 64 + 2 + n + 2

    decoded = sum(len(c) for c in chunks)
    total = sum(encoded_len(len(c)) for c in chunks) + encoded_len(0)
    path = "/" + urllib.parse.quote(bucket) + "/" + urllib.parse.quote(key, safe="/")
    headers = {
        "content-encoding": "aws-chunked",
        "content-length": str(total),
        "host": url.netloc,
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-date": amz_date,
        "x-amz-decoded-content-length": str(decoded),
    }
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["PUT", path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed,
                           "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    seed = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={seed}"

    body = b""
    prev = seed
    for i, chunk in enumerate(chunks + [b""]):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY_SHA256, hashlib.sha256(chunk).hexdigest()])
        sig = hmac.new(signing_key, sts.encode(), hashlib.sha256).hexdigest()
        prev = sig
        data = chunk
        if tamper_chunk == i:
            data = bytes([chunk[0] ^ 1]) + chunk[1:]
        body += f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + data + b"\r\n"
    assert len(body) == total
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=ssl.create_default_context(cafile=ca))
    conn.request("PUT", path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


@pytest.fixture()
def creds(env):
    return env["AWS_ENDPOINT_URL"], env["AWS_CA_BUNDLE"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]


def test_signed_chunks_are_verified_and_decoded(creds, s3):
    chunks = [bytes([i]) * 65536 for i in range(5)] + [b"tail"]
    status, text = signed_chunked_put(*creds, "leadshop-assets", "tmp/signed-chunks", chunks)
    assert status == 200, text
    assert s3.get_object(Bucket="leadshop-assets", Key="tmp/signed-chunks")["Body"].read() == b"".join(chunks)


def test_a_tampered_chunk_is_refused_and_nothing_is_stored(creds, s3):
    from botocore.exceptions import ClientError

    chunks = [b"a" * 65536, b"b" * 65536, b"c" * 10]
    status, text = signed_chunked_put(*creds, "leadshop-assets", "tmp/tampered", chunks, tamper_chunk=1)
    assert status == 403 and "SignatureDoesNotMatch" in text, (status, text)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="leadshop-assets", Key="tmp/tampered")
    assert e.value.response["Error"]["Code"] == "404"
