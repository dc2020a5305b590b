#!/usr/bin/python3
"""An SMTP server for hoistd's tests, on loopback: aiosmtpd (Debian's
python3-aiosmtpd, so it runs under Debian's /usr/bin/python3) with its own
TLS certificate, STARTTLS, and AUTH LOGIN and PLAIN with a test password.

Modes (--mode):
  starttls      plain SMTP offering STARTTLS; AUTH only after it (default)
  smtps         TLS from the first byte
  no-starttls   offers no STARTTLS, and AUTH in the clear: a client that
                requires TLS must stop before sending anything
  tempfail      as starttls, but answers the end of DATA with 451
  reject-rcpt   as starttls, but refuses every RCPT with 550; or
  reject-rcpt:ADDR  only ADDR
  tempfail-rcpt:ADDR  as starttls, but answers RCPT TO ADDR with 450
  hang          accepts connections and never says a word
With --user, MAIL needs AUTH as --user with --password (535 otherwise).

Each message taken is written to --dir as NNNN.json, its Python email
parse (policy.default: an independent reader of what hoistd wrote):
  {"mail_from", "rcpt_tos", "tls", "auth_login", "raw" (as received, after
   dot-unstuffing), "max_line" (longest raw line, without CRLF),
   "bare_lf" (a LF without CR), "headers" ([name, decoded value], in
   order), "content_type", "parts" ([{"type", "charset", "cte", "body"}]),
   "defects"}
and each AUTH attempt as a line of DIR/auth.jsonl: {"mechanism", "login",
"success", "tls"} (never the password). Writes its port to --ready once
listening; stops on SIGTERM.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import ssl
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def parsed(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [str(d) for d in msg.defects]
    parts = []
    for part in msg.walk():
        defects += [str(d) for d in part.defects]
        if part.is_multipart():
            continue
        try:
            body = part.get_content()
        except Exception as e:  # a broken part: the test sees why
            body = f"<unreadable: {e}>"
        parts.append({
            "type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "cte": part.get("Content-Transfer-Encoding", ""),
            "body": body,
        })
    lines = raw.split(b"\r\n")
    return {
        "headers": [[k, str(v)] for k, v in msg.items()],
        "content_type": msg.get_content_type(),
        "parts": parts,
        "defects": defects,
        "max_line": max(len(line) for line in lines),
        "bare_lf": any(b"\n" in line for line in lines),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", default="starttls")
    ap.add_argument("--user", default="")
    ap.add_argument("--password", default="")
    args = ap.parse_args()
    mode = args.mode
    lock = threading.Lock()
    counter = [len([n for n in os.listdir(args.dir) if n.endswith(".json")])]  # across restarts

    def write_json(name, entry, append=False):
        with lock:
            if append:
                with open(os.path.join(args.dir, name), "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
                return
            counter[0] += 1
            path = os.path.join(args.dir, f"{counter[0]:04}.json")
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                json.dump(entry, f)
            os.rename(path + ".tmp", path)

    def tls_of(server):
        return mode == "smtps" or server._tls_protocol is not None

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and args.user != "" and
              auth_data.login == args.user.encode() and auth_data.password == args.password.encode())
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else None
        write_json("auth.jsonl", {"mechanism": mechanism, "login": login, "success": ok, "tls": tls_of(server)},
                   append=True)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if mode == "reject-rcpt" or (mode.startswith("reject-rcpt:") and address == mode.split(":", 1)[1]):
                return "550 5.1.1 No such user here"
            if mode.startswith("tempfail-rcpt:") and address == mode.split(":", 1)[1]:
                return "450 4.2.1 Mailbox busy, try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            if mode == "tempfail":
                return "451 4.3.0 Try again later"
            raw = envelope.original_content or envelope.content
            entry = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "tls": tls_of(server),
                "auth_login": (session.auth_data.login.decode("utf-8", "replace")
                               if isinstance(session.auth_data, LoginPassword) else None),
                "raw": raw.decode("utf-8", "replace"),
            }
            entry.update(parsed(raw))
            write_json(None, entry)
            return "250 2.0.0 OK: queued"

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)

    class Silent(asyncio.Protocol):
        pass

    def factory():
        if mode == "hang":
            return Silent()
        return SMTP(
            Handler(),
            hostname="smtp.test",
            tls_context=None if mode in ("smtps", "no-starttls") else ctx,
            auth_required=bool(args.user),
            auth_require_tls=mode not in ("smtps", "no-starttls"),
            authenticator=authenticator,
        )

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(factory, "127.0.0.1", args.port, ssl=ctx if mode == "smtps" else None))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    os.rename(tmp, args.ready)
    loop.run_forever()
    server.close()


if __name__ == "__main__":
    main()
