#!/usr/bin/env bash
# The demo: install what is missing, build, start a private Dovecot on
# 127.0.0.1 (high ports, certificates made on the spot) and probe it with
# `mailpulse check` in all six modes and with a mailbox login; then run the
# monitor itself (`mailpulse run`) on a demo configuration that watches it,
# with its dashboard on 127.0.0.1:8080, in the foreground (Ctrl-C stops it).
# Everything lives in .demo/; `scripts/demo.sh stop` stops the Dovecot.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
demo=$top/.demo

if [ "${1:-}" = stop ]; then
  scripts/dovecot-private.sh stop "$demo/dovecot"
  exit 0
fi

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null

export CERTGEN=$top/build/tests/certgen/certgen
export MP_IMAP_PORT=10143 MP_IMAPS_PORT=10993 MP_POP3_PORT=10110 MP_POP3S_PORT=10995
export MP_DOVECOT_PASSWORD=${MP_DOVECOT_PASSWORD:-mp-secret-pass}
scripts/dovecot-private.sh start "$demo/dovecot" >/dev/null
ca=$demo/dovecot/ca.crt
mp=$top/build/mailpulse

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
echo "(.demo/mailpulse.yaml: every mode above, every 30 s; history in .demo/mailpulse.db)."
scripts/demo-config.sh "$demo" >"$demo/mailpulse.yaml"
echo "  dashboard:  http://127.0.0.1:8080/   (JSON API under /api/v1, Prometheus /metrics)"
echo "  elsewhere:  $mp status -c $demo/mailpulse.yaml"
echo "  alerts:     $demo/alerts.log   (stop Dovecot with 'scripts/demo.sh stop' to see one)"
echo "  Ctrl-C stops the monitor; 'scripts/demo.sh stop' stops Dovecot."
echo
exec "$mp" run -c "$demo/mailpulse.yaml"
