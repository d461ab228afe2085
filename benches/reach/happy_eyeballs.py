#!/usr/bin/env python3
"""How long `smtpc --server localhost:P` takes when localhost is ::1 first,
then 127.0.0.1, and [::1]:P is a black hole (a listener with backlog 0 whose
one queued connection is never accepted: the kernel drops every new SYN)
while smtp-sink listens on 127.0.0.1:P.

    benches/reach/happy_eyeballs.py CLI RUNS [CLI OPTIONS...]

CLI runs in a mount namespace of its own with a private /etc/hosts and an
nsswitch.conf that asks the hosts file only (needs root, unshare and
Postfix's smtp-sink). Prints the wall time of each run, process start to
exit."""
import os, socket, subprocess, sys, tempfile, time

cli, runs, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for _ in range(50):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hole = socket.socket(socket.AF_INET6)
    hole.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        hole.bind(("::1", port))
        hole.listen(0)
        break
    except OSError:
        hole.close()
filler = socket.socket(socket.AF_INET6)
filler.connect(("::1", port))
sink = subprocess.Popen(["timeout", "600", "/usr/sbin/smtp-sink", "-u", "nobody",
                         "-h", "sink.test", f"127.0.0.1:{port}", "64"])
time.sleep(1)
work = tempfile.mkdtemp()
with open(f"{work}/hosts", "w") as f:
    f.write("::1 localhost\n127.0.0.1 localhost\n")
with open(f"{work}/nsswitch.conf", "w") as f:
    f.write("hosts: files\n")
for i in range(runs):
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
           'mount --bind "$0/hosts" /etc/hosts && '
           'mount --bind "$0/nsswitch.conf" /etc/nsswitch.conf && exec "$@"',
           work, cli, "--server", f"localhost:{port}", "--tls", "none",
           "--from", "a@x.test", "--to", "b@y.test", "-q"] + extra
    start = time.monotonic()
    run = subprocess.run(cmd, input=b"Subject: he\r\n\r\nHello.\r\n", capture_output=True)
    print(f"run {i}: exit {run.returncode}, {time.monotonic() - start:.3f} s",
          run.stderr.decode().strip())
sink.terminate()
sink.wait()
