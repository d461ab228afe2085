#!/usr/bin/env bash
# Issue 14's figures: what a message to 250 recipients costs on a server
# that takes 100 per transaction, and what a batch of 1,000 messages does
# on a server that closes the connection after every 100.
#
#   benches/delivery/measure.sh SMTPC_CLI BENCH_EXAMPLE [POSTFIX_INSTANCE_SH]
#
# SMTPC_CLI: target/release/smtpc; BENCH_EXAMPLE: target/release/examples/bench.
# POSTFIX_INSTANCE_SH (optional): a script that starts a private Postfix
# as `PFX=DIR PFX_RCPT_LIMIT=100 script start PORT` and stops it with
# `PFX=DIR script stop` (e.g. the shared servers' postfix_instance.sh);
# without it, only the scripted server is used.
#
# Round trips are counted through benches/reach/delayproxy.py, which delays
# each direction by 20 ms: (time through it - time straight) / 40 ms.
# Loopback only; every server stops by itself.
set -euo pipefail
cli=$(realpath "$1"); bench=$(realpath "$2"); pfx_sh=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); chmod 755 "$tmp"; trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
wait_port() { for _ in $(seq 100); do ss -ltn | grep -q ":$1 " && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
now() { date +%s.%N; }

printf 'From: a@example.org\r\nSubject: delivery\r\n\r\nHello.\r\n' > "$tmp/msg.eml"
to=(); for i in $(seq 250); do to+=(--to "r$i@example.org"); done

# One message, 250 recipients: transactions (MAIL commands), connections,
# and round trips, median of 5 runs each way.
one() { # PORT LABEL
  local port=$1 label=$2 d p
  "$cli" --server 127.0.0.1:"$port" --tls none --helo client.test --from a@example.org \
    "${to[@]}" --trace "$tmp/msg.eml" > "$tmp/trace" 2>&1
  printf '%s: transactions %s, connections %s, 452 replies %s\n' "$label" \
    "$(grep -c '^C: MAIL' "$tmp/trace")" "$(grep -c '^   connected' "$tmp/trace")" \
    "$(grep -c '^S: 452' "$tmp/trace")"
  python3 "$here/../reach/delayproxy.py" $((port + 1)) "$port" 20 & wait_port $((port + 1))
  for via in "$port" $((port + 1)); do
    for _ in 1 2 3 4 5; do
      local t0; t0=$(now)
      "$cli" --server 127.0.0.1:"$via" --tls none --helo client.test --from a@example.org "${to[@]}" "$tmp/msg.eml" > /dev/null
      echo "$(now) - $t0" | bc -l
    done | sort -n | sed -n 3p > "$tmp/t.$via"
  done
  kill %% 2>/dev/null || true
  d=$(cat "$tmp/t.$port"); p=$(cat "$tmp/t.$((port + 1))")
  printf '%s: straight %.1f ms, through the 20 ms proxy %.1f ms: %.2f round trips\n' \
    "$label" "$(echo "$d*1000" | bc -l)" "$(echo "$p*1000" | bc -l)" "$(echo "($p-$d)/0.040" | bc -l)"
}

port=2961
python3 "$here/limits_server.py" $port --rcpt-limit 100 --max-seconds 120 --stats "$tmp/stats" > /dev/null &
wait_port $port
one $port "scripted server, 100 recipients per transaction (DATA)"
echo "  stored: $(cat "$tmp/stats")"
kill %1 2>/dev/null || true

if [ -n "$pfx_sh" ]; then
  port=2971
  PFX="$tmp/pfx" PFX_RCPT_LIMIT=100 PFX_MAX_SECONDS=120 bash "$pfx_sh" setup $port > /dev/null
  PFX="$tmp/pfx" PFX_RCPT_LIMIT=100 PFX_MAX_SECONDS=120 bash "$pfx_sh" start $port > "$tmp/pfx.log" 2>&1 || { cat "$tmp/pfx.log"; exit 1; }
  wait_port $port
  one $port "Postfix, smtpd_recipient_limit = 100 (BDAT)"
  PFX="$tmp/pfx" bash "$pfx_sh" stop > /dev/null 2>&1 || true
fi

# 1,000 messages to a server that closes after every 100: what the batch
# reports and what the server stored.
port=2981
python3 "$here/limits_server.py" $port --messages-per-session 100 --max-seconds 120 --stats "$tmp/stats2" > /dev/null &
wait_port $port
out=$("$bench" --server 127.0.0.1:$port --count 1000 --message "$tmp/msg.eml")
echo "batch of 1,000, server closes after every 100: bench says: $out"
sleep 0.5
echo "  stored: $(cat "$tmp/stats2")"
