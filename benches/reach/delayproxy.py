#!/usr/bin/env python3
# A TCP forwarder (for benches/reach/socks_rtt.sh) that delays every chunk by D ms in each direction (order kept):
#   delayproxy.py LISTEN_PORT UPSTREAM_PORT DELAY_MS
import socket, sys, threading, time, queue
lp, up, d = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
def pump(src, dst):
    q = queue.Queue()
    def reader():
        while True:
            try: b = src.recv(65536)
            except OSError: b = b""
            q.put((time.monotonic() + d, b))
            if not b: return
    threading.Thread(target=reader, daemon=True).start()
    while True:
        at, b = q.get()
        w = at - time.monotonic()
        if w > 0: time.sleep(w)
        if not b:
            try: dst.shutdown(socket.SHUT_WR)
            except OSError: pass
            return
        try: dst.sendall(b)
        except OSError: return
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", lp)); l.listen(16)
deadline = time.monotonic() + 600  # it stops by itself
while time.monotonic() < deadline:
    c, _ = l.accept()
    u = socket.create_connection(("127.0.0.1", up))
    for s in (c, u): s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()
