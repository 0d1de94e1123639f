"""LeadFactory's upload component, served: the page (index.html, upload.js) and the tiny
backend it asks for presigned requests. The browser then talks to the bucket directly.

    eval "$(leadshop env --key app)"          # or a .env; the app's least-privilege key
    python web/server.py --port 3000          # http://localhost:3000
    python web/server.py --port 443 --cert c.pem --key k.pem   # https, e.g. staging

POST /api/presign {"method": "POST"|"PUT"|"GET", "key", "content_type", "size"} answers
{"url", "fields"} (POST) or {"url"} — generated with the leadshop_storage package (boto3).
Keys are confined to `tmp/browser/`.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from leadshop_storage import S3Storage

HERE = Path(__file__).resolve().parent
PREFIX = "tmp/browser/"
MAX_SIZE = 50 * 1024 * 1024


class Handler(SimpleHTTPRequestHandler):
    storage: S3Storage

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(HERE), **kwargs)

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.verbose:  # type: ignore[attr-defined]
            super().log_message(fmt, *args)

    def do_POST(self):
        if self.path != "/api/presign":
            self.send_error(404)
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            key = str(body["key"])
            if not key.startswith(PREFIX) or ".." in key:
                raise ValueError(f"keys must start with {PREFIX}")
            method = body.get("method", "POST").upper()
            content_type = body.get("content_type") or "application/octet-stream"
            if method == "POST":
                out = self.storage.generate_presigned_post(key, content_type=content_type,
                                                           max_size=MAX_SIZE, expires_in=600)
            elif method == "PUT":
                out = {"url": self.storage.generate_presigned_url(
                    key, method="PUT", content_type=content_type, expires_in=600)}
            elif method == "GET":
                out = {"url": self.storage.generate_presigned_url(key, expires_in=600)}
            else:
                raise ValueError("method must be POST, PUT or GET")
        except (ValueError, KeyError, json.JSONDecodeError) as e:
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"error": str(e)}).encode())
            return
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--key", help="its private key (PEM)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    Handler.storage = S3Storage.from_env(sync_interval=0)
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.verbose = args.verbose  # type: ignore[attr-defined]
    scheme = "http"
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    print(f"serving the upload page on {scheme}://{args.host}:{httpd.server_address[1]}",
          flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
