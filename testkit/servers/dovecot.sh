#!/usr/bin/env bash
# A private Dovecot that serves only LMTP, for smtpc's tests: on
# 127.0.0.1:PORT (TCP) and on the UNIX socket $DIR/run/lmtp. Its own
# config (dovecot -c), base_dir, state_dir and log under $DIR; no IMAP, no
# POP, no TLS; /etc/dovecot is not read. Runs under `timeout MAX_SECONDS`
# so it always stops by itself.
#
#   dovecot.sh start DIR PORT [MAX_SECONDS]   (in the background; waits until it listens)
#   dovecot.sh stop DIR
#
# Users (any domain; the local part is looked up in $DIR/users):
#   alice, bob  delivered to $DIR/mail/USER/Maildir/new/
#   full        quota of 1 byte: every delivery fails after the data,
#               "552 5.2.2 <full@...> Quota exceeded (mailbox for user is full)"
#   fulltmp     the same, temporary: "452 4.2.2 ..."
#   anyone else refused at RCPT: "550 5.1.1 <x@...> User doesn't exist: x@..."
# Needs root and the Debian packages dovecot-core and dovecot-lmtpd (mail is
# stored as user nobody).
set -euo pipefail
cmd=$1
D=$2

start() {
  local port=$1 maxsecs=${2:-300}
  mkdir -p "$D/run" "$D/state" "$D/mail"
  chown nobody:nogroup "$D/mail"
  cat > "$D/users" <<'EOF'
alice:{PLAIN}alice::::::
bob:{PLAIN}bob::::::
full:{PLAIN}full::::::userdb_quota_rule=*:storage=1B
fulltmp:{PLAIN}fulltmp::::::userdb_quota_rule=*:storage=1B userdb_quota_full_tempfail=yes
EOF
  cat > "$D/dovecot.conf" <<EOF
base_dir = $D/run
state_dir = $D/state
instance_name = smtpc-test-lmtp-$port
log_path = $D/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
hostname = lmtp.test
postmaster_address = postmaster@lmtp.test
first_valid_uid = 1
mail_uid = nobody
mail_gid = nogroup
mail_location = maildir:~/Maildir
mail_plugins = quota
passdb {
  driver = passwd-file
  args = username_format=%n $D/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $D/users
  default_fields = home=$D/mail/%n
}
plugin {
  quota = count:User quota
  quota_vsizes = yes
  # 0: no limit; full and fulltmp have their own in $D/users.
  quota_rule = *:storage=0
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $port
  }
  unix_listener lmtp {
    mode = 0666
  }
}
EOF
  : > "$D/dovecot.log"
  setsid timeout --kill-after=5 "$maxsecs" dovecot -F -c "$D/dovecot.conf" \
    > "$D/dovecot.out" 2>&1 < /dev/null &
  echo $! > "$D/timeout.pid"
  for _ in $(seq 1 100); do
    if [[ -S $D/run/lmtp ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  cat "$D/dovecot.out" "$D/dovecot.log" >&2
  exit 1
}

stop() {
  # TERM to timeout, which passes it on to dovecot; then wait until
  # dovecot (and the services it started) are gone.
  if [[ -f $D/timeout.pid ]]; then
    kill "$(cat "$D/timeout.pid")" 2>/dev/null || true
  fi
  pkill -TERM -f "dovecot -F -c $D/dovecot.conf" 2>/dev/null || true
  for _ in $(seq 1 50); do
    pgrep -f "dovecot -F -c $D/dovecot.conf" >/dev/null || return 0
    sleep 0.1
  done
  pkill -KILL -f "dovecot -F -c $D/dovecot.conf" 2>/dev/null || true
}

case $cmd in
  start) start "${@:3}" ;;
  stop) stop ;;
  *) echo "usage: $0 start DIR PORT [MAX_SECONDS] | stop DIR" >&2; exit 2 ;;
esac
