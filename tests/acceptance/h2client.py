"""HTTP/2 clients that offer only `h2` in ALPN (curl offers `http/1.1` beside it, and the server
prefers HTTP/1.1 as AWS S3 does): `connect` opens one TLS connection for the tests' own h2
clients (h2slow, the slow-reader and idle-connection tests); `request` sends one request on it,
the body as the stream's window allows, and reads the response whole."""

import socket
import ssl
import urllib.parse

import h2.config
import h2.connection
import h2.events
import h2.settings


def connect(url: str, ca: str, settings: dict | None = None, source: str | None = None,
            timeout: float = 60) -> tuple[ssl.SSLSocket, h2.connection.H2Connection]:
    """A TLS connection to `url`'s host that offers only `h2` (from address `source` if given),
    and its client state with local `settings` (h2.settings.SettingCodes → value); the
    connection preface is queued in `conn.data_to_send()`, not sent."""
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((u.hostname, u.port), timeout=timeout,
                                   source_address=(source, 0) if source else None)
    sock = ctx.wrap_socket(raw, server_hostname=u.hostname)
    if sock.selected_alpn_protocol() != "h2":
        sock.close()
        raise ConnectionError(f"the server chose {sock.selected_alpn_protocol()!r}, not h2")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    if settings:
        conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
    conn.initiate_connection()
    return sock, conn


def request(url: str, ca: str, method: str = "GET", body: bytes = b"",
            timeout: float = 60) -> tuple[int, dict, bytes, str]:
    """Sends `method url` with `body`; returns (status, headers, body, ALPN protocol)."""
    u = urllib.parse.urlsplit(url)
    sock, conn = connect(url, ca, timeout=timeout)
    with sock:
        sid = conn.get_next_available_stream_id()
        path = u.path + ("?" + u.query if u.query else "")
        headers = [(":method", method), (":scheme", "https"), (":authority", u.netloc),
                   (":path", path), ("content-length", str(len(body)))]
        conn.send_headers(sid, headers, end_stream=not body)
        sent, status, got, answer = 0, None, bytearray(), {}
        while True:
            while sent < len(body):
                n = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size,
                        len(body) - sent)
                if n <= 0:
                    break
                conn.send_data(sid, body[sent:sent + n], end_stream=sent + n == len(body))
                sent += n
            sock.sendall(conn.data_to_send())
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection mid-request")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    answer = {k.decode(): v.decode() for k, v in ev.headers}
                    status = int(answer[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    got += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    sock.sendall(conn.data_to_send())
                    return status, answer, bytes(got), sock.selected_alpn_protocol()
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    raise ConnectionError(f"the server ended the stream: {ev}")
