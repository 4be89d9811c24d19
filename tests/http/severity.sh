#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Availability apart from severity, as an admin lives it. A POP3S server
# whose certificate expires in 5 days (cert_crit_days 7): the admin is
# alerted at critical, yet users still connect, so the check is degraded,
# not down: no incident, 100 % uptime, "operational" on the public status
# page with a certificate notice, and critical in the API and /metrics. A
# plain POP3 server that offers USER before TLS under the default posture
# (report): up, and its finding reaches the API, `mailpulse status`,
# /metrics and the dashboard's data, not only the CLI.
. "$(dirname "$0")/lib.sh"

start_http_sink
mkdir -p "$tmp/certs"
day=86400
"$CERTGEN" --out "$tmp/certs/ca" --cn "mp severity CA" --ca >/dev/null
"$CERTGEN" --out "$tmp/certs/leaf" --cn localhost --issuer "$tmp/certs/ca" \
	--san DNS:localhost,IP:127.0.0.1 --from -$((60 * day)) --to $((5 * day + 3600)) >/dev/null
tls_port=$(free_port)
"$FAKESRV" --port "$tls_port" --certs "$tmp/certs" --max-conns 100000 --lifetime 120 \
	"$here/../daemon/pop3s_ok.scn" 2>>"$tmp/pop3s.log" &
pids+=("$!")
wait_for 5 "POP3S server on $tls_port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$tls_port"
start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hp", dashboard_url: "http://127.0.0.1:$hp",
  public_status: {enabled: true, title: "Mail", checks: [tier=public]}}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook"}
checks:
  - {name: cert, url: "pop3s://127.0.0.1:$tls_port", ca_file: $tmp/certs/ca.crt,
     labels: [tier=public], notify: [hook]}
  - {name: plain, url: "pop3://127.0.0.1:$pop3_port", labels: [tier=public], notify: [hook]}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
start_http_daemon "$tmp/mp.yaml" "$hp"

wait_for 20 "cert degraded" api_state_is cert degraded
wait_for 10 "plain up" api_state_is plain up
curl -sf "$base/api/v1/checks/cert" >"$tmp/cert.json" || fail "GET cert"
jq -e '.severity == "critical" and .reason == "cert_expiring" and .incident_open == false
	and .last.status == "degraded" and .last.severity == "critical"' "$tmp/cert.json" >/dev/null ||
	fail "cert: not degraded/critical without an incident: $(cat "$tmp/cert.json")"

# Alerted once, at critical, through the webhook: the admin is told.
wait_for 10 "the critical alert" test -s "$tmp/http.jsonl"
sleep 1
jq -s -e 'map(.body | fromjson | select(.check == "cert")) | length == 1 and
	(.[0] | .kind == "degraded" and .severity == "critical" and .status == "degraded"
	 and .reason == "cert_expiring" and .confirmed_by == 2)' "$tmp/http.jsonl" >/dev/null ||
	fail "no single critical alert for cert: $(cat "$tmp/http.jsonl")"
jq -s -e 'map(.body | fromjson | select(.check == "plain")) | length == 0' "$tmp/http.jsonl" \
	>/dev/null || fail "a finding under posture report alerted: $(cat "$tmp/http.jsonl")"

# Availability: nothing down, no incident, full uptime.
"$MAILPULSE" incidents cert --store "$tmp/mp.db" --json >"$tmp/inc.json" || fail "incidents"
jq -e '.incidents | length == 0' "$tmp/inc.json" >/dev/null ||
	fail "a certificate notice opened an incident: $(cat "$tmp/inc.json")"
"$MAILPULSE" uptime cert --store "$tmp/mp.db" --json >"$tmp/up.json" || fail "uptime"
jq -e '.probes >= 2 and .up == .probes and .uptime_pct == 100' "$tmp/up.json" >/dev/null ||
	fail "uptime counts a working service as down: $(cat "$tmp/up.json")"
"$MAILPULSE" history cert --store "$tmp/mp.db" --json >"$tmp/hist.json" || fail "history"
jq -e '[.results[] | .status == "degraded" and .severity == "critical"] | all and length >= 2' \
	"$tmp/hist.json" >/dev/null || fail "stored results lack the severity: $(cat "$tmp/hist.json")"

# The public page: operational, with the notice; the dashboard's data: critical.
curl -sf "$base/status" >"$tmp/status.html" || fail "GET /status"
grep -q '<td class="name">cert</td><td><span class="badge s-up">operational</span> <span class="notice">certificate renewal due</span>' \
	"$tmp/status.html" || fail "/status: cert not operational with a notice: $(cat "$tmp/status.html")"
grep -q '<td class="name">plain</td><td><span class="badge s-up">operational</span></td>' \
	"$tmp/status.html" || fail "/status: plain not operational"

# /metrics: the severity beside the state, success counted, the finding counted.
curl -sf "$base/metrics" >"$tmp/metrics" || fail "GET /metrics"
for want in 'mailpulse_check_severity{check="cert",location="e2e",severity="critical"} 1' \
	'mailpulse_check_severity{check="cert",location="e2e",severity="ok"} 0' \
	'mailpulse_check_state{check="cert",location="e2e",state="degraded"} 1' \
	'mailpulse_probe_success{check="cert",location="e2e"} 1' \
	'mailpulse_probe_warnings{check="plain",location="e2e"} 1' \
	'mailpulse_check_severity{check="plain",location="e2e",severity="ok"} 1'; do
	grep -qxF "$want" "$tmp/metrics" || fail "/metrics lacks: $want"
done

# The finding: in the API and in `mailpulse status`, and the state stays up.
curl -sf "$base/api/v1/checks/plain" >"$tmp/plain.json" || fail "GET plain"
jq -e '.state == "up" and .severity == "ok" and (.last.warnings | length == 1)
	and (.last.warnings[0] | test("USER"))' "$tmp/plain.json" >/dev/null ||
	fail "plain: the finding did not reach the API: $(cat "$tmp/plain.json")"
"$MAILPULSE" status --store "$tmp/mp.db" >"$tmp/status.txt" || fail "mailpulse status"
grep -E '^plain +UP .*warning: .*USER' "$tmp/status.txt" >/dev/null ||
	fail "mailpulse status hides the finding: $(cat "$tmp/status.txt")"
grep -E '^cert +DEGRADED/CRITICAL ' "$tmp/status.txt" >/dev/null ||
	fail "mailpulse status does not say critical: $(cat "$tmp/status.txt")"
kill -0 "$daemon_pid" || fail "the daemon died"
echo "severity: ok"
