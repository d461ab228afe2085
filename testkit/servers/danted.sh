#!/usr/bin/env bash
# danted.sh - a private Dante SOCKS5 proxy on 127.0.0.1:PORT and [::1]:PORT for the tests.
#
#   danted.sh start DIR PORT [none|username|both] [MAX_SECONDS]   background; stops by itself
#   danted.sh stop DIR
#
# Only CONNECT to 127.0.0.1 and ::1 (any port) is let through; anything else gets SOCKS5
# reply 02 "connection not allowed by ruleset". Modes: none = no authentication; username =
# RFC 1929 user/password only (socksuser/sockspass, or DANTED_USER/DANTED_PASS); both = the
# client may pick either.
# Dante's `username` method checks the system user database (getpwnam/getspnam). So as not to
# touch the host's /etc/passwd, the daemon runs in a private mount namespace (unshare -m) where
# /etc/passwd and /etc/shadow are bind-mounted copies with the extra user.
# Needs root, danted (Debian: dante-server), openssl, unshare and ss. Everything is in DIR.
set -eu
cmd=${1:-}; D=${2:-}
[[ -n $cmd && -n $D ]] || { echo "usage: $0 start DIR PORT [MODE] [MAX_SECONDS] | stop DIR" >&2; exit 2; }
USER_=${DANTED_USER:-socksuser}; PASS=${DANTED_PASS:-sockspass}

pid() { [[ -f $D/danted.pid ]] && p=$(cat "$D/danted.pid") && [[ $(cat /proc/"$p"/comm 2>/dev/null) == danted ]]; }

start() {
  PORT=${1:?port}; MODE=${2:-none}; MAXSECS=${3:-300}
  case $MODE in none) meth=none ;; username) meth=username ;; both) meth="username none" ;;
    *) echo "mode must be none, username or both" >&2; exit 2 ;; esac
  mkdir -p "$D"; : > "$D/danted.log"
  cat > "$D/danted.conf" <<CONF
logoutput: $D/danted.log
internal: 127.0.0.1 port = $PORT
internal: ::1 port = $PORT
external: 127.0.0.1
external: ::1
external.rotation: route
clientmethod: none
socksmethod: $meth
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0/0
  log: error
}
client pass {
  from: ::1/128 to: 0/0
  log: error
}
client block {
  from: 0/0 to: 0/0
  log: connect error
}
socks pass {
  from: 0/0 to: 127.0.0.1/32
  command: connect
  log: connect disconnect error
}
socks pass {
  from: 0/0 to: ::1/128
  command: connect
  log: connect disconnect error
}
socks block {
  from: 0/0 to: 0/0
  log: connect error
}
CONF
  danted -V -f "$D/danted.conf" || { cat "$D/danted.log" >&2; exit 1; }
  grep -v "^$USER_:" /etc/passwd > "$D/passwd"
  echo "$USER_:x:64999:65534:SOCKS test user:/nonexistent:/usr/sbin/nologin" >> "$D/passwd"
  (umask 077; echo "$USER_:$(openssl passwd -6 "$PASS"):19000:0:99999:7:::" > "$D/shadow")
  rm -f "$D/danted.pid"
  unshare -m --propagation private sh -c 'mount --bind "$1/passwd" /etc/passwd &&
    mount --bind "$1/shadow" /etc/shadow &&
    exec timeout --kill-after=5 "$2" danted -f "$1/danted.conf" -p "$1/danted.pid"' \
    sh "$D" "$MAXSECS" > "$D/danted.out" 2>&1 < /dev/null &
  listening() { [[ -n $(ss -Hltn "sport = :$PORT") && -s $D/danted.pid ]]; }
  for _ in $(seq 1 100); do listening && break; sleep 0.1; done
  listening || { cat "$D/danted.out" "$D/danted.log" >&2; exit 1; }
  echo "danted started: pid $(cat "$D/danted.pid"), port $PORT, mode $MODE, log $D/danted.log"
}

case $cmd in
  start) shift 2; start "$@" ;;
  stop)
    if pid; then
      kill "$p"; for _ in $(seq 1 50); do [[ -e /proc/$p ]] || break; sleep 0.1; done
      echo "danted $p stopped"
    else echo "danted in $D not running"; fi ;;
  *) echo "usage: $0 start DIR PORT [MODE] [MAX_SECONDS] | stop DIR" >&2; exit 2 ;;
esac
