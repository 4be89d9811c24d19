#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A recovery held back by a maintenance window must survive a restart.
# "toggle" goes down before the window (the down alert goes out), comes back
# inside it (the recovery is held), and the daemon is restarted inside it:
# when the window ends, exactly one recovery goes out, with the down
# alert's incident key, so a PagerDuty incident is not left open forever.
. "$(dirname "$0")/lib.sh"

start_http_sink
port=$(free_port)
hport=$(free_port)
start_toggle "$port"
t0=$(date +%s)
wstart_s=$((t0 + 25))
wend_s=$((t0 + 45))
wstart=$(date -u -d "@$wstart_s" +%Y-%m-%dT%H:%M:%SZ)
wend=$(date -u -d "@$wend_s" +%Y-%m-%dT%H:%M:%SZ)
cat >"$tmp/mp.yaml" <<YAML
store: $tmp/mp.db
http:
  listen: "127.0.0.1:$hport"
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook"}
maintenance:
  - {name: later, start: "$wstart", end: "$wend", checks: [toggle]}
checks:
  - {name: toggle, url: "pop3://127.0.0.1:$port", notify: [hook]}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" || fail "config rejected"
start_daemon "$tmp/mp.yaml"
wait_for 10 "toggle up" state_is toggle up

# Down before the window: told.
stop_toggle
wait_for 20 "the down alert" \
	jq -e -s 'map(.body | fromjson | select(.kind == "down")) | length == 1' "$tmp/http.jsonl"
[ "$(date +%s)" -lt "$wstart_s" ] || fail "too slow: the down alert came after the window began (retry on a quieter machine)"
key=$(jq -r -s 'map(.body | fromjson | select(.kind == "down"))[0].incident_key' "$tmp/http.jsonl")

# Back inside the window: the recovery is held.
while [ "$(date +%s)" -le "$wstart_s" ]; do sleep 0.2; done
start_toggle "$port"
wait_for 20 "toggle up inside the window" state_is toggle up
[ "$(date +%s)" -lt $((wend_s - 6)) ] || fail "too slow: toggle came back too late in the window"
sleep 1
jq -e -s 'map(.body | fromjson | select(.kind == "recovery")) | length == 0' "$tmp/http.jsonl" >/dev/null ||
	fail "a recovery went out inside the window"

# Restart inside the window: the held recovery lives on in the store.
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exited with $? on SIGTERM"
start_daemon "$tmp/mp.yaml"
wait_for 10 "toggle up after the restart" state_is toggle up
[ "$(date +%s)" -lt "$wend_s" ] || fail "too slow: the restart outlasted the window"
jq -e -s 'map(.body | fromjson | select(.kind == "recovery")) | length == 0' "$tmp/http.jsonl" >/dev/null ||
	fail "a recovery went out inside the window, after the restart"

# The window ends: exactly one recovery, for the alert that was told.
wait_for 20 "the held recovery after the window" \
	jq -e -s 'map(.body | fromjson | select(.kind == "recovery")) | length >= 1' "$tmp/http.jsonl"
sleep 2
jq -e -s --arg k "$key" --argjson e "$wend_s" '
	map(.body | fromjson | select(.kind == "recovery")) as $r |
	($r | length) == 1 and $r[0].check == "toggle" and $r[0].incident_key == $k and
	($r[0].now | fromdateiso8601) >= $e and $r[0].duration_ms > 0' "$tmp/http.jsonl" >/dev/null ||
	fail "want one recovery with key $key after $wend: $(jq -c '.body | fromjson | {kind, incident_key, now, duration_ms}' "$tmp/http.jsonl")"
grep -q "its alert of .* was never resolved" "$tmp/daemon.log" || fail "the resumed held recovery is not in the log"
echo "ok: the recovery held by a window survived a restart and went out once at its end, with the down alert's key"
