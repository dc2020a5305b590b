#!/usr/bin/env python3
"""Slack and Microsoft Teams, as hoistd's chat channels see them, for tests:
one HTTPS server on loopback that plays

  POST /services/...          a Slack incoming webhook (200 "ok")
  POST /api/chat.postMessage  Slack's Web API: checks the bearer token, posts
  POST /api/chat.update       ({"ok": true, "channel", "ts"}) and edits by
                              channel and ts ({"ok": false, "error":
                              "message_not_found"} for one it never posted)
  POST /workflows/...         a Teams Workflows webhook (202)

Every message is checked strictly, as Slack and Teams would and more: Block
Kit's block and text object types, fields and limits (counted in UTF-16
units), the fallback text's &, < and > escaped, no link_names; the Adaptive
Card's shape and every text's Markdown escaped (teams.h). What is wrong goes
in the log line's "problems", and the answer is Slack's invalid_blocks (400
for a webhook) or a 400 from Teams.

It can be told to fail: --plan names a file holding a JSON array of answers
for the next requests, one taken per request:
  {"status": 429, "retry_after": "1"}     that HTTP status (and header)
  {"slack_error": "channel_not_found"}    HTTP 200 {"ok": false, "error": ...}
Appends one JSON line per request to --log: {"path", "auth", "content_type",
"body", "status", "answer", "problems"}. Writes its port to --ready once
listening. Stops on SIGTERM.
"""
import argparse
import json
import os
import re
import signal
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEAMS_SPECIAL = "\\`*_~[](){}<>#&|"
TEAMS_MAX_BYTES = 28 * 1024


def units(text):
    """Length as Slack and Teams count it at most: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def check_text_object(obj, where, problems, max_units, plain_only=False):
    if not isinstance(obj, dict):
        problems.append(f"{where}: not a text object")
        return
    extra = set(obj) - {"type", "text", "emoji", "verbatim"}
    if extra:
        problems.append(f"{where}: unknown keys {sorted(extra)}")
    kind = obj.get("type")
    if kind not in ("plain_text", "mrkdwn"):
        problems.append(f"{where}: type {kind!r}")
    if plain_only and kind != "plain_text":
        problems.append(f"{where}: must be plain_text")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}: text missing or empty")
        return
    if units(text) > max_units:
        problems.append(f"{where}: {units(text)} > {max_units} characters")
    if "emoji" in obj and (kind != "plain_text" or not isinstance(obj["emoji"], bool)):
        problems.append(f"{where}: emoji is for plain_text, a boolean")
    if "verbatim" in obj and (kind != "mrkdwn" or not isinstance(obj["verbatim"], bool)):
        problems.append(f"{where}: verbatim is for mrkdwn, a boolean")
    if kind == "mrkdwn":
        check_mrkdwn_escaped(text, where, problems)


def check_mrkdwn_escaped(text, where, problems):
    rest = re.sub(r"&(amp|lt|gt);", "", text)
    if any(c in rest for c in "<>&"):
        problems.append(f"{where}: &, < or > not escaped in mrkdwn: {text[:80]!r}")


def check_keys(obj, allowed, where, problems):
    if not isinstance(obj, dict):
        problems.append(f"{where}: not an object")
        return False
    extra = set(obj) - set(allowed)
    if extra:
        problems.append(f"{where}: unknown keys {sorted(extra)}")
    return True


def check_slack_message(msg, allowed_top, problems):
    if not check_keys(msg, allowed_top, "message", problems):
        return
    if "link_names" in msg:
        problems.append("link_names is set")
    text = msg.get("text")
    if not isinstance(text, str) or not text:
        problems.append("text (the fallback) missing")
    else:
        if units(text) > 40000:
            problems.append("text longer than 40000")
        check_mrkdwn_escaped(text, "text", problems)
    blocks = msg.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        problems.append("blocks: 1 to 50 expected")
        return
    for i, b in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = b.get("type") if isinstance(b, dict) else None
        if kind == "header":
            if check_keys(b, {"type", "text", "block_id"}, where, problems):
                check_text_object(b.get("text"), where + ".text", problems, 150, plain_only=True)
        elif kind == "section":
            if not check_keys(b, {"type", "text", "fields", "accessory", "block_id"}, where, problems):
                continue
            if "text" not in b and "fields" not in b:
                problems.append(f"{where}: neither text nor fields")
            if "text" in b:
                check_text_object(b["text"], where + ".text", problems, 3000)
            if "fields" in b:
                fields = b["fields"]
                if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                    problems.append(f"{where}.fields: 1 to 10 expected")
                else:
                    for k, f in enumerate(fields):
                        check_text_object(f, f"{where}.fields[{k}]", problems, 2000)
        elif kind == "context":
            if not check_keys(b, {"type", "elements", "block_id"}, where, problems):
                continue
            elements = b.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements: 1 to 10 expected")
            else:
                for k, e in enumerate(elements):
                    check_text_object(e, f"{where}.elements[{k}]", problems, 3000)
        elif kind == "actions":
            if not check_keys(b, {"type", "elements", "block_id"}, where, problems):
                continue
            elements = b.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                problems.append(f"{where}.elements: 1 to 25 expected")
                continue
            for k, e in enumerate(elements):
                w = f"{where}.elements[{k}]"
                if not check_keys(e, {"type", "text", "url", "action_id", "value", "style"}, w, problems):
                    continue
                if e.get("type") != "button":
                    problems.append(f"{w}: not a button")
                check_text_object(e.get("text"), w + ".text", problems, 75, plain_only=True)
                url = e.get("url")
                if not isinstance(url, str) or not url.startswith("https://") or units(url) > 3000:
                    problems.append(f"{w}.url: an https URL of at most 3000 expected")
                if len(e.get("action_id", "")) > 255:
                    problems.append(f"{w}.action_id: longer than 255")
        elif kind == "divider":
            check_keys(b, {"type", "block_id"}, where, problems)
        else:
            problems.append(f"{where}: unknown block type {kind!r}")


def check_teams_text(text, where, problems):
    if not isinstance(text, str) or not text:
        problems.append(f"{where}: text missing or empty")
        return
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or not (text[i + 1].isascii() and not text[i + 1].isalnum() and text[i + 1] > " "):
                problems.append(f"{where}: a lone backslash: {text[:80]!r}")
            i += 2
            continue
        if c in TEAMS_SPECIAL:
            problems.append(f"{where}: {c!r} not escaped: {text[:80]!r}")
        i += 1
    if text[0] in "-+" or re.match(r"^[0-9]+\.", text):
        problems.append(f"{where}: starts a list: {text[:80]!r}")
    if "${" in text or "{{" in text:
        problems.append(f"{where}: a template expression: {text[:80]!r}")


def check_teams_message(msg, raw, problems):
    if len(raw) > TEAMS_MAX_BYTES:
        problems.append(f"the message is {len(raw)} bytes, more than Teams takes")
    if not check_keys(msg, {"type", "attachments"}, "message", problems):
        return
    if msg.get("type") != "message":
        problems.append("type must be message")
    atts = msg.get("attachments")
    if not isinstance(atts, list) or len(atts) != 1:
        problems.append("one attachment expected")
        return
    att = atts[0]
    if not check_keys(att, {"contentType", "contentUrl", "content"}, "attachment", problems):
        return
    if att.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("contentType")
    if "contentUrl" not in att or att["contentUrl"] is not None:
        problems.append("contentUrl must be null")
    card = att.get("content")
    if not check_keys(card, {"$schema", "type", "version", "body", "actions"}, "card", problems):
        return
    if card.get("$schema") != "http://adaptivecards.io/schemas/adaptive-card.json":
        problems.append("$schema")
    if card.get("type") != "AdaptiveCard" or card.get("version") != "1.4":
        problems.append("type AdaptiveCard, version 1.4 expected")
    body = card.get("body")
    if not isinstance(body, list) or not body:
        problems.append("body: elements expected")
        return
    for i, e in enumerate(body):
        where = f"body[{i}]"
        kind = e.get("type") if isinstance(e, dict) else None
        if kind == "TextBlock":
            if check_keys(e, {"type", "text", "wrap", "size", "weight", "isSubtle"}, where, problems):
                check_teams_text(e.get("text"), where + ".text", problems)
        elif kind == "FactSet":
            if not check_keys(e, {"type", "facts"}, where, problems):
                continue
            facts = e.get("facts")
            if not isinstance(facts, list) or not facts:
                problems.append(f"{where}.facts: facts expected")
                continue
            for k, f in enumerate(facts):
                if check_keys(f, {"title", "value"}, f"{where}.facts[{k}]", problems):
                    check_teams_text(f.get("title"), f"{where}.facts[{k}].title", problems)
                    check_teams_text(f.get("value"), f"{where}.facts[{k}].value", problems)
        else:
            problems.append(f"{where}: unexpected element {kind!r}")
    for i, a in enumerate(card.get("actions", [])):
        where = f"actions[{i}]"
        if check_keys(a, {"type", "title", "url"}, where, problems):
            if a.get("type") != "Action.OpenUrl" or not str(a.get("url", "")).startswith("https://"):
                problems.append(f"{where}: an Action.OpenUrl to https expected")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    lock = threading.Lock()
    posted = {}  # (channel, ts) -> message
    counter = [0]

    def next_planned():
        try:
            with open(args.plan, encoding="utf-8") as f:
                plan = json.load(f)
        except (OSError, ValueError):
            return None
        if not plan:
            return None
        with open(args.plan + ".tmp", "w", encoding="utf-8") as f:
            json.dump(plan[1:], f)
        os.rename(args.plan + ".tmp", args.plan)
        return plan[0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, payload, content_type, headers=None):
            data = payload.encode() if isinstance(payload, str) else payload
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(length)
            with lock:
                entry, reply = self.handle_locked(raw)
                with open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
            self.answer(*reply)

        def handle_locked(self, raw):
            path = self.path
            entry = {
                "path": path,
                "auth": self.headers.get("authorization", ""),
                "content_type": self.headers.get("content-type", ""),
                "body": raw.decode("utf-8", "replace"),
                "problems": [],
                "answer": None,
            }
            problems = entry["problems"]
            try:
                msg = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                msg = None
                problems.append("the body is not UTF-8 JSON")
            planned = next_planned()
            reply = None
            if planned and "status" in planned:
                headers = {"Retry-After": planned["retry_after"]} if "retry_after" in planned else {}
                reply = (planned["status"], planned.get("body", ""), "text/plain", headers)
            elif path.startswith("/services/"):
                if msg is not None:
                    check_slack_message(msg, {"text", "blocks", "unfurl_links", "unfurl_media"}, problems)
                reply = (400, "invalid_blocks", "text/plain") if problems else (200, "ok", "text/plain")
            elif path in ("/api/chat.postMessage", "/api/chat.update"):
                answer = self.web_api(path, msg, planned, problems)
                entry["answer"] = answer
                reply = (200, json.dumps(answer), "application/json; charset=utf-8")
            elif path.startswith("/workflows/"):
                if msg is not None:
                    check_teams_message(msg, raw, problems)
                if self.headers.get("content-type", "").split(";")[0] != "application/json":
                    problems.append("content-type must be application/json")
                reply = (400, '{"error":"invalid card"}', "application/json") if problems else (202, "", "text/plain")
            else:
                reply = (404, "no such endpoint", "text/plain")
            entry["status"] = reply[0]
            return entry, reply

        def web_api(self, path, msg, planned, problems):
            if self.headers.get("content-type") != "application/json; charset=utf-8":
                problems.append("content-type must be application/json; charset=utf-8")
            auth = self.headers.get("authorization")
            if not auth:
                return {"ok": False, "error": "not_authed"}
            if auth != "Bearer " + args.token:
                return {"ok": False, "error": "invalid_auth"}
            if planned and "slack_error" in planned:
                return {"ok": False, "error": planned["slack_error"]}
            if msg is None:
                return {"ok": False, "error": "invalid_json"}
            update = path.endswith("update")
            allowed = {"channel", "ts", "text", "blocks"} if update else {
                "channel", "text", "blocks", "unfurl_links", "unfurl_media"}
            check_slack_message(msg, allowed, problems)
            if problems:
                return {"ok": False, "error": "invalid_blocks", "errors": problems}
            channel = msg.get("channel")
            if not isinstance(channel, str) or not re.fullmatch(r"[CGD][A-Z0-9]+", channel):
                return {"ok": False, "error": "channel_not_found"}
            if update:
                key = (channel, msg.get("ts"))
                if key not in posted:
                    return {"ok": False, "error": "message_not_found"}
                posted[key] = msg
                return {"ok": True, "channel": channel, "ts": key[1], "text": msg["text"]}
            counter[0] += 1
            ts = f"{1700000000 + counter[0]}.{counter[0]:06d}"
            posted[(channel, ts)] = msg
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": msg["text"]}}

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
