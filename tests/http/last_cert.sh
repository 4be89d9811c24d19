#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# During an outage the API (and the check page) keep the last certificate
# seen, and say when it was seen: a POP3S check is up, then its server
# goes away (refused, no TLS at all); tls and the cert_* fields of last
# stay, with their time, and current turns false. A check that answers
# without TLS shows none.
. "$(dirname "$0")/lib.sh"

"$CERTGEN" --out "$tmp/ca" --cn "mp test CA" --ca >/dev/null
"$CERTGEN" --out "$tmp/leaf" --cn localhost --issuer "$tmp/ca" \
	--san DNS:localhost,IP:127.0.0.1 >/dev/null
port=$(free_port)
"$FAKESRV" --port "$port" --certs "$tmp" --max-conns 100000 --lifetime 120 \
	"$here/../daemon/pop3s_ok.scn" 2>>"$tmp/fakesrv.log" &
tls_pid=$!
pids+=("$tls_pid")
wait_for 5 "TLS server listening on $port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
start_pop3 "$here/../daemon/pop3_ok.scn"

hp=$(free_port)
cat >"$tmp/mp.yaml" <<YAML
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hp"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 1, starttls: "no"}
checks:
  - {name: tls, url: "pop3s://127.0.0.1:$port", ca_file: "$tmp/ca.crt"}
  - {name: plain, url: "pop3://127.0.0.1:$pop3_port"}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 15 "tls up" api_state_is tls up
wait_for 15 "plain up" api_state_is plain up

expect_code 200 GET /api/v1/checks/tls
jq -e '.tls.subject == "CN=localhost" and .tls.verified and .tls.current and
       .tls.seen_ms == .last.ts_ms and (.tls.seen | type == "string") and
       .last.cert_seen_ms == .last.ts_ms and .last.cert_subject == "CN=localhost" and
       (.last.cert_days_left | type == "number")' "$tmp/body" >/dev/null ||
	fail "tls while up: $(cat "$tmp/body")"
expect_code 200 GET /api/v1/checks/plain
jq -e '.tls == null and .last.cert_seen == null and .last.cert_subject == null' "$tmp/body" \
	>/dev/null || fail "plain has TLS: $(cat "$tmp/body")"

# The server goes away: refused, no handshake.
kill "$tls_pid"
wait "$tls_pid" 2>/dev/null
wait_for 15 "tls down" api_state_is tls down
# Two results after the outage began, so the certificate outlived more than one.
n0=$(curl -sf "$base/api/v1/checks/tls" | jq .probes)
wait_for 10 "another failed probe" bash -c \
	"curl -sf '$base/api/v1/checks/tls' | jq -e '.probes > $n0 and .last.status == \"down\"'"
expect_code 200 GET /api/v1/checks/tls
jq -e '.last.status == "down" and .last.reason == "refused" and
       .tls.subject == "CN=localhost" and (.tls.current | not) and
       .tls.seen_ms < .last.ts_ms and (.tls.days_left | type == "number") and
       (.tls.version | type == "string") and
       .last.cert_subject == "CN=localhost" and .last.cert_seen_ms == .tls.seen_ms and
       (.last.cert_days_left | type == "number") and (.last.tls_version | type == "string")' \
	"$tmp/body" >/dev/null || fail "tls during the outage: $(cat "$tmp/body")"
expect_code 200 GET /metrics
grep -q '^mailpulse_cert_expiry_timestamp_seconds{check="tls"' "$tmp/body" ||
	fail "/metrics lost the certificate during the outage"

# The page says so too (when Chromium is there to run its script).
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -n "$chrome" ]; then
	timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$tmp/chrome.XXXXXX")" --virtual-time-budget=5000 \
		--dump-dom "$base/check/tls" >"$tmp/check.html" 2>>"$tmp/chrome.log"
	grep -q '<dd>CN=localhost</dd>' "$tmp/check.html" ||
		fail "check page: no certificate during the outage: $(grep -o '<dl id="cert".*</dl>' "$tmp/check.html")"
	grep -q '<dt>Seen</dt><dd>[0-9-]* [0-9:]*Z ([^<]*ago; the last probe got no certificate)</dd>' \
		"$tmp/check.html" || fail "check page: not said when the certificate was seen: $(grep -o \
		'<dl id="cert".*</dl>' "$tmp/check.html")"
fi
kill -0 "$daemon_pid" || fail "the daemon died"
echo "http last_cert: ok"
