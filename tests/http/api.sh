#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The JSON API, /metrics, /healthz and the dashboard's files without a
# token: every endpoint, the shape of the JSON, status codes 200/202/400/
# 403/404/405/413, malformed and oversized requests (the daemon must keep
# serving), IPv6 and a listen address changed by reload.
. "$(dirname "$0")/lib.sh"

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
write_conf "$tmp/mp.yaml" "{listen: \"127.0.0.1:$hp\"}"
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 15 "pop-ok up" api_state_is pop-ok up
wait_for 15 "pop-dead down" api_state_is pop-dead down
# The store is written once a second: wait until it has the incident.
wait_for 5 "the incident in the store" bash -c \
	"curl -s '$base/api/v1/incidents' | jq -e '.incidents | length == 1'"

# ---- /healthz, pages, assets
[ "$(curl -s "$base/healthz")" = ok ] || fail "/healthz is not ok"
expect_code 200 GET /
grep -q 'data-page="overview"' "$tmp/body" || fail "/ is not the overview page"
expect_code 200 HEAD /
[ ! -s "$tmp/body" ] || grep -q '^HTTP/1.1 200' "$tmp/body" || fail "HEAD / sent a body"
for p in /incidents /certificates /check/pop-ok /static/app.js /static/style.css; do
	expect_code 200 GET "$p"
done
ct=$(curl -s -o /dev/null -w '%{content_type}' "$base/static/app.js")
[[ $ct == text/javascript* ]] || fail "app.js served as $ct"
hdrs=$(curl -s -D - -o /dev/null "$base/")
grep -qi '^content-security-policy:.*script-src .self.' <<<"$hdrs" || fail "no CSP on /: $hdrs"
grep -qi '^x-content-type-options: nosniff' <<<"$hdrs" || fail "no nosniff on /"
expect_error 404 GET /static/nope.js
expect_error 404 GET /static/overview.html
expect_error 404 GET /nope
expect_error 404 GET /api/v2/checks
expect_error 404 GET /api/v1/nope
expect_error 404 GET /status # the public page is off by default

# ---- GET /api/v1/checks
expect_code 200 GET /api/v1/checks
jq -e '
  (.checks | length == 2) and (.location == "e2e") and
  (.checks | map(.name) == ["pop-ok", "pop-dead"]) and
  all(.checks[]; (.url | type == "string") and (.labels | type == "array") and
      (.state | IN("up","degraded","down","pending")) and (.since | type == "string") and
      (.reason | type == "string") and has("message") and
      (.uptime_pct | has("24h") and has("7d") and has("30d")) and
      (.locations[0].location == "e2e")) and
  (.checks[0] | .state == "up" and .reason == "ok" and .labels == ["env=test","tier=gold"] and
      (.last | (.time_to_greeting_ms | type == "number") and .status == "up" and
       has("cert_days_left") and has("tls_version") and (.timings_ms | has("dns")))) and
  (.checks[1] | .state == "down" and .reason == "refused" and .incident_open == true)
' "$tmp/body" >/dev/null || fail "/api/v1/checks shape: $(cat "$tmp/body")"

# ---- GET /api/v1/checks/{name}
expect_code 200 GET /api/v1/checks/pop-ok
jq -e '.name == "pop-ok" and (.last.greeting | test("fakesrv ready")) and
       (.last.capabilities | index("USER") != null) and .tls == null and
       (.incidents | type == "array") and (.deliveries | type == "array")' "$tmp/body" \
	>/dev/null || fail "check detail: $(cat "$tmp/body")"
expect_code 200 GET /api/v1/checks/pop-dead
jq -e '.incidents | length == 1 and .[0].open == true and .[0].reason == "refused"' \
	"$tmp/body" >/dev/null || fail "pop-dead incidents: $(cat "$tmp/body")"
expect_error 404 GET /api/v1/checks/nope
expect_error 400 GET '/api/v1/checks/pop%00ok'
expect_error 400 GET '/api/v1/checks/pop%0aok'

# ---- results: from/to as ISO 8601 or unix ms, limit
wait_for 10 "two results of pop-ok stored" bash -c \
	"curl -s '$base/api/v1/checks/pop-ok/results' | jq -e '.results | length >= 2'"
expect_code 200 GET '/api/v1/checks/pop-ok/results?limit=2'
jq -e '.results | length == 2 and (.[0].ts_ms >= .[1].ts_ms) and (.[0].timings_ms | has("greeting"))' \
	"$tmp/body" >/dev/null || fail "results limit=2: $(cat "$tmp/body")"
now_ms=$(($(date +%s) * 1000))
expect_code 200 GET "/api/v1/checks/pop-ok/results?from=$((now_ms - 600000))&to=$((now_ms + 60000))"
jq -e '.results | length >= 1' "$tmp/body" >/dev/null || fail "results by unix ms: none"
expect_code 200 GET "/api/v1/checks/pop-ok/results?from=$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:%SZ)"
jq -e '.results | length >= 1' "$tmp/body" >/dev/null || fail "results by ISO 8601: none"
expect_code 200 GET "/api/v1/checks/pop-ok/results?from=2000-01-01T00:00:00.5%2B02:00&to=2000-01-02"
jq -e '.results == []' "$tmp/body" >/dev/null || fail "results in 2000 not empty"
expect_error 400 GET '/api/v1/checks/pop-ok/results?from=yesterday'
expect_error 400 GET '/api/v1/checks/pop-ok/results?from=2024-13-01'
expect_error 400 GET '/api/v1/checks/pop-ok/results?to=1&from=2'
expect_error 400 GET '/api/v1/checks/pop-ok/results?limit=10001'
expect_error 400 GET '/api/v1/checks/pop-ok/results?limit=-1'
expect_error 400 GET '/api/v1/incidents?limit=0'
expect_error 400 GET '/api/v1/incidents?limit=12x'
expect_code 200 GET '/api/v1/incidents?limit=1'
expect_error 400 GET '/api/v1/checks/pop-ok/results?limit=ten'
expect_error 400 GET '/api/v1/checks/pop-ok/results?from=2026-02-29'
# An unknown parameter is named with the ones that are known.
expect_error 400 GET '/api/v1/checks/pop-ok/results?limit=2&frm=1'
jq -e '.detail == "unknown parameter \"frm\"; known: from, to, limit"' "$tmp/body" >/dev/null ||
	fail "unknown parameter: $(cat "$tmp/body")"
expect_error 400 GET '/api/v1/checks/pop-ok/uptime?windw=1d'
jq -e '.detail | endswith("known: window, by")' "$tmp/body" >/dev/null ||
	fail "unknown uptime parameter: $(cat "$tmp/body")"
expect_error 400 GET '/api/v1/incidents?sinse=1'
jq -e '.detail | endswith("known: check, since, limit")' "$tmp/body" >/dev/null ||
	fail "unknown incidents parameter: $(cat "$tmp/body")"
expect_error 400 GET '/api/v1/checks/pop-ok/results?lmit=10'
expect_error 400 GET '/api/v1/checks/pop-ok/results?%zz'
expect_code 200 GET '/api/v1/checks/pop-ok/results?limit=10000'
expect_error 404 GET '/api/v1/checks/nope/results'

# ---- uptime
expect_code 200 GET '/api/v1/checks/pop-ok/uptime?window=24h'
jq -e '.uptime_pct == 100 and .probes >= 1 and .window_ms == 86400000' "$tmp/body" >/dev/null ||
	fail "uptime 24h: $(cat "$tmp/body")"
expect_code 200 GET '/api/v1/checks/pop-dead/uptime?window=7d&by=day'
jq -e '.uptime_pct == 0 and (.days | length == 7) and (.days[-1].probes >= 1)' "$tmp/body" \
	>/dev/null || fail "uptime 7d by day: $(cat "$tmp/body")"
expect_code 200 GET '/api/v1/checks/pop-ok/uptime'
for bad in 'window=forever' 'window=0h' 'window=401d' 'window=1y' 'by=week' 'window=12h&by=day' 'windw=1d'; do
	expect_error 400 GET "/api/v1/checks/pop-ok/uptime?$bad"
done

# ---- incidents
expect_code 200 GET /api/v1/incidents
jq -e '.incidents | length == 1 and .[0].check == "pop-dead" and .[0].open and .[0].duration_ms >= 0' \
	"$tmp/body" >/dev/null || fail "incidents: $(cat "$tmp/body")"
expect_code 200 GET '/api/v1/incidents?check=pop-ok&limit=5'
jq -e '.incidents == []' "$tmp/body" >/dev/null || fail "pop-ok has incidents"
expect_error 400 GET '/api/v1/incidents?check=a/b'
expect_error 400 GET '/api/v1/incidents?since=soon'
expect_error 400 GET '/api/v1/incidents?limit=0'

# ---- health
expect_code 200 GET /api/v1/health
jq -e '.checks == 2 and .probes_finished >= 2' "$tmp/body" >/dev/null || fail "health: $(cat "$tmp/body")"

# ---- POST run (no token, loopback listener: allowed)
before=$(curl -s "$base/api/v1/checks/pop-ok" | jq .probes)
expect_code 202 POST /api/v1/checks/pop-ok/run
jq -e '.check == "pop-ok" and .started == true' "$tmp/body" >/dev/null || fail "run body"
wait_for 5 "the probe ran" bash -c "[ \$(curl -s '$base/api/v1/checks/pop-ok' | jq .probes) -gt $before ]"
expect_error 404 POST /api/v1/checks/nope/run
expect_error 403 POST /api/v1/checks/pop-ok/run -H 'Origin: http://evil.example'
expect_code 202 POST /api/v1/checks/pop-ok/run -H "Origin: http://127.0.0.1:$hp"

# ---- methods
expect_error 405 GET /api/v1/checks/pop-ok/run
expect_error 405 POST /api/v1/checks
expect_error 405 DELETE /api/v1/checks/pop-ok
expect_error 405 PUT /metrics
allow=$(curl -s -D - -o /dev/null -X DELETE "$base/api/v1/checks" | tr -d '\r' | grep -i '^allow:')
[ "$allow" = "Allow: GET, HEAD" ] || fail "405 without Allow: GET, HEAD ($allow)"

# ---- /metrics
expect_code 200 GET /metrics
ct=$(curl -s -o /dev/null -w '%{content_type}' "$base/metrics")
[[ $ct == "text/plain; version=0.0.4"* ]] || fail "/metrics content type $ct"
grep -qx 'mailpulse_probe_success{check="pop-ok",location="e2e"} 1' "$tmp/body" || fail "no probe_success 1"
grep -qx 'mailpulse_probe_success{check="pop-dead",location="e2e"} 0' "$tmp/body" || fail "no probe_success 0"
grep -qx 'mailpulse_check_state{check="pop-dead",location="e2e",state="down"} 1' "$tmp/body" || fail "no state down"
grep -q '^mailpulse_probe_failures_total{check="pop-dead",location="e2e",reason="refused"} [1-9]' "$tmp/body" || fail "no failures_total"
grep -q '^mailpulse_probe_duration_seconds{check="pop-ok",location="e2e",phase="greeting"} ' "$tmp/body" || fail "no phase duration"
grep -q '^mailpulse_build_info{version="' "$tmp/body" || fail "no build_info"
for m in probes_in_flight probes_waiting; do
	grep -q "^mailpulse_$m " "$tmp/body" || fail "no mailpulse_$m"
done
# Per channel, one series each (none here: no channel); the family is announced.
grep -qx '# TYPE mailpulse_notification_failures_total counter' "$tmp/body" ||
	fail "no mailpulse_notification_failures_total family"

# ---- hostile requests; the daemon serves on after each
raw() { # raw BYTES...: send, print the status line (or nothing when closed)
	timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$hp"'; printf "%b" "$1" >&3; head -c 200 <&3 | head -n 1' _ "$1" 2>/dev/null | tr -d '\r'
}
line=$(raw 'GARBAGE\r\n\r\n')
[[ -z $line || $line == "HTTP/1.1 400"* || $line == "HTTP/1.0 400"* ]] || fail "garbage request line: $line"
line=$(raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: '"$(head -c 102400 /dev/zero | tr '\0' a)"'\r\n\r\n')
[[ -z $line || $line == *" 400"* || $line == *" 413"* || $line == *" 431"* ]] || fail "100 KB header: $line"
head -c 102400 /dev/zero >"$tmp/big"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "@$tmp/big" "$base/api/v1/checks/pop-ok/run")
[ "$code" = 413 ] || [ "$code" = 000 ] || fail "100 KB body: HTTP $code"
expect_error 400 GET "/$(head -c 3000 /dev/zero | tr '\0' a)"
line=$(raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n')
line=$(raw 'GET /\x01\x7f HTTP/1.1\r\n\r\n')
line=$(raw 'GET /healthz HTTP/9.9\r\n\r\n')
line=$(raw '\x00\x00\x00\x00\r\n\r\n')
line=$(raw 'GET /healthz HTTP/1.1\r\n: novalue\r\n\r\n')
# Half a request, then the connection stays idle: must not block anyone else.
exec 7<>/dev/tcp/127.0.0.1/"$hp"
printf 'GET /api/v1/checks HTTP/1.1\r\nHost: x\r\n' >&7
[ "$(code GET /static/../../../etc/passwd --path-as-is)" != 200 ] || ! grep -q root: "$tmp/body" ||
	fail "path traversal served /etc/passwd"
exec 7>&-
[ "$(curl -s "$base/healthz")" = ok ] || fail "/healthz after hostile requests"
expect_code 200 GET /api/v1/checks
kill -0 "$daemon_pid" || fail "the daemon died"

# DNS rebinding: a page whose name now points at 127.0.0.1 sends its own
# name as Host; without a token the loopback server refuses it.
expect_code 403 GET /api/v1/checks -H "Host: evil.example:8080"
expect_code 403 GET / -H "Host: evil.example"
expect_code 200 GET /api/v1/checks -H "Host: localhost:8080"
expect_code 200 GET /api/v1/checks -H "Host: 127.0.0.1"

# ---- IPv6 and reload to another address
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	hp6=$(free_port)
	write_conf "$tmp/mp.yaml" "{listen: \"[::1]:$hp6\"}"
	kill -HUP "$daemon_pid"
	wait_for 10 "the daemon serving on [::1]:$hp6" curl -sfg "http://[::1]:$hp6/healthz"
	curl -s "http://127.0.0.1:$hp/healthz" >/dev/null && fail "still serving on the old address"
	base="http://[::1]:$hp6"
	curl -sfg "$base/api/v1/checks" | jq -e '.checks | length == 2' >/dev/null || fail "API over IPv6"
	expect_code 202 POST /api/v1/checks/pop-ok/run -g # ::1 is loopback too
else
	echo "no IPv6 loopback here: the [::1] part is not run" >&2
fi
echo "http api: ok"
