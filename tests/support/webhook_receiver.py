#!/usr/bin/env python3
"""A Standard Webhooks receiver for hoistd's tests, on loopback over HTTPS.

It checks each message's signature with the very code docs/notifications.md
gives receivers (the block between its verify-example markers, read and run
here), and appends one JSON line per request to --log:
  {"id", "timestamp", "signature", "verified", "status", "body"}
Modes (--mode): ok (204 when verified, 400 when not), status:N (answer N
after logging), hang (log, then never answer), big (200 with a 4 MiB body),
retry-after:N (429 with Retry-After: N).
Writes its port to --ready once listening. Stops on SIGTERM.
"""
import argparse
import json
import os
import re
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def load_example(docs_path):
    text = open(docs_path, encoding="utf-8").read()
    m = re.search(r"<!-- verify-example:begin -->\s*```python\n(.*?)```\s*<!-- verify-example:end -->", text, re.S)
    if not m:
        sys.exit(f"{docs_path}: no verify-example block")
    scope = {}
    exec(compile(m.group(1), docs_path + ":verify-example", "exec"), scope)
    return scope["verify_webhook"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--docs", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", default="ok")
    args = ap.parse_args()
    verify_webhook = load_example(args.docs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            verified = verify_webhook(args.secret, self.headers, body)
            mode = args.mode
            status = 204 if verified else 400
            if mode.startswith("status:"):
                status = int(mode.split(":", 1)[1])
            elif mode.startswith("retry-after:"):
                status = 429
            elif mode == "big":
                status = 200
            entry = {
                "id": self.headers.get("webhook-id"),
                "timestamp": self.headers.get("webhook-timestamp"),
                "signature": self.headers.get("webhook-signature"),
                "verified": verified,
                "status": status,
                "path": self.path,
                "body": body.decode("utf-8", "replace"),
            }
            with lock:
                with open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
            if mode == "hang":
                time.sleep(3600)
                return
            payload = b""
            if mode == "big":
                payload = b"x" * (4 << 20)
            self.send_response(status)
            if mode.startswith("retry-after:"):
                self.send_header("Retry-After", mode.split(":", 1)[1])
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.ready)
    server.serve_forever()


if __name__ == "__main__":
    main()
