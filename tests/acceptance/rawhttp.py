"""Requests no SDK would send: SigV4 signed by hand (after AWS's "Create a signed AWS API
request"), exchanged over a raw TLS socket, so a test can misbehave exactly as it means to."""

import datetime
import hashlib
import hmac
import socket
import ssl
import urllib.parse


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _enc(s: str, safe: str = "") -> str:
    return urllib.parse.quote(s, safe=safe + "-_.~")


def sign(method: str, endpoint: str, path: str, key_id: str, secret: str, *, query: str = "",
         headers: dict | None = None, payload: str = "UNSIGNED-PAYLOAD", region: str = "us-east-1",
         signed: list[str] | None = None, when: datetime.datetime | None = None) -> dict:
    """The headers of a SigV4-signed request. `path` is sent and signed exactly as given (already
    escaped); `signed` names the headers to sign (default: all, host included)."""
    now = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    host = urllib.parse.urlparse(endpoint).netloc
    h = {"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload}
    h.update({k.lower(): v for k, v in (headers or {}).items()})
    names = sorted(signed if signed is not None else h)
    pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    canonical_query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in pairs)
    canonical = "\n".join([method, path, canonical_query, *(f"{n}:{h[n].strip()}" for n in names), "",
                           ";".join(names), payload])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region), "s3"), "aws4_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return h


def presign_v4(endpoint: str, path: str, key_id: str, secret: str, *, expires: int,
               when: datetime.datetime | None = None, region: str = "us-east-1") -> str:
    """A SigV4 presigned URL for GET `path`, signed at `when` (default now)."""
    now = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"
    host = urllib.parse.urlparse(endpoint).netloc
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{key_id}/{scope}",
         "X-Amz-Date": amz_date, "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host"}
    canonical_query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(q.items()))
    canonical = "\n".join(["GET", path, canonical_query, f"host:{host}", "", "host", "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region), "s3"), "aws4_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{endpoint}{path}?{canonical_query}&X-Amz-Signature={sig}"


def presign_v2(endpoint: str, path: str, key_id: str, secret: str, *, expires_at: int) -> str:
    """A SigV2 presigned URL for GET `path` (as `aws s3 presign` makes in us-east-1)."""
    import base64
    sts = f"GET\n\n\n{expires_at}\n{path}"
    sig = base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    q = urllib.parse.urlencode({"AWSAccessKeyId": key_id, "Signature": sig, "Expires": str(expires_at)})
    return f"{endpoint}{path}?{q}"


def exchange(endpoint: str, ca: str, method: str, target: str, headers: dict, body: bytes = b"",
             source_ip: str | None = None, timeout: float = 30.0, send_body: bool = True):
    """One HTTP/1.1 request over TLS (or plain TCP for http://); returns (status, headers, body).
    `target` is the request target as sent (path and query)."""
    url = urllib.parse.urlparse(endpoint)
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout,
                                    source_address=(source_ip, 0) if source_ip else None)
    if url.scheme == "https":
        sock = ssl.create_default_context(cafile=ca).wrap_socket(sock, server_hostname="localhost")
    head = {"host": url.netloc, "connection": "close", **{k.lower(): v for k, v in headers.items()}}
    if body and "content-length" not in head:
        head["content-length"] = str(len(body))
    raw = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
    try:
        sock.sendall(raw.encode() + (body if send_body else b""))
    except OSError:
        pass  # the server answered (and closed) before taking the whole body
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    sock.close()
    return parse_response(data)


def parse_response(data: bytes):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        return 0, {}, data
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status, headers, body
