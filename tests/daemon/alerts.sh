#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The daemon against a POP3 server that the test turns off and on: down only
# after confirmation, an incident opened and closed with its duration, a
# signed webhook and an e-mail for each change, and a clean SIGTERM that
# loses no result.
. "$(dirname "$0")/lib.sh"

start_http_sink
start_smtp_sink
port=$(free_port)
start_toggle "$port"
printf 'hook-Secret-k9\n' >"$tmp/hook.key"
printf 'smtp-Pa55-e2e\n' >"$tmp/smtp.pw"
chmod 600 "$tmp/hook.key" "$tmp/smtp.pw"
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "off", dashboard_url: "http://127.0.0.1:8080"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook", secret_file: $tmp/hook.key, retries: 2}
  - {name: dead, type: webhook, url: "http://127.0.0.1:$(free_port)/nobody", retries: 0}
  - name: mail
    type: email
    smtp: smtp://127.0.0.1:$smtp_port
    user: alerts
    password_file: $tmp/smtp.pw
    ca_file: $tmp/ca.crt
    from: mailpulse@example.com
    to: [ops@example.com]
checks:
  - {name: toggle, url: "pop3://127.0.0.1:$port", notify: [hook, mail, dead]}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" || fail "config rejected"
start_daemon "$tmp/mp.yaml"

wait_for 10 "toggle up" state_is toggle up
stop_toggle
t_down=$SECONDS
wait_for 15 "toggle down after the server stopped" state_is toggle down
# Confirmation: the down transition needs two failed probes, so at least
# one failure was recorded before it.
fails=$("$MAILPULSE" history toggle --store "$tmp/mp.db" --json | jq '[.results[] | select(.status == "down")] | length')
[ "$fails" -ge 2 ] || fail "down after $fails failed probe(s); want at least 2"
"$MAILPULSE" incidents toggle --store "$tmp/mp.db" --json |
	jq -e '.incidents | length == 1 and .[0].end == null and .[0].reason == "refused"' >/dev/null ||
	fail "no open incident with reason refused: $("$MAILPULSE" incidents --store "$tmp/mp.db" --json)"
# The incident starts at the first failing probe, not at the one that confirmed it.
first_fail=$("$MAILPULSE" history toggle --store "$tmp/mp.db" --json |
	jq '[.results[] | select(.status == "down") | .ts_ms] | min')
"$MAILPULSE" incidents toggle --store "$tmp/mp.db" --json |
	jq -e --argjson f "$first_fail" '.incidents[0].start_ms == $f' >/dev/null ||
	fail "incident does not start at the first failing probe ($first_fail): $("$MAILPULSE" incidents --store "$tmp/mp.db" --json)"
status_json | jq -e --argjson f "$first_fail" '.checks[] | select(.check == "toggle") | .state_since_ms == $f' \
	>/dev/null || fail "the down state does not start at the first failing probe"

start_toggle "$port"
wait_for 15 "toggle up again" state_is toggle up
"$MAILPULSE" incidents toggle --store "$tmp/mp.db" --json |
	jq -e '.incidents | length == 1 and .[0].end != null and .[0].duration_ms > 0' >/dev/null ||
	fail "incident not closed with a duration: $("$MAILPULSE" incidents --store "$tmp/mp.db" --json)"

# Webhook: one down, one recovery, each signed with HMAC-SHA256 of the body.
wait_for 10 "two webhook deliveries" bash -c "[ \$(grep -c . '$tmp/http.jsonl') -ge 2 ]"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	body=$(jq -j .body <<<"$line")
	sig=$(jq -r '.headers["x-mailpulse-signature"]' <<<"$line")
	want="sha256=$(printf '%s' "$body" | openssl dgst -sha256 -hmac 'hook-Secret-k9' | sed 's/^.*= //')"
	[ "$sig" = "$want" ] || fail "webhook $n: signature $sig, want $want"
	jq -e '.path == "/hook" and .method == "POST"' <<<"$line" >/dev/null || fail "webhook $n: $line"
done <"$tmp/http.jsonl"
jq -s -e 'map(.body | fromjson) | .[0].kind == "down" and .[0].check == "toggle" and
	.[0].reason == "refused" and .[1].kind == "recovery" and .[1].duration_ms > 0' \
	"$tmp/http.jsonl" >/dev/null || fail "webhook bodies: $(jq -c '.body' "$tmp/http.jsonl")"
# The down alert says when the outage began and how it was confirmed: never "down for 0s".
jq -s -e --argjson f "$first_fail" 'map(.body | fromjson) | .[0] |
	.confirmed_by == 2 and .severity == "critical" and
	.since_ms == $f and .now_ms > .since_ms and
	((.since | fromdateiso8601) == ($f / 1000 | floor))' "$tmp/http.jsonl" >/dev/null ||
	fail "down alert lacks its true start or confirmation: $(jq -c '.body' "$tmp/http.jsonl" | head -1)"
# Each carries the result that caused it in the one result format (docs/json.md),
# the same object `mailpulse check --json` prints: the failing probe, then the good one.
jq -s -e 'map(.body | fromjson) |
	(.[0].result | .status == "down" and .reason == "refused" and .check == "toggle" and
	 (.path | startswith("dns>connect")) and (.ts_ms | type) == "number" and .seq > 0) and
	(.[1].result | .status == "up" and .reason == "ok" and .check == "toggle") and
	.[1].result.seq > .[0].result.seq' "$tmp/http.jsonl" >/dev/null ||
	fail "webhook results: $(jq -c '.body | fromjson | .result' "$tmp/http.jsonl")"

# E-mail: over STARTTLS with AUTH, one per change.
wait_for 10 "two e-mails" bash -c "[ \$(ls '$tmp/mail' | wc -l) -ge 2 ]"
cat "$tmp"/mail/*.json | jq -s -e 'all(.tls == true and .auth_user == "alerts") and
	(map(.data) | any(test("Subject: .*DOWN toggle"))) and
	(map(.data) | any(test("Confirmed: 2 consecutive probes since then"))) and
	(map(.data) | any(test("Subject: .*RECOVERED toggle")))' >/dev/null ||
	fail "e-mails: $(cat "$tmp"/mail/*.json | jq -c '{tls, auth_user, subject: (.data | capture("Subject: (?<s>[^\r]*)").s)}')"

# Every attempt is recorded; `status` shows the channel that fails.
wait_for 5 "the dead channel recorded as failing" bash -c "'$MAILPULSE' status --store '$tmp/mp.db' --json |
	jq -e '[.channels[] | select(.channel == \"dead\" and .last_ok == false)] | length == 1'"
status_json | jq -e '[.channels[] | select(.channel == "hook" or .channel == "mail") | .last_ok] == [true, true]' >/dev/null ||
	fail "delivered channels not shown as ok: $(status_json | jq -c .channels)"
"$MAILPULSE" status --store "$tmp/mp.db" | grep -q 'dead .*FAILING' || fail "status table does not flag the failing channel"
grep -q 'notify dead: down for toggle failed' "$tmp/daemon.log" || fail "the failing channel is not in the log"

# SIGTERM: every result the daemon logged is in the store.
kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
[ "$rc" -eq 0 ] || fail "daemon exited with $rc on SIGTERM"
logged=$(grep -c 'debug: check toggle: ' "$tmp/daemon.log")
stored=$("$MAILPULSE" history toggle --store "$tmp/mp.db" --json --limit 10000 | jq '.results | length')
[ "$logged" -eq "$stored" ] || fail "SIGTERM: $logged results logged, $stored stored"
grep -q 'stopped;' "$tmp/daemon.log" || fail "no clean stop in the log"
# No secret anywhere in what the daemon wrote.
for s in hook-Secret-k9 smtp-Pa55-e2e; do
	grep -q -- "$s" "$tmp/daemon.log" && fail "secret '$s' in the daemon log"
	cat "$tmp"/mp.db* | grep -qa -- "$s" && fail "secret '$s' in the store"
done
echo "ok: down after confirmation, incident closed, $n signed webhooks, e-mails, $stored results kept"
