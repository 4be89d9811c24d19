#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A maintenance window over the check: the outage is still probed, recorded
# and turned into an incident, but no notification goes out.
. "$(dirname "$0")/lib.sh"

start_http_sink
port=$(free_port)
start_toggle "$port"
start=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
cat >"$tmp/mp.yaml" <<YAML
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 5s, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook"}
maintenance:
  - {name: upgrade, start: "$start", end: "$end", checks: [toggle]}
checks:
  - {name: toggle, url: "pop3://127.0.0.1:$port", notify: [hook]}
  - {name: other, url: "pop3://127.0.0.1:$port", notify: [hook]}
YAML
start_daemon "$tmp/mp.yaml"
wait_for 10 "toggle up" state_is toggle up
stop_toggle
wait_for 15 "toggle down" state_is toggle down
wait_for 15 "other down" state_is other down
"$MAILPULSE" incidents toggle --store "$tmp/mp.db" --json | jq -e '.incidents | length == 1' >/dev/null ||
	fail "the outage inside the window opened no incident"
# The check outside the window alerted; give a stray toggle alert time to show.
wait_for 10 "the other check's webhook" test -s "$tmp/http.jsonl"
sleep 1
jq -s -e 'map(.body | fromjson | .check) | all(. == "other")' "$tmp/http.jsonl" >/dev/null ||
	fail "a notification for the check in maintenance went out: $(jq -c '.body' "$tmp/http.jsonl")"
grep -q 'check toggle: down notification suppressed (maintenance window)' "$tmp/daemon.log" ||
	fail "the suppression is not logged"
echo "ok: outage recorded, notification suppressed inside the window, sent outside it"
