#!/usr/bin/env python3
"""The time from smtpc_cancel to the return of the call it cancels:
tests/c/cancel.c, built against target/release/libsmtpc.so, blocks in
smtpc_send on a server that answers EHLO and then says nothing; a second
thread calls smtpc_cancel after 300 ms; the program prints the time between
the two (CLOCK_MONOTONIC).

    cargo build --release && benches/reach/cancel.py RUNS [WRAPPER...]

WRAPPER runs the program under something, e.g. `valgrind --quiet`. Needs cc
and Postfix's smtp-sink (the program's second server)."""
import os, socket, subprocess, sys, tempfile, threading, time

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
runs, wrapper = int(sys.argv[1]), sys.argv[2:]
exe = os.path.join(tempfile.mkdtemp(), "cancel")
lib = os.path.join(root, "target/release")
subprocess.run(["cc", "-std=c99", "-O2", "-pthread", "-I", os.path.join(root, "include"),
                "-o", exe, os.path.join(root, "tests/c/cancel.c"),
                os.path.join(lib, "libsmtpc.so"), f"-Wl,-rpath,{lib}"], check=True)

def silent(listener):
    conn, _ = listener.accept()
    conn.sendall(b"220 silent.test ESMTP\r\n")
    conn.makefile("rb").readline()
    conn.sendall(b"250 silent.test\r\n")
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
sink = subprocess.Popen(["timeout", "600", "/usr/sbin/smtp-sink", "-u", "nobody",
                         "-h", "sink.test", f"127.0.0.1:{port}", "64"])
time.sleep(1)
for _ in range(runs):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    threading.Thread(target=silent, args=(listener,), daemon=True).start()
    run = subprocess.run(wrapper + [exe, str(listener.getsockname()[1]), str(port)],
                         capture_output=True, text=True)
    lines = [l for l in run.stdout.splitlines() if "cancel to return" in l]
    print(run.returncode, *lines, run.stderr.strip())
sink.terminate()
sink.wait()
