#!/usr/bin/env bash
# Round trips per message of the smtpc bench client, through the delaying
# proxy of ../shared/bench (DELAY ms each way), against Postfix's smtp-sink
# (PIPELINING only) and the benchmark's fastsink (PIPELINING and CHUNKING),
# for a batch and for one send per message.
#
#   benches/round_trips.sh          (N=50 DELAY=20; loopback only, ~1 min)
#
# Needs: the bench client built at $BENCH (cargo build --release --example
# bench), fastsink and delayproxy built by ../shared/bench (large.sh or
# rtt.sh build them), /usr/sbin/smtp-sink. Every process stops by itself.
set -euo pipefail
FS=${FS:-/tmp/smtp-bench/build/fastsink/release}
BENCH=${BENCH:-$(dirname "$0")/../target/release/examples/bench}
MSG=${MSG:-/tmp/smtp-bench/msg-1024.crlf.eml}
N=${N:-50}
DELAY=${DELAY:-20}
[ -f "$MSG" ] || head -c 1000 /dev/zero | tr '\0' 'x' | fold -w 78 | sed 's/$/\r/' > "$MSG"
timeout 300 /usr/sbin/smtp-sink -u nobody 127.0.0.1:2651 256 >/dev/null 2>&1 &
timeout 300 "$FS/fastsink" --port 2652 --max-seconds 300 >/dev/null 2>&1 &
for s in 2651 2652; do
  timeout 300 "$FS/delayproxy" --listen $((s + 100)) --target $s --delay-ms "$DELAY" --max-seconds 300 >/dev/null 2>&1 &
done
trap 'kill $(jobs -p) 2>/dev/null' EXIT
sleep 1
seconds() { # run the client, print its wall time
  local s e
  s=$(date +%s.%N)
  "$BENCH" "$@" >/dev/null
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}
for s in 2651 2652; do
  name=$([ $s = 2651 ] && echo "smtp-sink (PIPELINING)" || echo "fastsink (PIPELINING+CHUNKING)")
  for mode in batch single; do
    flag=()
    [ $mode = single ] && flag=(--one-at-a-time)
    run() { seconds --server "127.0.0.1:$1" --count "$2" --message "$MSG" "${flag[@]}"; }
    # Through the proxy minus straight to the sink, N messages minus 1 (the
    # set-up's round trips cancel out), over one round trip (2 x DELAY).
    d=$(run $((s + 100)) "$N"); z=$(run $s "$N")
    d1=$(run $((s + 100)) 1); z1=$(run $s 1)
    rt=$(echo "scale=2; (($d - $z) - ($d1 - $z1)) / ($N - 1) / (2 * $DELAY / 1000)" | bc)
    echo "$name, $mode: $rt round trips per message"
  done
done
