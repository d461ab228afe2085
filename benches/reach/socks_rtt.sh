#!/usr/bin/env bash
# Round trips of one whole session of the command-line tool (one message to
# Postfix's smtp-sink), straight and through a SOCKS5 proxy (danted,
# testkit/servers/danted.sh), counted by timing: each path once through
# delayproxy.py delaying each direction by D ms and once with D = 0;
# round trips = (median with D - median without) / (2 D). The proxy accepts at
# once, so the TCP handshake to it is not counted.
#
#   benches/reach/socks_rtt.sh CLI      RUNS=9 D=20 MODE=none|username
#
# Needs root (danted), smtp-sink, python3, bc.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CLI=$1; RUNS=${RUNS:-9}; D=${D:-20}; MODE=${MODE:-none}
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SINK=$(free); DANTE=$(free); P0=$(free); PD=$(free); Q0=$(free); QD=$(free)
W=$(mktemp -d)
timeout 600 /usr/sbin/smtp-sink -u nobody -h sink.test 127.0.0.1:$SINK 64 & PIDS=$!
bash "$HERE/../../testkit/servers/danted.sh" start "$W/danted" $DANTE $MODE 600 >/dev/null
for pair in "$P0 $DANTE 0" "$PD $DANTE $D" "$Q0 $SINK 0" "$QD $SINK $D"; do
  timeout 600 python3 "$HERE/delayproxy.py" $pair & PIDS="$PIDS $!"
done
sleep 1.5
auth=""; [[ $MODE == none ]] || auth="socksuser@"
export SMTPC_PROXY_PASSWORD=sockspass
run() {
  local label=$1; shift
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    printf 'Subject: x\r\n\r\nHello.\r\n' | "$CLI" --tls none --from a@x.test --to b@y.test -q "$@"
    e=$(date +%s.%N)
    echo "$label $(echo "$e - $s" | bc)"
  done
}
{
  run socks0 --server 127.0.0.1:$SINK --proxy "socks5://${auth}127.0.0.1:$P0"
  run socksD --server 127.0.0.1:$SINK --proxy "socks5://${auth}127.0.0.1:$PD"
  run plain0 --server 127.0.0.1:$Q0
  run plainD --server 127.0.0.1:$QD
} > "$W/times"
kill $PIDS 2>/dev/null || true
bash "$HERE/../../testkit/servers/danted.sh" stop "$W/danted" >/dev/null
python3 - "$D" "$W/times" <<'PY'
import collections, statistics, sys
d = float(sys.argv[1]) / 1000
t = collections.defaultdict(list)
for line in open(sys.argv[2]):
    k, v = line.split()
    t[k].append(float(v))
m = {k: statistics.median(v) for k, v in t.items()}
for k in sorted(m):
    print(f"{k}: median {m[k] * 1000:.1f} ms over {len(t[k])} runs")
print(f"round trips, whole session through SOCKS5: {(m['socksD'] - m['socks0']) / (2 * d):.2f}")
print(f"round trips, whole session straight:       {(m['plainD'] - m['plain0']) / (2 * d):.2f}")
PY
rm -rf "$W"
