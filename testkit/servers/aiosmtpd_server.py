#!/usr/bin/env python3
"""aiosmtpd on loopback for smtpc's tests: STARTTLS with the given
certificate, AUTH PLAIN and LOGIN (only after STARTTLS), SMTPUTF8, and every
message saved to --save-dir as it arrived (after un-stuffing). Stops by
itself after --max-seconds, or on SIGTERM.

  aiosmtpd_server.py --port P --cert C --key K --save-dir D
      [--user U --password W] [--max-seconds S] [--host 127.0.0.1]
"""
import argparse
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--save-dir", required=True)
ap.add_argument("--user", default="bob")
ap.add_argument("--password", default="hunter2")
ap.add_argument("--max-seconds", type=float, default=120)
a = ap.parse_args()

if a.host not in ("127.0.0.1", "::1", "localhost"):
    sys.exit("loopback only")

ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(a.cert, a.key)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == a.user.encode()
          and auth_data.password == a.password.encode())
    # handled=False makes aiosmtpd answer 535 itself; the default would
    # send no reply at all to a wrong password.
    return AuthResult(success=ok, handled=False)


class Handler:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        Handler.count += 1
        data = envelope.original_content or envelope.content
        base = os.path.join(a.save_dir, f"msg-{Handler.count:04d}")
        with open(base + ".eml", "wb") as f:
            f.write(data)
        with open(base + ".meta", "w") as f:
            f.write(f"from={envelope.mail_from}\n")
            f.write(f"to={' '.join(envelope.rcpt_tos)}\n")
            f.write(f"options={' '.join(envelope.mail_options)}\n")
            f.write(f"tls={session.ssl is not None}\n")
            f.write(f"auth={bool(session.authenticated)}\n")
        return "250 2.0.0 OK queued as AIO%04d" % Handler.count


os.makedirs(a.save_dir, exist_ok=True)
ctl = Controller(
    Handler(), hostname=a.host, port=a.port, server_hostname="aiosmtpd.test",
    tls_context=ctx, require_starttls=False, authenticator=authenticator,
    auth_required=False, auth_require_tls=True, decode_data=False,
    enable_SMTPUTF8=True, data_size_limit=64 * 1024 * 1024)
ctl.start()
print(f"READY {a.host}:{a.port}", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait(a.max_seconds)
ctl.stop()
sys.exit(0)
