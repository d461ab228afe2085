#!/usr/bin/env bash
# Two builds of examples/bench side by side against sinks: Postfix's
# smtp-sink (PIPELINING) and a sink with PIPELINING + CHUNKING (fastsink,
# from the shared bench directory; its binary as FASTSINK), with
# smtp-source -d as the reference. Alternated runs, each N 1 KiB messages
# over one connection; prints msgs/s per run and the medians.
#
#   benches/sinks_ab.sh BASE_BENCH NEW_BENCH      RUNS=7 N=2000 PORT=2731 FPORT=2735 FASTSINK=...
#
# The sinks run on CPU 0 and the clients on CPU 1 (unpinned runs are
# bimodal on a small VM); PIN=same puts the clients on CPU 0 too.
# Needs root (smtp-sink -u nobody). Not run by cargo test.
set -eu
BASE=$1; NEW=$2
RUNS=${RUNS:-7}; N=${N:-2000}; PORT=${PORT:-2731}; FPORT=${FPORT:-2735}
FASTSINK=${FASTSINK:-}
W=$(mktemp -d)
{ printf 'From: bench@client.test\r\nSubject: bench\r\n\r\n'
  for i in $(seq 12); do printf '%078d\r\n' 0; done; } > "$W/m.eml"
tr -d '\r' < "$W/m.eml" > "$W/m.lf"
PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null || true; done; rm -rf "$W"' EXIT
CCPU=1; [[ ${PIN:-split} == same ]] && CCPU=0
timeout 1200 taskset -c 0 /usr/sbin/smtp-sink -u nobody -h sink.test 127.0.0.1:$PORT 1024 & PIDS="$PIDS $!"
[[ -n $FASTSINK ]] && { timeout 1200 taskset -c 0 "$FASTSINK" --port $FPORT --max-seconds 1200 >/dev/null & PIDS="$PIDS $!"; }
sleep 1
rate() {  # rate CMD...: msgs/s from wall time
  local s e; s=$(date +%s.%N); taskset -c $CCPU "$@" >/dev/null || { echo fail; return; }; e=$(date +%s.%N)
  echo "$N / ($e - $s)" | bc -l | xargs printf '%.0f\n'
}
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for sink in smtp-sink fastsink; do
  p=$PORT; [[ $sink == fastsink ]] && { [[ -n $FASTSINK ]] || continue; p=$FPORT; }
  : > "$W/base"; : > "$W/new"; : > "$W/src"
  for r in $(seq "$RUNS"); do
    rate "$BASE" --server 127.0.0.1:$p --count $N --message "$W/m.eml" >> "$W/base"
    rate "$NEW" --server 127.0.0.1:$p --count $N --message "$W/m.eml" >> "$W/new"
    rate /usr/sbin/smtp-source -s 1 -m $N -d -F "$W/m.lf" -f a@client.test -t b@sink.test 127.0.0.1:$p >> "$W/src"
  done
  b=$(med < "$W/base"); n=$(med < "$W/new"); s=$(med < "$W/src")
  echo "$sink: base $(tr '\n' ' ' < "$W/base")| new $(tr '\n' ' ' < "$W/new")| smtp-source $(tr '\n' ' ' < "$W/src")"
  echo "$sink: medians base $b, new $n, smtp-source $s msgs/s; base/smtp-source $(echo "$b/$s" | bc -l | xargs printf '%.2f'), new/smtp-source $(echo "$n/$s" | bc -l | xargs printf '%.2f'), new/base $(echo "$n/$b" | bc -l | xargs printf '%.2f')"
done
