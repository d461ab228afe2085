#!/usr/bin/env python3
"""A scripted SMTP server with a real server's limits, for benches/delivery.

  limits_server.py PORT [--rcpt-limit N] [--messages-per-session N]
                        [--max-seconds S] [--stats FILE]

PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES; DATA only. RCPT past
--rcpt-limit in a transaction gets "452 4.5.3 Too many recipients" (RFC 5321
4.5.3.1.10); after --messages-per-session messages it answers the last one
with 250 and closes the connection, as servers with a per-session limit do.
It counts stored messages, recipients given a message and transactions, and
writes them to --stats after every message. Stops by itself after
--max-seconds."""
import argparse, socket, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--rcpt-limit", type=int, default=0)
ap.add_argument("--messages-per-session", type=int, default=0)
ap.add_argument("--max-seconds", type=float, default=300)
ap.add_argument("--stats", default=None)
a = ap.parse_args()
lock = threading.Lock()
stats = {"messages": 0, "deliveries": 0, "sessions": 0}


def write_stats():
    if a.stats:
        with open(a.stats, "w") as f:
            f.write(" ".join(f"{k}={v}" for k, v in stats.items()) + "\n")


def session(c):
    buf = bytearray()
    out = []

    def readline():
        # Replies to a pipelined group go out when the client's group is
        # read whole, i.e. before the server would wait for more.
        while b"\n" not in buf:
            flush()
            b = c.recv(65536)
            if not b:
                return b""
            buf.extend(b)
        i = buf.index(b"\n") + 1
        line = bytes(buf[:i]); del buf[:i]
        return line
    def send(line):
        out.append(line.encode() + b"\r\n")
    def flush():
        if out:
            c.sendall(b"".join(out)); out.clear()
    send("220 limits.test ESMTP")
    flush()
    rcpts, in_mail, done = 0, False, 0
    while True:
        line = readline()
        if not line:
            return
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            send("250-limits.test"); send("250-PIPELINING"); send("250-8BITMIME"); send("250 ENHANCEDSTATUSCODES")
        elif verb == b"MAIL":
            rcpts, in_mail = 0, True; send("250 2.1.0 Ok")
        elif verb == b"RCPT":
            if a.rcpt_limit and rcpts >= a.rcpt_limit:
                send("452 4.5.3 Too many recipients")
            else:
                rcpts += 1; send("250 2.1.5 Ok")
        elif verb == b"DATA":
            if not rcpts:
                send("554 5.5.1 No valid recipients"); continue
            send("354 End data with <CR><LF>.<CR><LF>"); flush()
            while True:
                l = readline()
                if not l:
                    return
                if l == b".\r\n":
                    break
            done += 1
            with lock:
                stats["messages"] += 1; stats["deliveries"] += rcpts
                n = stats["messages"]; write_stats()
            send(f"250 2.0.0 Ok: queued as {n}")
            rcpts, in_mail = 0, False
            if a.messages_per_session and done >= a.messages_per_session:
                flush(); c.shutdown(socket.SHUT_RDWR); return
        elif verb in (b"RSET", b"NOOP"):
            rcpts = 0; send("250 2.0.0 Ok")
        elif verb == b"QUIT":
            send("221 2.0.0 Bye"); flush(); return
        else:
            send("500 5.5.2 Unknown command")


def serve(c):
    with lock:
        stats["sessions"] += 1; write_stats()
    try:
        session(c)
    except OSError:
        pass
    finally:
        c.close()


l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", a.port)); l.listen(64); l.settimeout(1)
end = time.monotonic() + a.max_seconds
while time.monotonic() < end:
    try:
        c, _ = l.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
print(" ".join(f"{k}={v}" for k, v in stats.items()))
