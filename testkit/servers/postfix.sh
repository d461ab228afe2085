#!/usr/bin/env bash
# A private Postfix instance for smtpc's tests: its own config, queue and
# log under $PFX; smtpd on 127.0.0.1:PORT with PIPELINING, SIZE, 8BITMIME,
# SMTPUTF8, DSN, CHUNKING, STARTTLS (the given certificate) and AUTH PLAIN,
# LOGIN, CRAM-MD5, SCRAM-SHA-256, SCRAM-SHA-1 via Cyrus sasldb (after
# STARTTLS only; Cyrus' SCRAM plugin, in libsasl2-modules, derives the
# SCRAM secrets from the password in sasldb). Every message is
# delivered by pipe(8) into $SAVE/<queue id>. /etc/postfix is only read.
# master(8) runs with -e MAX_SECONDS so it always exits by itself.
#
#   postfix.sh start PFX PORT CERT KEY SAVE [USER PASSWORD MAX_SECONDS]
#   postfix.sh stop PFX
# PFX_EXTRA in the environment: more main.cf lines (a test's limits).
# Needs root and the Debian packages postfix, sasl2-bin, libsasl2-modules.
set -euo pipefail
cmd=$1
PFX=$2
ETC=$PFX/etc

start() {
  local port=$3 cert=$4 key=$5 save=$6 user=${7:-bob} pass=${8:-hunter2} maxsecs=${9:-300}
  mkdir -p "$ETC/sasl" "$PFX/spool" "$PFX/data" "$save"
  chown postfix "$PFX/data"
  chmod 1777 "$save"
  cp "$cert" "$ETC/cert.pem"
  cp "$key" "$ETC/key.pem"
  chmod 600 "$ETC/key.pem"
  cat > "$ETC/store.sh" <<STORE
#!/bin/sh
# Write under a hidden name, then rename: readers never see half a message.
cat > "$save/.\$1.tmp" && mv "$save/.\$1.tmp" "$save/\$1"
STORE
  chmod 755 "$ETC/store.sh"
  cat > "$ETC/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $PFX/spool
data_directory = $PFX/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = pfx.test
mydomain = test
myorigin = \$myhostname
mydestination =
relayhost =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
default_transport = store
relay_transport = store
local_transport = store
virtual_transport = store
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP postfix-test
maillog_file = $PFX/maillog
maillog_file_prefixes = /var, /dev/stdout, $PFX
biff = no
smtpd_client_connection_rate_limit = 0
smtpd_error_sleep_time = 0
smtputf8_enable = yes
message_size_limit = 10485760
smtpd_tls_cert_file = $ETC/cert.pem
smtpd_tls_key_file = $ETC/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $ETC/sasl
smtpd_sasl_local_domain = \$myhostname
smtpd_sasl_security_options = noanonymous
CONF
  # Limits a test asks for (smtpd_recipient_limit, smtpd_timeout...), one
  # "name = value" per line.
  if [ -n "${PFX_EXTRA:-}" ]; then printf '%s\n' "$PFX_EXTRA" >> "$ETC/main.cf"; fi
  sed -e '/^smtp[[:space:]]\+inet/d' /etc/postfix/master.cf.proto \
    | awk '/^[a-z]/ && NF >= 8 && $5 == "y" { $5 = "n" } { print }' > "$ETC/master.cf"
  printf '127.0.0.1:%s inet n - n - - smtpd\n' "$port" >> "$ETC/master.cf"
  printf 'store unix - n n - - pipe\n  user=nobody argv=%s ${queue_id}\n' "$ETC/store.sh" >> "$ETC/master.cf"
  cat > "$ETC/sasl/smtpd.conf" <<SASL
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN
sasldb_path: $ETC/sasl/sasldb2
SASL
  echo "$pass" | saslpasswd2 -p -c -f "$ETC/sasl/sasldb2" -u pfx.test "$user"
  chown root:postfix "$ETC/sasl/sasldb2"
  chmod 640 "$ETC/sasl/sasldb2"
  # postfix(1) reports errors only to syslog or a tty: run it under script(1).
  script -qec "postfix -c $ETC check" /dev/null
  postconf -c "$ETC" -e "master_service_disable =" >/dev/null
  /usr/lib/postfix/sbin/master -c "$ETC" -w -e "$maxsecs"
}

case $cmd in
  start) start "$@" ;;
  stop) script -qec "postfix -c $ETC stop" /dev/null >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 start|stop PFX ..." >&2; exit 2 ;;
esac
