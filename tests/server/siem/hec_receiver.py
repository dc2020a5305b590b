#!/usr/bin/env python3
"""A Splunk HTTP Event Collector stand-in for siem_e2e_tests, on loopback:
POST /services/collector/event over HTTPS with "Authorization: Splunk
TOKEN"; the body is HEC event objects, one after another. Each accepted
event is appended as one JSON line to OUT; a wrong token is 401 and the
first FAIL requests are 503 (a collector that is busy).

usage: hec_receiver.py PORT CERT KEY TOKEN OUT FAIL
"""
import http.server
import json
import ssl
import sys

port, cert, key, token, out, fail = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
state = {"failures_left": fail}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        if self.path != "/services/collector/event":
            return self.reply(404, {"text": "Incorrect index", "code": 7})
        if self.headers.get("Authorization") != "Splunk " + token:
            return self.reply(401, {"text": "Invalid token", "code": 4})
        if state["failures_left"] > 0:
            state["failures_left"] -= 1
            return self.reply(503, {"text": "Server is busy", "code": 9})
        decoder = json.JSONDecoder()
        pos, events = 0, []
        while pos < len(body):
            while pos < len(body) and body[pos].isspace():
                pos += 1
            if pos >= len(body):
                break
            obj, pos = decoder.raw_decode(body, pos)
            for field in ("time", "host", "sourcetype", "event"):
                if field not in obj:
                    return self.reply(400, {"text": "Event field is required", "code": 12})
            events.append(obj)
        with open(out, "a") as f:
            for e in events:
                f.write(json.dumps(e) + "\n")
        return self.reply(200, {"text": "Success", "code": 0})

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
