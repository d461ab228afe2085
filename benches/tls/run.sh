#!/usr/bin/env bash
# What TLS set-up costs, side by side in one run (docs/performance.md, "TLS
# set-up"):
#
#  1. one message per process through a private Postfix with STARTTLS and
#     AUTH PLAIN, wall time from start to exit, alternated, RUNS each:
#     smtpc and curl with the CA file alone, and with the system's roots
#     (SSL_CERT_FILE / --cacert naming a copy of the system's bundle with
#     the test CA added: the whole bundle is loaded, and the test server
#     verifies); msmtp, swaks and Python's smtplib as the bench's
#     oneshot.sh runs them;
#  2. the bench's oneshot.sh with SINK=postfix-tls and SINK=fastsink,
#     smtpc as its new client (round trips);
#  3. benches/tls/reconnect.c: connect, STARTTLS, AUTH, one message, QUIT,
#     N times on one handle and on N handles, with and without
#     smtpc_set_ca_file, with the system's roots, with and without
#     smtpc_take_over_system_roots, without verification and without TLS; and `openssl s_time` against `openssl s_server` with the
#     same certificate: the handshake's own cost.
#
#   benches/tls/run.sh BENCH_DIR     (the shared SMTP bench: oneshot.sh,
#                                     fastsink, ../servers/postfix_instance.sh)
#   env: RUNS=15 N=100 PORT=2627 SPORT=2655 PPORT=2656 SPORT2=2628
#        STEPS="oneshot bench reconnect"
#        BEFORE=path/to/an/older/smtpc   adds it to step 1, as "before"
# Needs: postfix, curl, msmtp, swaks, python3, gcc, openssl, /usr/bin/time.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH=$(cd "${1:?usage: run.sh BENCH_DIR}" && pwd)
RUNS=${RUNS:-15}; N=${N:-100}
PORT=${PORT:-2627}; SPORT=${SPORT:-2655}; PPORT=${PPORT:-2656}; SPORT2=${SPORT2:-2628}
STEPS=${STEPS:-oneshot bench reconnect}
W=${STATE:-/tmp/smtpc-tls-bench}
mkdir -p "$W"
export PFX=$W/pfx TLS_DIR=$W/tls PFX_MAX_SECONDS=1800
PFXSH=$BENCH/../servers/postfix_instance.sh
USER_=bench@pfx.bench.local PASS=bench

(cd "$ROOT" && cargo build --release --quiet -p smtpc -p smtpc-cli)
SMTPC=$ROOT/target/release/smtpc
gcc -O2 -Wall -o "$W/reconnect" "$HERE/reconnect.c" -I"$ROOT/include" \
  -L"$ROOT/target/release" -lsmtpc -Wl,-rpath,"$ROOT/target/release"
python3 "$BENCH/drivers/gen_msg.py" 1024 "$W" >/dev/null
MSG=$W/msg-1024.crlf.eml

stop() { "$PFXSH" stop >/dev/null 2>&1 || true; }
trap stop EXIT
"$PFXSH" start "$PORT" >"$W/pfx.log" 2>&1
CA=$TLS_DIR/cert.pem
# The system's bundle with the test CA: "the system's roots" for both.
BUNDLE=$W/bundle.pem
cat /etc/ssl/certs/ca-certificates.crt "$CA" >"$BUNDLE"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(openssl version)"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

if [[ " $STEPS " == *" oneshot "* ]]; then
  smtpc_() {
    env SMTPC_PASSWORD=$PASS "${BIN:-$SMTPC}" --server "127.0.0.1:$PORT" --user "$USER_" \
      --helo bench.local --from sender@bench.test --to rcpt@bench.test --quiet "$@" "$MSG"
  }
  curl_() {
    curl -sS --max-time 20 "smtp://127.0.0.1:$PORT/bench.local" --ssl-reqd "$@" \
      --user "$USER_:$PASS" --login-options AUTH=PLAIN --mail-from sender@bench.test \
      --mail-rcpt rcpt@bench.test -T "$MSG"
  }
  declare -A CMDS=(
    [smtpc_ca_file]="smtpc_ --ca-file $CA"
    [curl_ca_file]="curl_ --cacert $CA"
    [smtpc_system]="env SSL_CERT_FILE=$BUNDLE bash -c 'smtpc_'"
    [curl_system]="curl_ --cacert $BUNDLE"
    [msmtp_ca_file]="msmtp --host=127.0.0.1 --port=$PORT --tls=on --tls-starttls=on --tls-trust-file=$CA --auth=plain --user=$USER_ --passwordeval='echo $PASS' --domain=bench.local --from=sender@bench.test -- rcpt@bench.test <$MSG"
    [swaks_ca_file]="swaks --silent 2 --timeout 20 --server 127.0.0.1 --port $PORT --helo bench.local --from sender@bench.test --to rcpt@bench.test --data @$MSG --pipeline -tls --tls-ca-path $CA --tls-verify -a PLAIN -au $USER_ -ap $PASS"
  )
  export -f smtpc_ curl_; export SMTPC PORT USER_ PASS MSG
  ORDER="smtpc_ca_file curl_ca_file smtpc_system curl_system msmtp_ca_file swaks_ca_file"
  if [[ -n ${BEFORE:-} ]]; then
    CMDS[before_ca_file]="BIN=$BEFORE smtpc_ --ca-file $CA"
    CMDS[before_system]="env BIN=$BEFORE SSL_CERT_FILE=$BUNDLE bash -c 'smtpc_'"
    ORDER="$ORDER before_ca_file before_system"
  fi
  : >"$W/oneshot.rows"
  for ((i = 0; i < RUNS; i++)); do   # alternated, so drift hits all alike
    for c in $ORDER; do
      t0=$(date +%s%N)
      timeout 30 bash -c "${CMDS[$c]}" >/dev/null 2>"$W/err" || { echo "$c failed: $(head -c 300 "$W/err")" >&2; exit 1; }
      t1=$(date +%s%N)
      echo "$c $(( (t1 - t0) / 1000 ))" >>"$W/oneshot.rows"
    done
  done
  echo
  echo "One message per process, STARTTLS + AUTH PLAIN through Postfix, medians of $RUNS (ms, each started through bash -c):"
  echo
  echo "| client | roots | wall ms |"
  echo "|---|---|---:|"
  for c in $ORDER; do
    m=$(awk -v c="$c" '$1 == c {print $2 / 1000}' "$W/oneshot.rows" | median)
    echo "| ${c%%_*} | ${c#*_} | $m |"
  done
fi

if [[ " $STEPS " == *" bench "* ]]; then
  # The bench's harness, with smtpc as its new client, on ports of our own.
  for sink in postfix-tls fastsink; do
    if [[ $sink == postfix-tls ]]; then
      stop   # oneshot.sh starts its own Postfix
      cmd="SMTPC_PASSWORD=\$SASL_PASS $SMTPC --server 127.0.0.1:\$PORT --ca-file \"\$CA_FILE\" --user \"\$SASL_USER\" --helo bench.local --from sender@bench.test --to rcpt@bench.test --quiet \"\$MSG_CRLF\""
    else
      cmd="$SMTPC --server 127.0.0.1:\$PORT --tls none --helo bench.local --from sender@bench.test --to rcpt@bench.test --quiet \"\$MSG_CRLF\""
    fi
    (unset PFX TLS_DIR; SINK=$sink SPORT=$SPORT PPORT=$PPORT RUNS=${BENCH_RUNS:-7} \
      NEW_CLIENT_CMD="$cmd" "$BENCH/oneshot.sh" 2>/dev/null | sed -n '/^|/p')
    echo
  done
  "$PFXSH" start "$PORT" >"$W/pfx.log" 2>&1
fi

if [[ " $STEPS " == *" reconnect "* ]]; then
  export SMTPC_USER=$USER_ SMTPC_PASSWORD=$PASS
  echo "Reconnects: $N sessions (connect, STARTTLS, AUTH PLAIN, 1 KiB, QUIT), CPU (user + system) per session after the first:"
  echo
  echo "| handles | verification | roots | first session: CPU ms | wall ms | later sessions: CPU ms each | wall ms each |"
  echo "|---|---|---|---:|---:|---:|---:|"
  row() { awk -F'\t' '{printf "| %s | %s | %s | %s | %s | **%s** | %s |\n", ($1=="one" ? "one" : "one per session"), $2, $3, $5, $6, $7, $8}'; }
  for shape in one many; do
    "$W/reconnect" 127.0.0.1 "$PORT" "$N" $shape verify "$CA" | row
    SSL_CERT_FILE=$BUNDLE "$W/reconnect" 127.0.0.1 "$PORT" "$N" $shape verify | row
    TAKE_OVER=1 "$W/reconnect" 127.0.0.1 "$PORT" "$N" $shape verify "$CA" | row
    TAKE_OVER=1 SSL_CERT_FILE=$BUNDLE "$W/reconnect" 127.0.0.1 "$PORT" "$N" $shape verify | row
    "$W/reconnect" 127.0.0.1 "$PORT" "$N" $shape noverify | row
    "$W/reconnect" 127.0.0.1 "$PORT" "$N" $shape plain | row
  done
  # The handshake alone: OpenSSL's own client against its own server, the
  # same certificate (RSA 2048), TLS 1.3, a new session each time.
  timeout 120 openssl s_server -accept "127.0.0.1:$SPORT2" -cert "$CA" -key "$TLS_DIR/key.pem" -quiet \
    </dev/null >/dev/null 2>&1 &
  SRV=$!
  sleep 1
  /usr/bin/time -f "%U %S" -o "$W/stime.cpu" timeout 60 openssl s_time -connect "127.0.0.1:$SPORT2" \
    -new -time 10 >"$W/stime.out" 2>&1 || true
  kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true
  conns=$(awk '/connections in .* real seconds/ {print $1; exit}' "$W/stime.out")
  read -r u s <"$W/stime.cpu"
  echo
  echo "openssl s_time -new (handshake only): $conns handshakes, $(awk -v u="$u" -v s="$s" -v n="$conns" 'BEGIN{printf "%.3f", (u+s)*1000/n}') ms CPU (user + system) each"
fi
