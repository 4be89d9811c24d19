#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# demo-config.sh DIR: print the demo's configuration, which watches the
# private Dovecot started by dovecot-private.sh in DIR/dovecot in all six
# modes, plus a mailbox login. Ports come from MP_IMAP_PORT etc. as for
# dovecot-private.sh, the dashboard's from MP_DASHBOARD_PORT (default 8080).
# Used by scripts/demo.sh and by the daemon's tests.
set -euo pipefail
dir=${1:?usage: demo-config.sh DIR}
imap=${MP_IMAP_PORT:-10143} imaps=${MP_IMAPS_PORT:-10993}
pop3=${MP_POP3_PORT:-10110} pop3s=${MP_POP3S_PORT:-10995}
dash=${MP_DASHBOARD_PORT:-8080}
ca=$dir/dovecot/ca.crt
cat <<YAML
# The mailpulse demo: a private Dovecot on 127.0.0.1, watched in all six modes.
location: demo
store: $dir/mailpulse.db
http:
  listen: 127.0.0.1:$dash
  dashboard_url: http://127.0.0.1:$dash
defaults:
  interval: 30s
  timeout: 10s
  ca_file: $ca
  warn_ms: 500
  crit_ms: 5000
  notify: [log]
channels:
  # Every alert is appended, as JSON, to $dir/alerts.log.
  - name: log
    type: command
    command: [/bin/sh, -c, "cat >> '$dir/alerts.log'; echo >> '$dir/alerts.log'"]
checks:
  - {name: imap-plain, url: "imap://127.0.0.1:$imap", starttls: "no"}
  - {name: imap-starttls, url: "imap://localhost:$imap", starttls: require}
  - {name: imaps, url: "imaps://localhost:$imaps"}
  - {name: pop3-plain, url: "pop3://127.0.0.1:$pop3", starttls: "no"}
  - {name: pop3-stls, url: "pop3://localhost:$pop3", starttls: require}
  - {name: pop3s, url: "pop3s://localhost:$pop3s"}
  - name: imaps-mailbox
    url: "imaps://localhost:$imaps"
    login: mpuser
    password_file: $dir/dovecot/password
    labels: {kind: mailbox}
YAML
