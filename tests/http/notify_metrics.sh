#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# /metrics counts notification attempts and failures per channel: a check
# that goes down notifies two command channels, one that succeeds and one
# that fails; a third channel, configured and never used, shows 0. The sum
# over the channel label is every attempt. promtool lints it when installed.
. "$(dirname "$0")/lib.sh"

hp=$(free_port)
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hp"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 1, starttls: "no"}
channels:
  - {name: ok-cmd, type: command, command: [/bin/sh, -c, "cat >/dev/null"], retries: 0}
  - {name: bad-cmd, type: command, command: [/bin/sh, -c, "echo refused; exit 1"], retries: 0}
  - {name: idle, type: command, command: [/bin/true], retries: 0}
checks:
  - {name: pop-dead, url: "pop3://127.0.0.1:1", notify: [ok-cmd, bad-cmd]}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
start_http_daemon "$tmp/mp.yaml" "$hp"

metric() { # NAME CHANNEL: the sample's value, or nothing
	grep -E "^$1\{channel=\"$2\"\} " "$tmp/metrics.txt" | awk '{print $2}'
}
delivered() {
	curl -sf "$base/metrics" >"$tmp/metrics.txt" &&
		[ "$(metric mailpulse_notification_attempts_total ok-cmd)" = 1 ] &&
		[ "$(metric mailpulse_notification_attempts_total bad-cmd)" = 1 ]
}
wait_for 20 "one attempt on each channel in /metrics" delivered

for want in "attempts_total ok-cmd 1" "failures_total ok-cmd 0" "attempts_total bad-cmd 1" \
	"failures_total bad-cmd 1" "attempts_total idle 0" "failures_total idle 0"; do
	set -- $want
	got=$(metric "mailpulse_notification_$1" "$2")
	[ "$got" = "$3" ] || fail "mailpulse_notification_$1{channel=\"$2\"}: got '$got', want $3"
done
# No series without a channel: sum() over the label is the total.
if grep -E '^mailpulse_notification_(attempts|failures)_total ' "$tmp/metrics.txt"; then
	fail "an unlabeled notification series is left beside the per-channel ones"
fi
# The per-channel figures agree with the daemon's own totals.
curl -sf "$base/api/v1/health" >"$tmp/health.json" || fail "GET /api/v1/health"
jq -e '.notify_failures == 1' "$tmp/health.json" >/dev/null ||
	fail "health says otherwise: $(cat "$tmp/health.json")"

if command -v promtool >/dev/null; then
	promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1 ||
		fail "promtool check metrics: $(cat "$tmp/promtool.out")"
fi
echo "http notify_metrics: ok"
