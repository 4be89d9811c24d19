#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# SIGHUP re-reads CA files: a check that is down because its ca_file holds
# the wrong CA comes up once the file is fixed and the daemon reloaded,
# with the configuration itself unchanged. (TLS contexts and the verdicts
# they cache are renewed on reload; see verify.h.)
. "$(dirname "$0")/lib.sh"

"$CERTGEN" --out "$tmp/right" --cn "mp right CA" --ca >/dev/null
"$CERTGEN" --out "$tmp/wrong" --cn "mp wrong CA" --ca >/dev/null
"$CERTGEN" --out "$tmp/leaf" --cn localhost --issuer "$tmp/right" \
	--san DNS:localhost,IP:127.0.0.1 >/dev/null
cp "$tmp/wrong.crt" "$tmp/ca.pem"

port=$(free_port)
"$FAKESRV" --port "$port" --certs "$tmp" --max-conns 100000 --lifetime 120 \
	"$(dirname "$0")/pop3s_ok.scn" 2>>"$tmp/fakesrv.log" &
pids+=("$!")
wait_for 5 "TLS server listening on $port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"

cat >"$tmp/mp.yaml" <<YAML
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 5s, fail_after: 1}
checks:
  - {name: tls, url: "pop3s://127.0.0.1:$port", ca_file: "$tmp/ca.pem"}
YAML
start_daemon "$tmp/mp.yaml"
probe() { bash -c "$(declare -f status_json state_is); tmp=$tmp MAILPULSE=$MAILPULSE; state_is tls $1"; }
wait_for 15 "down with the wrong CA" probe down
"$MAILPULSE" history tls --store "$tmp/mp.db" --json --limit 1 |
	jq -e '.results[0].reason == "cert_untrusted"' >/dev/null ||
	fail "the wrong CA should give cert_untrusted"

# Fixed on disk only: without a reload the daemon keeps what it read.
cp "$tmp/right.crt" "$tmp/ca.pem"
sleep 2
state_is tls down || fail "the CA file was re-read without a reload"

kill -HUP "$daemon_pid"
wait_for 10 "reload logged" grep -q 'reloaded: 1 checks (0 added, 0 changed, 0 removed)' "$tmp/daemon.log"
wait_for 15 "up after the reload" probe up
kill -0 "$daemon_pid" || fail "daemon died"
echo "ok: a fixed CA file takes effect on reload"
