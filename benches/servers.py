#!/usr/bin/env python3
"""At the server's own pace: smtpc against real servers, peers side by side.

Starts private instances of Postfix, Exim, sendmail, OpenSMTPD and aiosmtpd
on loopback with the recipes of a shared servers directory (the scripts
postfix_instance.sh, exim_instance.sh, sendmail_instance.sh,
opensmtpd_instance.sh and aiosmtpd_server.py; given with --servers-dir or
SMTPC_SERVERS_DIR), and measures, in one run per server, 1 KiB messages:

  * one-shot plaintext sends (process start to exit): the smtpc tool,
    `smtp-source -m 1` and swaks, taking turns, --oneshot times each;
  * one-shot STARTTLS + AUTH PLAIN: smtpc and swaks, --tls times each;
  * batches of --batch messages over one session: examples/bench
    pipelined (send_batch), examples/bench --one-at-a-time and
    `smtp-source -d`; each message counted where the server put it
    (maildir, log, or saved files).

For each one-shot series: median, 90th percentile and maximum in ms, and
how many runs were slower than the fastest + 30 ms. Prints a Markdown
table and the targets of issue 22, met or not. Needs root (the servers),
swaks, smtp-source (postfix) and the binaries named by --cli and --bench
(`cargo build --release -p smtpc-cli` and `cargo build --release --example bench`). Not run by cargo test.

    benches/servers.py --servers-dir DIR --cli target/release/smtpc \\
        --bench target/release/examples/bench [--only postfix,exim] [--base-port 2700]
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SLOW_MS = 30.0


def wait_port(port, secs=60):
    end = time.time() + secs
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(5)
                s.recv(512)
                return True
        except OSError:
            time.sleep(0.2)
    return False


def timed(cmd, env=None, timeout=120):
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return (time.perf_counter() - start) * 1000.0, p.returncode, p.stderr.decode(errors="replace")[-300:]


class Server:
    """One private server: how to start, stop and count what it stored."""

    def __init__(self, name, port, a, work):
        self.name, self.port, self.a, self.work = name, port, a, work
        self.proc = None
        d = a.servers_dir
        self.env = dict(os.environ)
        if name == "postfix":
            self.dir = f"/tmp/smtp-bench/pfx-{port}"
            self.env.update(PFX=self.dir, PFX_MAX_SECONDS="1800")
            self.user, self.ca = "bench@pfx.bench.local", "/tmp/smtp-bench/tls/cert.pem"
            self.script = os.path.join(d, "postfix_instance.sh")
        elif name in ("exim", "sendmail", "opensmtpd"):
            self.dir = f"/tmp/smtp-bench/{name}-{port}"
            self.env[f"{name.upper()}_MAX_SECONDS"] = "1800"
            self.user, self.ca = "bench", f"{self.dir}/cert.pem"
            self.script = os.path.join(d, f"{name}_instance.sh")
        else:
            self.dir = os.path.join(work, "aiosmtpd-saved")
            os.makedirs(self.dir, exist_ok=True)
            self.user, self.ca = "bench", "/tmp/smtp-bench/tls/cert.pem"
            self.script = os.path.join(d, "aiosmtpd_server.py")

    def start(self):
        if self.name == "aiosmtpd":
            self.proc = subprocess.Popen(
                ["/usr/bin/python3", self.script, "--port", str(self.port), "--max-seconds", "1800",
                 "--save-dir", self.dir],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            if self.name == "postfix":
                subprocess.run([self.script, "setup", str(self.port)], env=self.env, check=True,
                               stdout=subprocess.DEVNULL)
            subprocess.run([self.script, "start", str(self.port)], env=self.env, check=True,
                           stdout=subprocess.DEVNULL, timeout=900)
        if not wait_port(self.port):
            raise RuntimeError(f"{self.name} did not start on {self.port}")

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        else:
            subprocess.run([self.script, "stop", str(self.port)], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stored(self):
        """Messages the server has put away so far (one recipient each)."""
        if self.name == "postfix":
            try:
                with open(os.path.join(self.dir, "maillog"), errors="replace") as f:
                    return sum(1 for line in f if "status=sent" in line)
            except OSError:
                return 0
        if self.name == "aiosmtpd":
            return len(os.listdir(self.dir))
        try:
            return len(os.listdir(os.path.join(self.dir, "Maildir", "new")))
        except OSError:
            return 0

    def wait_stored(self, want, secs=60):
        """Delivery is asynchronous on most: wait for the count (bounded)."""
        end = time.time() + secs
        n = self.stored()
        while n < want and time.time() < end:
            time.sleep(0.2)
            n = self.stored()
        return n


def stats(ms):
    ms = sorted(ms)
    if not ms:
        return None
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    slow = sum(1 for t in ms if t > ms[0] + SLOW_MS)
    return {"median": statistics.median(ms), "p90": p90, "max": ms[-1], "min": ms[0], "slow": slow, "n": len(ms)}


def fmt(s):
    if not s:
        return "failed"
    return f"{s['median']:.1f} / {s['p90']:.1f} / {s['max']:.1f} ({s['slow']} slow)"


def run_server(srv, a, msg_crlf, msg_lf, pwfile):
    port = str(srv.port)
    to = "x@bench.test"
    plain = {
        "smtpc": [a.cli, "--server", f"127.0.0.1:{port}", "--tls", "none", "--helo", "client.bench.test",
                  "--from", "a@bench.test", "--to", to, "-q", msg_crlf],
        "smtp-source": ["/usr/sbin/smtp-source", "-s", "1", "-m", "1", "-F", msg_lf, "-M", "client.bench.test",
                        "-f", "a@bench.test", "-t", to, f"127.0.0.1:{port}"],
        "swaks": ["swaks", "--silent", "2", "--timeout", "20", "--server", "127.0.0.1", "--port", port,
                  "--helo", "client.bench.test", "--from", "a@bench.test", "--to", to,
                  "--data", f"@{msg_crlf}", "--pipeline"],
    }
    tls = {
        "smtpc": [a.cli, "--server", f"127.0.0.1:{port}", "--tls", "starttls", "--ca-file", srv.ca,
                  "--helo", "client.bench.test", "--user", srv.user, "--password-file", pwfile,
                  "--auth", "PLAIN", "--from", "a@bench.test", "--to", to, "-q", msg_crlf],
        "swaks": ["swaks", "--silent", "2", "--timeout", "20", "--server", "127.0.0.1", "--port", port,
                  "--helo", "client.bench.test", "--from", "a@bench.test", "--to", to,
                  "--data", f"@{msg_crlf}", "--pipeline", "-tls", "--tls-ca-path", srv.ca, "--tls-verify",
                  "-a", "PLAIN", "-au", srv.user, "-ap", "bench"],
    }
    if a.base_cli:
        plain["smtpc (base)"] = [a.base_cli] + plain["smtpc"][1:]
        tls["smtpc (base)"] = [a.base_cli] + tls["smtpc"][1:]
    out = {"oneshot": {}, "tls": {}, "batch": {}, "errors": []}
    for label, cases, rounds in (("oneshot", plain, a.oneshot), ("tls", tls, a.tls)):
        times = {k: [] for k in cases}
        names = list(cases)
        for i in range(rounds):
            # Taking turns, starting with a different client each round.
            for k in names[i % len(names):] + names[:i % len(names)]:
                ms, rc, err = timed(cases[k])
                if rc == 0:
                    times[k].append(ms)
                else:
                    out["errors"].append(f"{label} {k}: rc {rc}: {err.strip()}")
        out[label] = {k: stats(v) for k, v in times.items()}
    batch = {
        "pipelined": [a.bench, "--server", f"127.0.0.1:{port}", "--count", str(a.batch), "--message", msg_crlf],
        "one-at-a-time": [a.bench, "--server", f"127.0.0.1:{port}", "--count", str(a.batch), "--message",
                          msg_crlf, "--one-at-a-time"],
        "smtp-source -d": ["/usr/sbin/smtp-source", "-s", "1", "-m", str(a.batch), "-d", "-F", msg_lf,
                           "-M", "client.bench.test", "-f", "a@bench.test", "-t", to, f"127.0.0.1:{port}"],
    }
    if a.base_bench:
        batch["pipelined (base)"] = [a.base_bench] + batch["pipelined"][1:]
        batch["one-at-a-time (base)"] = [a.base_bench] + batch["one-at-a-time"][1:]
    for k, cmd in batch.items():
        rates, counts = [], []
        for _ in range(a.batch_runs):
            # Whatever is still on its way from before settles first.
            time.sleep(1.0)
            before = srv.stored()
            ms, rc, err = timed(cmd, timeout=900)
            got = srv.wait_stored(before + a.batch) - before
            counts.append(got)
            if rc == 0:
                rates.append(a.batch / (ms / 1000.0))
            else:
                out["errors"].append(f"batch {k}: rc {rc}: {err.strip()}")
        out["batch"][k] = {"rates": rates, "stored": counts}
    return out


def verdicts(name, r, batch):
    v = []
    o = r["oneshot"]
    if o.get("smtpc") and o.get("smtp-source"):
        ok = o["smtpc"]["slow"] <= 1 and o["smtpc"]["median"] <= 1.2 * o["smtp-source"]["median"]
        v.append(f"one-shot: {o['smtpc']['slow']} slow, median {o['smtpc']['median'] / o['smtp-source']['median']:.2f}x smtp-source's: {'met' if ok else 'NOT met'}")
    t = r["tls"]
    if t.get("smtpc") and t.get("swaks"):
        ok = t["smtpc"]["slow"] <= 1 and t["smtpc"]["median"] < t["swaks"]["median"]
        v.append(f"STARTTLS+AUTH: {t['smtpc']['slow']} slow, median {t['smtpc']['median'] / t['swaks']['median']:.2f}x swaks's: {'met' if ok else 'NOT met'}")
    b = r["batch"]
    med = lambda k: statistics.median(b[k]["rates"]) if b.get(k) and b[k]["rates"] else None
    p, one, src = med("pipelined"), med("one-at-a-time"), med("smtp-source -d")
    all_stored = all(c == batch for c in (b.get("pipelined") or {}).get("stored", [0]))
    if p and one:
        ok = p >= 0.95 * one and (src is None or p >= src) and all_stored
        src_txt = f", {p / src:.2f}x smtp-source -d" if src else ", smtp-source -d failed"
        v.append(f"batch: pipelined {p / one:.2f}x one-at-a-time{src_txt}, every message stored: {all_stored}: {'met' if ok else 'NOT met'}")
    else:
        v.append("batch: pipelined failed: NOT met")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers-dir", default=os.environ.get("SMTPC_SERVERS_DIR"))
    ap.add_argument("--cli", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--base-cli", help="another build of the tool, measured alongside (e.g. main's)")
    ap.add_argument("--base-bench", help="another build of examples/bench, measured alongside")
    ap.add_argument("--only", default="postfix,exim,sendmail,opensmtpd,aiosmtpd")
    ap.add_argument("--base-port", type=int, default=2700)
    ap.add_argument("--oneshot", type=int, default=30)
    ap.add_argument("--tls", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--batch-runs", type=int, default=1)
    a = ap.parse_args()
    if not a.servers_dir:
        ap.error("--servers-dir (or SMTPC_SERVERS_DIR) is required")
    a.cli, a.bench = os.path.abspath(a.cli), os.path.abspath(a.bench)
    a.base_cli = a.base_cli and os.path.abspath(a.base_cli)
    a.base_bench = a.base_bench and os.path.abspath(a.base_bench)
    offsets = {"postfix": 27, "exim": 40, "sendmail": 50, "opensmtpd": 60, "aiosmtpd": 87}
    work = tempfile.mkdtemp(prefix="smtpc-servers-bench-")
    body = ("Subject: bench\r\nFrom: a@bench.test\r\nTo: x@bench.test\r\n\r\n"
            + "".join(f"line {i:04d} " + "x" * 60 + "\r\n" for i in range(14)))
    body = body[:1022] + "\r\n" if len(body) >= 1024 else body + "y" * (1022 - len(body)) + "\r\n"
    msg_crlf, msg_lf, pwfile = (os.path.join(work, n) for n in ("m.crlf.eml", "m.lf.eml", "pw"))
    with open(msg_crlf, "w", newline="") as f:
        f.write(body)
    with open(msg_lf, "w", newline="") as f:
        f.write(body.replace("\r\n", "\n"))
    with open(pwfile, "w") as f:
        f.write("bench\n")
    os.chmod(pwfile, 0o600)
    results = {}
    for name in a.only.split(","):
        srv = Server(name, a.base_port + offsets[name], a, work)
        print(f"== {name} on 127.0.0.1:{srv.port}", file=sys.stderr, flush=True)
        try:
            srv.start()
            results[name] = run_server(srv, a, msg_crlf, msg_lf, pwfile)
        except Exception as e:  # a server that fails to start is reported, the others still run
            results[name] = {"failed": str(e)}
        finally:
            srv.stop()
        print(results[name].get("errors") or results[name].get("failed") or "ok", file=sys.stderr, flush=True)
    print(f"\n1 KiB messages. One-shot: ms from process start to exit, median / p90 / max, "
          f"and runs slower than the fastest + {SLOW_MS:.0f} ms.\n")
    print("| server | series | client | median ms | p90 ms | max ms | slow runs |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name, r in results.items():
        if "failed" in r:
            print(f"| {name} | failed: {r['failed']} | | | | | |")
            continue
        for label, series in (("plain", "oneshot"), ("STARTTLS+AUTH", "tls")):
            for k, st in r[series].items():
                if st:
                    print(f"| {name} | {label} | {k} | {st['median']:.1f} | {st['p90']:.1f} | {st['max']:.1f} | "
                          f"{st['slow']} of {st['n']} |")
                else:
                    print(f"| {name} | {label} | {k} | failed | | | |")
    print(f"\nBatches of {a.batch} over one session: msgs/s (messages the server stored).\n")
    print("| server | client | msgs/s | stored |")
    print("|---|---|---:|---:|")
    for name, r in results.items():
        for k, b in r.get("batch", {}).items():
            rates = ", ".join(f"{x:.0f}" for x in b["rates"]) or "failed"
            print(f"| {name} | {k} | {rates} | {', '.join(map(str, b['stored']))} |")
    print()
    for name, r in results.items():
        if "failed" not in r:
            for v in verdicts(name, r, a.batch):
                print(f"* {name}: {v}")
            for e in r["errors"][:5]:
                print(f"  * {name} error: {e}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
