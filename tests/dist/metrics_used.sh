#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The Prometheus rules and the Grafana dashboard (dist/) may only name series
# that a real daemon exports: start one with a healthy POP3S check (so the
# certificate and TLS series exist), a healthy POP3 one, one refused (probe
# failures by reason), a notification channel and a probing node that sent
# a heartbeat, scrape /metrics once every check is judged, and hand it to
# series_used.py. Then the checker itself must catch a rule naming a series
# that does not exist.
. "$(dirname "$0")/../http/lib.sh"
dist=$here/../../dist

command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: python3-yaml is not installed"; exit 77; }

"$CERTGEN" --out "$tmp/ca" --cn "mp test CA" --ca >/dev/null
"$CERTGEN" --out "$tmp/leaf" --cn localhost --issuer "$tmp/ca" \
	--san DNS:localhost,IP:127.0.0.1 >/dev/null
tls_port=$(free_port)
"$FAKESRV" --port "$tls_port" --certs "$tmp" --max-conns 100000 --lifetime 120 \
	"$here/../daemon/pop3s_ok.scn" 2>>"$tmp/fakesrv.log" &
pids+=("$!")
wait_for 5 "TLS server listening on $tls_port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$tls_port"
start_pop3 "$here/../daemon/pop3_ok.scn"
start_http_sink

hp=$(free_port)
# A probing node, so the node series exist; it sends one heartbeat below.
printf 'n1-node-token-0123456789\n' >"$tmp/n1.token"
chmod 600 "$tmp/n1.token"
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hp"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 1, starttls: "no", notify: [ops]}
channels:
  - {name: ops, type: webhook, url: "http://127.0.0.1:$http_port/hook"}
nodes:
  - {name: n1, token_file: $tmp/n1.token}
checks:
  - {name: tls, url: "pop3s://127.0.0.1:$tls_port", ca_file: "$tmp/ca.crt"}
  - {name: plain, url: "pop3://127.0.0.1:$pop3_port"}
  - {name: dead, url: "pop3://127.0.0.1:1"}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 20 "every check judged and the tls one up" bash -c "curl -sf '$base/metrics' >'$tmp/m' &&
	grep -q 'mailpulse_check_state{check=\"dead\",location=\"e2e\",state=\"down\"} 1' '$tmp/m' &&
	grep -q 'mailpulse_check_state{check=\"plain\",location=\"e2e\",state=\"up\"} 1' '$tmp/m' &&
	grep -q 'mailpulse_check_state{check=\"tls\",location=\"e2e\",state=\"up\"} 1' '$tmp/m' &&
	grep -q '^mailpulse_cert_expiry_timestamp_seconds{check=\"tls\"' '$tmp/m'"
now=$(date +%s%3N)
curl -sf -o /dev/null -H "Authorization: Bearer n1-node-token-0123456789" -H 'Content-Type: application/json' \
	--data-binary '{"v": 1, "node": "n1", "version": "test", "started_ms": '"$now"', "sent_ms": '"$now"', "etag": null,
	  "checks": 0, "in_flight": 0, "spool_depth": 0, "spool_max": 1000, "spool_dropped": 0, "spool_oldest_ms": 0,
	  "canaries": [{"target": "controller", "status": "up", "reason": "ok", "message": "", "probe_ms": '"$now"', "failing": 0}]}' \
	"$base/api/v1/nodes/n1/heartbeat" || fail "n1's heartbeat"
curl -sf "$base/metrics" >"$tmp/metrics.txt" || fail "GET /metrics"
grep -qx 'mailpulse_node_spool_dropped_total{node="n1"} 0' "$tmp/metrics.txt" || fail "n1's heartbeat is not in /metrics"

rules=$dist/prometheus/mailpulse.rules.yml
dash=$dist/grafana/mailpulse.json
python3 "$here/series_used.py" "$tmp/metrics.txt" "$rules" "$dash" >"$tmp/used.out" 2>&1 ||
	fail "rules or dashboard name series the daemon does not export:
$(cat "$tmp/used.out")"
cat "$tmp/used.out"

# The checker must be able to fail: a rule on a series that does not exist,
# and one selecting a label value that never appears.
sed 's/mailpulse_store_write_failures_total/mailpulse_store_write_failure_total/' "$rules" \
	>"$tmp/typo.rules.yml"
if python3 "$here/series_used.py" "$tmp/metrics.txt" "$tmp/typo.rules.yml" >"$tmp/typo.out" 2>&1; then
	fail "series_used.py accepted a rule on mailpulse_store_write_failure_total"
fi
grep -q 'mailpulse_store_write_failure_total is not in /metrics' "$tmp/typo.out" ||
	fail "series_used.py did not name the missing series: $(cat "$tmp/typo.out")"
sed 's/state="down"/state="broken"/' "$rules" >"$tmp/label.rules.yml"
if python3 "$here/series_used.py" "$tmp/metrics.txt" "$tmp/label.rules.yml" >"$tmp/label.out" 2>&1; then
	fail "series_used.py accepted state=\"broken\""
fi
grep -q 'state="broken"' "$tmp/label.out" || fail "no word of state=\"broken\": $(cat "$tmp/label.out")"
echo "dist metrics_used: ok"
