"""docs/SECURITY.md says each claim is shown by a refused and an allowed request. These are the
claims that had no end-to-end test (issue 26): SigV2 in an Authorization header, session
tokens, the 7-day SigV4 presign cap, unsigned `x-amz-*` headers, the TLS handshake timeout,
the idle timeout, dev CA renewal, the log target re-checked at delivery, and the CloudWatch
1 MiB body limit. Each test sends the refused request beside the allowed one.

Waits have generous deadlines and assert that something happened, never how fast."""

import base64
import datetime
import hashlib
import hmac
import json
import socket
import time
import urllib.parse

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from leadshop_proc import Leadshop
from rawhttp import exchange, presign_v2, presign_v4, sign

ASSETS, LOGS = "leadshop-assets", "leadshop-security-logs"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Leadshop(tmp_path_factory.mktemp("claims") / "data").start()
    yield s
    s.stop()


def s3_client(env, **kw):
    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1", **kw,
    ).client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])


def code(resp_body: bytes | str) -> str:
    text = resp_body.decode() if isinstance(resp_body, bytes) else resp_body
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def wait_until(what, check, deadline_s=120.0):
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, f"never happened: {what}"
        time.sleep(0.2)


def test_sigv2_in_an_authorization_header_is_refused_sigv2_presigned_is_not(srv):
    env = srv.env("admin")
    s3_client(env).put_object(Bucket=ASSETS, Key="claims/v2", Body=b"v2")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    to_sign = f"GET\n\n\n{date}\n/{ASSETS}/claims/v2"
    sig = base64.b64encode(hmac.new(env["AWS_SECRET_ACCESS_KEY"].encode(), to_sign.encode(), hashlib.sha1).digest())
    status, _, body = exchange(env["AWS_ENDPOINT_URL"], env["AWS_CA_BUNDLE"], "GET", f"/{ASSETS}/claims/v2", {
        "date": date, "authorization": f"AWS {env['AWS_ACCESS_KEY_ID']}:{sig.decode()}"})
    assert status == 403 and code(body) == "AccessDenied" and b"Signature Version 2" in body, body
    # The same signature algorithm in a presigned URL (what botocore makes by default): allowed.
    url = presign_v2(env["AWS_ENDPOINT_URL"], f"/{ASSETS}/claims/v2", env["AWS_ACCESS_KEY_ID"],
                     env["AWS_SECRET_ACCESS_KEY"], expires_at=int(time.time()) + 300)
    r = requests.get(url, verify=env["AWS_CA_BUNDLE"])
    assert r.status_code == 200 and r.content == b"v2"


def test_session_tokens_are_refused(srv):
    env = srv.env("admin")
    with_token = s3_client(env, aws_session_token="FwoGZXIvYXdzEXAMPLE")
    with pytest.raises(ClientError) as e:
        with_token.get_object(Bucket=ASSETS, Key="claims/v2")
    assert e.value.response["Error"]["Code"] == "InvalidToken"
    # Presigned with SigV4: the signature holds, the token is refused.
    from botocore.config import Config
    v4 = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token="FwoGZXIvYXdzEXAMPLE", region_name="us-east-1",
    ).client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
             config=Config(signature_version="s3v4"))
    url = v4.generate_presigned_url("get_object", Params={"Bucket": ASSETS, "Key": "claims/v2"})
    assert "X-Amz-Security-Token=" in url
    r = requests.get(url, verify=env["AWS_CA_BUNDLE"])
    assert r.status_code == 400 and code(r.text) == "InvalidToken", r.text
    # Presigned with SigV2 (botocore's default here, the token named in lower case): refused
    # too, by the signature check or the token check.
    url = with_token.generate_presigned_url("get_object", Params={"Bucket": ASSETS, "Key": "claims/v2"})
    assert "x-amz-security-token=" in url
    r = requests.get(url, verify=env["AWS_CA_BUNDLE"])
    assert r.status_code in (400, 403) and code(r.text) in ("InvalidToken", "SignatureDoesNotMatch"), r.text
    s3_client(env).put_object(Bucket=ASSETS, Key="claims/token", Body=b"t")
    assert s3_client(env).get_object(Bucket=ASSETS, Key="claims/token")["Body"].read() == b"t"


def test_sigv4_presigned_urls_live_at_most_seven_days(srv):
    env = srv.env("admin")
    s3_client(env).put_object(Bucket=ASSETS, Key="claims/week", Body=b"w")
    args = (env["AWS_ENDPOINT_URL"], f"/{ASSETS}/claims/week", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    r = requests.get(presign_v4(*args, expires=7 * 24 * 3600 + 1), verify=env["AWS_CA_BUNDLE"])
    assert r.status_code in (400, 403) and code(r.text) == "AuthorizationQueryParametersError", r.text
    r = requests.get(presign_v4(*args, expires=7 * 24 * 3600), verify=env["AWS_CA_BUNDLE"])
    assert r.status_code == 200 and r.content == b"w"


def test_every_x_amz_header_must_be_signed(srv):
    env = srv.env("admin")
    endpoint, ca = env["AWS_ENDPOINT_URL"], env["AWS_CA_BUNDLE"]
    body = b"unsigned header"
    payload = hashlib.sha256(body).hexdigest()
    path = f"/{ASSETS}/claims/unsigned"
    # x-amz-meta-role sent but left out of SignedHeaders: refused, nothing stored.
    h = sign("PUT", endpoint, path, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], payload=payload,
             signed=["host", "x-amz-content-sha256", "x-amz-date"])
    h["x-amz-meta-role"] = "admin"
    status, _, resp = exchange(endpoint, ca, "PUT", path, h, body)
    assert status == 403, resp
    with pytest.raises(ClientError):
        s3_client(env).head_object(Bucket=ASSETS, Key="claims/unsigned")
    # Signed: stored, with its metadata.
    h = sign("PUT", endpoint, path, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], payload=payload,
             headers={"x-amz-meta-role": "admin"})
    status, _, resp = exchange(endpoint, ca, "PUT", path, h, body)
    assert status == 200, resp
    assert s3_client(env).head_object(Bucket=ASSETS, Key="claims/unsigned")["Metadata"] == {"role": "admin"}


def test_a_tls_handshake_that_never_comes_is_closed(srv):
    u = urllib.parse.urlsplit(srv.endpoints["s3"])
    before = srv.metrics()['leadshop_connections_closed_total{reason="tls_handshake"}']
    silent = socket.create_connection((u.hostname, u.port), timeout=120)
    opened = time.monotonic()
    # A client that completes its handshake is served meanwhile.
    env = srv.env("admin")
    s3_client(env).list_buckets()
    assert silent.recv(1) == b"", "the server closed the silent connection"
    waited = time.monotonic() - opened
    silent.close()
    # It was held for the handshake timeout (10 s), then closed and counted.
    assert waited >= 9, waited
    wait_until("the closed handshake counted",
               lambda: srv.metrics()['leadshop_connections_closed_total{reason="tls_handshake"}'] > before)


def test_an_idle_http2_connection_is_closed_even_if_it_pings_and_a_busy_one_is_not(tmp_path):
    import h2.events

    from h2client import connect

    srv = Leadshop(tmp_path / "data", config="[limits]\nidle_timeout_secs = 2\n").start()
    try:
        env = srv.env("admin")
        url = s3_client(env).generate_presigned_url("list_buckets")
        u = urllib.parse.urlsplit(url)

        def h2_conn():
            sock, conn = connect(url, env["AWS_CA_BUNDLE"])
            sock.sendall(conn.data_to_send())
            return sock, conn

        def request(sock, conn) -> int:
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"), (":authority", u.netloc),
                                    (":path", u.path + "?" + u.query)], end_stream=True)
            sock.sendall(conn.data_to_send())
            status = None
            while True:
                data = sock.recv(65536)
                assert data, "the connection closed mid-request"
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.ResponseReceived):
                        status = int(dict(ev.headers)[b":status"])
                    if isinstance(ev, h2.events.DataReceived):
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                        sock.sendall(conn.data_to_send())
                        return status
                sock.sendall(conn.data_to_send())

        before = srv.metrics()['leadshop_connections_closed_total{reason="idle"}']
        # Busy: a request every half second for four seconds (twice the idle timeout) on one
        # connection, all answered.
        busy_sock, busy = h2_conn()
        for _ in range(8):
            assert request(busy_sock, busy) == 200
            time.sleep(0.5)
        assert request(busy_sock, busy) == 200
        busy_sock.close()
        # Idle after one request, though it PINGs every half second: the server closes it
        # (bytes alone keep nothing open).
        idle_sock, idle = h2_conn()
        assert request(idle_sock, idle) == 200
        idle_sock.settimeout(0.5)
        closed = False
        while not closed:
            try:
                data = idle_sock.recv(65536)
            except TimeoutError:
                idle.ping(b"stayopen")
                try:
                    idle_sock.sendall(idle.data_to_send())
                except OSError:
                    closed = True
                continue
            closed = not data or any(isinstance(ev, h2.events.ConnectionTerminated)
                                     for ev in idle.receive_data(data))
        idle_sock.close()
        wait_until("the idle close counted",
                   lambda: srv.metrics()['leadshop_connections_closed_total{reason="idle"}'] > before)
    finally:
        srv.stop()


def test_a_dev_ca_near_its_end_or_older_than_the_rules_is_renewed(tmp_path):
    data = tmp_path / "data"
    srv = Leadshop(data).start()
    ca = data / "tls" / "ca.pem"
    old = tmp_path / "old-ca.pem"
    old.write_bytes(ca.read_bytes())
    srv.stop()
    try:
        for make_stale in ("expires in ten days", "made before dev-ca.json existed"):
            meta = data / "tls" / "dev-ca.json"
            if make_stale == "expires in ten days":
                doc = json.loads(meta.read_text())
                doc["not_after"] = int(time.time()) + 10 * 86400
                meta.write_text(json.dumps(doc))
            else:
                meta.unlink()
            before = ca.read_bytes()
            srv.start()
            assert ca.read_bytes() != before, f"renewed: {make_stale}"
            env = srv.env("admin")
            # A client still trusting the previous CA is refused by its own TLS check...
            stale_env = {**env, "AWS_CA_BUNDLE": str(old)}
            with pytest.raises(Exception) as e:
                s3_client(stale_env).list_buckets()
            assert "CERTIFICATE_VERIFY_FAILED" in str(e.value) or "SSL" in type(e.value).__name__, e.value
            # ...and one trusting the new CA is served.
            assert "Buckets" in s3_client(env).list_buckets()
            old.write_bytes(ca.read_bytes())
            srv.stop()
        # A current CA is kept as it is.
        before = ca.read_bytes()
        srv.start()
        assert ca.read_bytes() == before
    finally:
        srv.stop()


def test_the_log_target_is_checked_again_at_delivery(tmp_path):
    data = tmp_path / "data"
    srv = Leadshop(data, config="[access_logs]\nflush_seconds = 3600\n").start()
    try:
        s3 = s3_client(srv.env("admin"))
        original = s3.get_bucket_policy(Bucket=LOGS)["Policy"]
        doc = json.loads(original)
        doc["Statement"] = [st for st in doc["Statement"]
                            if not (isinstance(st.get("Principal"), dict)
                                    and st["Principal"].get("Service") == "logging.s3.amazonaws.com")]
        refused_id = s3.put_object(Bucket=ASSETS, Key="claims/refused", Body=b"x")["ResponseMetadata"]["RequestId"]
        # The target no longer lets the logging service write, after logging was configured.
        s3.put_bucket_policy(Bucket=LOGS, Policy=json.dumps(doc))
        srv.stop()  # the spooled records are delivered at the next start
        srv.start()
        wait_until("the refused delivery counted", lambda: srv.metrics()[
            'leadshop_access_log_records_total{outcome="refused_by_target"}'] >= 1)
        s3 = s3_client(srv.env("admin"))

        def logged_ids():
            out = set()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LOGS):
                for o in page.get("Contents", []):
                    text = s3.get_object(Bucket=LOGS, Key=o["Key"])["Body"].read().decode()
                    out |= {line.split(" ")[6] for line in text.splitlines() if line}
            return out

        assert refused_id not in logged_ids()
        # The policy put back: the next records are delivered.
        s3.put_bucket_policy(Bucket=LOGS, Policy=original)
        allowed_id = s3.put_object(Bucket=ASSETS, Key="claims/allowed", Body=b"x")["ResponseMetadata"]["RequestId"]
        srv.stop()
        srv.start()
        s3 = s3_client(srv.env("admin"))
        wait_until("the allowed records delivered", lambda: allowed_id in logged_ids())
        assert refused_id not in logged_ids()
    finally:
        srv.stop()


def test_cloudwatch_bodies_are_at_most_one_mib(srv):
    env = srv.env("admin")

    def post(body: bytes):
        req = AWSRequest(method="POST", url=env["AWS_ENDPOINT_URL"] + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]), "monitoring",
                  "us-east-1").add_auth(req)
        p = req.prepare()
        return requests.post(p.url, data=body, headers=dict(p.headers), verify=env["AWS_CA_BUNDLE"], timeout=120)

    base = b"Action=ListMetrics&Version=2010-08-01&Namespace=AWS%2FS3&NextToken="
    over = base + b"a" * (1024 * 1024 + 1 - len(base))
    r = post(over)
    assert r.status_code == 400 and code(r.text) == "RequestEntityTooLarge", r.text
    # Exactly 1 MiB is read and answered by ListMetrics itself (which has its own view of a
    # token that long), not refused for its size.
    under = base + b"a" * (1024 * 1024 - len(base))
    r = post(under)
    assert "RequestEntityTooLarge" not in r.text, r.text
    r = post(base[:-len(b"&NextToken=")])
    assert r.status_code == 200, r.text
