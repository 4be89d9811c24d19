#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The demo: install what is missing, build, start a private Dovecot on
# 127.0.0.1 (high ports, certificates made on the spot) and probe it with
# `mailpulse check` in all six modes and with a mailbox login; then run the
# monitor itself (`mailpulse run`) on a demo configuration that watches it,
# with its dashboard on 127.0.0.1, in the foreground (Ctrl-C stops it).
# Everything lives in .demo/; `scripts/demo.sh stop` stops the Dovecot.
#
# Environment (all optional):
#   MP_IMAP_PORT, MP_IMAPS_PORT   Dovecot's IMAP and IMAPS ports (10143, 10993)
#   MP_POP3_PORT, MP_POP3S_PORT   Dovecot's POP3 and POP3S ports (10110, 10995)
#   MP_DASHBOARD_PORT             the dashboard's port (8080)
#     A port given here must be free. A default that is taken is replaced
#     by the next free port above it, and the demo says so.
#   MP_DEMO_DIR                   instead of .demo/ (an absolute path)
#   MAILPULSE, CERTGEN            binaries already built: then nothing is
#                                 installed or built (the tests use this)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
demo=${MP_DEMO_DIR:-$top/.demo}

die() {
  echo "demo: $*" >&2
  exit 1
}

# True when something accepts TCP connections on the port, on 127.0.0.1 or ::1.
port_open() {
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null ||
    timeout 1 bash -c "exec 3<>/dev/tcp/::1/$1" 2>/dev/null
}

# pick VAR DEFAULT WHAT: set and export VAR to the port to use: the one VAR
# names, which must be free, or DEFAULT, or when that is taken the next free
# port above it (none already picked).
picked=" "
pick() {
  local var=$1 def=$2 what=$3 p
  if [ -n "${!var:-}" ]; then
    p=${!var}
    case "$p" in '' | *[!0-9]*) die "$var must be a port number, got '$p'" ;; esac
    if [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then die "$var out of range: $p"; fi
    if port_open "$p"; then
      die "$what: port $p (from $var) is in use by another program; set $var to a free port, or unset it to let the demo choose"
    fi
  else
    p=$def
    while port_open "$p" || [[ $picked == *" $p "* ]]; do
      p=$((p + 1))
      [ "$p" -le $((def + 200)) ] || die "$what: ports $def to $((p - 1)) are all in use; set $var to a free port"
    done
    if [ "$p" != "$def" ]; then
      echo "Port $def is in use: $what on 127.0.0.1:$p instead (set $var to choose)."
    fi
  fi
  picked+="$p "
  printf -v "$var" %s "$p"
  export "${var?}"
}

if [ "${1:-}" = stop ]; then
  scripts/dovecot-private.sh stop "$demo/dovecot"
  exit 0
fi

if [ -n "${MAILPULSE:-}" ]; then
  [ -x "$MAILPULSE" ] || die "MAILPULSE=$MAILPULSE is not an executable"
  if [ -z "${CERTGEN:-}" ] || [ ! -x "$CERTGEN" ]; then
    die "with MAILPULSE, set CERTGEN to the certgen binary too"
  fi
  mp=$MAILPULSE
else
  scripts/deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j2 >/dev/null
  export CERTGEN=$top/build/tests/certgen/certgen
  mp=$top/build/mailpulse
fi

# The last demo's Dovecot holds its ports: stop it, so they can be used again.
scripts/dovecot-private.sh stop "$demo/dovecot" >/dev/null
pick MP_IMAP_PORT 10143 IMAP
pick MP_IMAPS_PORT 10993 IMAPS
pick MP_POP3_PORT 10110 POP3
pick MP_POP3S_PORT 10995 POP3S
pick MP_DASHBOARD_PORT 8080 "the dashboard"
export MP_DOVECOT_PASSWORD=${MP_DOVECOT_PASSWORD:-mp-secret-pass}
mkdir -p "$demo"
scripts/dovecot-private.sh start "$demo/dovecot" >/dev/null
ca=$demo/dovecot/ca.crt

echo "Private Dovecot on 127.0.0.1 (CA: $ca). Probing it in all six modes:"
echo
set +e
"$mp" check --ca-file "$ca" --starttls no imap://127.0.0.1:$MP_IMAP_PORT \
  pop3://127.0.0.1:$MP_POP3_PORT
"$mp" check --ca-file "$ca" --starttls require imap://localhost:$MP_IMAP_PORT \
  pop3://localhost:$MP_POP3_PORT imaps://localhost:$MP_IMAPS_PORT \
  pop3s://localhost:$MP_POP3S_PORT
echo
echo "A mailbox check (login, EXAMINE INBOX), verbose:"
printf '%s\n' "$MP_DOVECOT_PASSWORD" > "$demo/password"
chmod 600 "$demo/password"
"$mp" check -v --ca-file "$ca" --login mpuser --password-file "$demo/password" \
  imaps://localhost:$MP_IMAPS_PORT
echo
echo "As a Nagios plugin:"
"$mp" check --nagios --ca-file "$ca" --warn-ms 500 --crit-ms 2000 pop3s://localhost:$MP_POP3S_PORT
echo "exit code: $?"
echo
echo
echo "Now the monitor itself: mailpulse run, on the demo configuration"
echo "($demo/mailpulse.yaml: every mode above, every 30 s; history in $demo/mailpulse.db)."
scripts/demo-config.sh "$demo" >"$demo/mailpulse.yaml"
echo "  dashboard:  http://127.0.0.1:$MP_DASHBOARD_PORT/   (JSON API under /api/v1, Prometheus /metrics)"
echo "  elsewhere:  $mp status -c $demo/mailpulse.yaml"
echo "  alerts:     $demo/alerts.log   (stop Dovecot with 'scripts/demo.sh stop' to see one)"
echo "  Ctrl-C stops the monitor; 'scripts/demo.sh stop' stops Dovecot."
echo
exec "$mp" run -c "$demo/mailpulse.yaml"
