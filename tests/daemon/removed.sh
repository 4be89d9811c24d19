#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A check removed from the configuration stops existing. Removed by SIGHUP
# while down: its open incident is closed with the reason, `mailpulse
# status` no longer lists it as current (it is listed as removed), its
# history and incidents stay readable, and nobody is paged about it. Added
# again later under the same name: it starts as pending, and the old
# incident stays closed. Removed while the daemon was stopped: the same at
# the next start.
. "$(dirname "$0")/lib.sh"

start_http_sink
port=$(free_port)
dead=$(free_port) # nothing listens there: refused
start_toggle "$port"
reason="check removed from the configuration"
conf() {
	cat <<YAML
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook"}
checks:
  - {name: keep, url: "pop3://127.0.0.1:$port", notify: [hook]}
YAML
	for c in "$@"; do echo "  - $c"; done
}
incidents() { "$MAILPULSE" incidents "$1" --store "$tmp/mp.db" --json; }
hooks_for() { jq -s --arg c "$1" '[.[] | .body | fromjson | select(.check == $c) | .kind]' "$tmp/http.jsonl"; }

conf "{name: gone, url: \"pop3://127.0.0.1:$dead\", notify: [hook]}" \
	"{name: gone2, url: \"pop3://127.0.0.1:$dead\", notify: [hook]}" >"$tmp/mp.yaml"
start_daemon "$tmp/mp.yaml"
wait_for 10 "keep up" state_is keep up
wait_for 15 "gone down" state_is gone down
wait_for 15 "gone2 down" state_is gone2 down
incidents gone | jq -e '.incidents | length == 1 and .[0].open' >/dev/null || fail "no open incident for gone"
wait_for 10 "gone's down notification" bash -c "[ \"\$(jq -s -c '[.[] | .body | fromjson | select(.check == \"gone\") | .kind]' '$tmp/http.jsonl')\" = '[\"down\"]' ]"

# Removed by a reload while down.
conf "{name: gone2, url: \"pop3://127.0.0.1:$dead\", notify: [hook]}" >"$tmp/mp.yaml"
kill -HUP "$daemon_pid"
wait_for 10 "reload logged" grep -q 'reloaded: 2 checks (0 added, 0 changed, 1 removed)' "$tmp/daemon.log"
wait_for 5 "the incident closed as removed" bash -c "'$MAILPULSE' incidents gone --store '$tmp/mp.db' --json |
	jq -e --arg r '$reason' '.incidents | length == 1 and (.[0].open | not) and .[0].close_reason == \$r and .[0].duration_ms > 0'"
status_json | jq -e '[.checks[].check] == ["gone2", "keep"] and [.removed[].check] == ["gone"]' >/dev/null ||
	fail "status lists a removed check as current: $(status_json | jq -c '{checks: [.checks[] | {check, state}], removed}')"
"$MAILPULSE" status --store "$tmp/mp.db" >"$tmp/status.txt" || fail "status"
grep -E '^gone +' "$tmp/status.txt" | grep -q DOWN && fail "status text shows gone as DOWN: $(cat "$tmp/status.txt")"
grep -q '^REMOVED CHECK' "$tmp/status.txt" || fail "status text does not list removed checks: $(cat "$tmp/status.txt")"
# Its history stays readable.
"$MAILPULSE" history gone --store "$tmp/mp.db" --json | jq -e '[.results[] | select(.status == "down")] | length >= 2' >/dev/null ||
	fail "gone's history is not readable"
"$MAILPULSE" incidents gone --store "$tmp/mp.db" | grep -q "($reason)" || fail "incidents text does not say why it closed"
grep -q 'check gone: removed while down, its incident closed as removed; no notification is sent' "$tmp/daemon.log" ||
	fail "the removal is not logged"
# Nobody is paged about the removal: no recovery, nothing else.
sleep 2
[ "$(hooks_for gone | jq -c .)" = '["down"]' ] || fail "notifications for gone: $(hooks_for gone | jq -c .)"

# Added again under the same name (now healthy): pending, then up; no recovery, the old incident stays closed.
conf "{name: gone2, url: \"pop3://127.0.0.1:$dead\", notify: [hook]}" \
	"{name: gone, url: \"pop3://127.0.0.1:$port\", notify: [hook]}" >"$tmp/mp.yaml"
kill -HUP "$daemon_pid"
wait_for 10 "reload logged" grep -q 'reloaded: 3 checks (1 added, 0 changed, 0 removed)' "$tmp/daemon.log"
wait_for 10 "gone up again" state_is gone up
grep -q 'check gone: pending -> up' "$tmp/daemon.log" || fail "gone did not start as pending"
status_json | jq -e '.removed == [] and ([.checks[] | select(.check == "gone") | .incident] == [null])' >/dev/null ||
	fail "re-added: $(status_json | jq -c '{checks: [.checks[] | {check, state, incident}], removed}')"
incidents gone | jq -e --arg r "$reason" '.incidents | length == 1 and .[0].close_reason == $r' >/dev/null ||
	fail "the old incident came back: $(incidents gone | jq -c .incidents)"
sleep 2
[ "$(hooks_for gone | jq -c .)" = '["down"]' ] || fail "notifications for the re-added gone: $(hooks_for gone | jq -c .)"

# Removed while the daemon was stopped: retired at the next start.
kill -TERM "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
incidents gone2 | jq -e '.incidents | length == 1 and .[0].open' >/dev/null || fail "no open incident for gone2"
conf "{name: gone, url: \"pop3://127.0.0.1:$port\", notify: [hook]}" >"$tmp/mp.yaml"
start_daemon "$tmp/mp.yaml"
wait_for 10 "gone2 retired at start" bash -c "'$MAILPULSE' incidents gone2 --store '$tmp/mp.db' --json |
	jq -e --arg r '$reason' '.incidents | length == 1 and .[0].close_reason == \$r'"
wait_for 5 "status without gone2" bash -c "'$MAILPULSE' status --store '$tmp/mp.db' --json |
	jq -e '[.checks[].check] == [\"gone\", \"keep\"] and [.removed[].check] == [\"gone2\"]'"
grep -q 'check gone2: in the store but no longer configured: retired' "$tmp/daemon.log" || fail "not logged"
echo "ok: a removed check's incident closed with the reason, gone from status, history kept; re-added fresh"
