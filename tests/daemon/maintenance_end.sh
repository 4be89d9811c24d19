#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A maintenance window must not swallow an outage. "toggle" goes down inside
# a short window and is still down when it ends: exactly one down
# notification goes out then, carrying the outage's true start, and the
# recovery follows. "brief" goes down and comes back inside a long window:
# nobody was told, so no recovery either. Results inside a window are
# flagged and left out of uptime (CLI and API); the API, the dashboard's
# data and the public page show the window under way.
. "$(dirname "$0")/lib.sh"

start_http_sink
port=$(free_port)
port2=$(free_port)
hport=$(free_port)
start_toggle "$port"
toggle1=$toggle_pid
start_toggle "$port2"
brief_pid=$toggle_pid
toggle_pid=$toggle1
# Windows are in wall-clock seconds; MAILPULSE_TIME_SCALE speeds up the
# schedule only. 30 s leave room for both outages inside the windows.
end_s=$(($(date +%s) + 30))
end=$(date -u -d "@$end_s" +%Y-%m-%dT%H:%M:%SZ)
start=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
long_end=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
cat >"$tmp/mp.yaml" <<YAML
store: $tmp/mp.db
http:
  listen: "127.0.0.1:$hport"
  public_status: {enabled: true, checks: [toggle, brief]}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook"}
maintenance:
  - {name: short, start: "$start", end: "$end", checks: [toggle]}
  - {name: long, start: "$start", end: "$long_end", checks: [brief]}
checks:
  - {name: toggle, url: "pop3://127.0.0.1:$port", notify: [hook]}
  - {name: brief, url: "pop3://127.0.0.1:$port2", notify: [hook]}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" || fail "config rejected"
start_daemon "$tmp/mp.yaml"
base=http://127.0.0.1:$hport
wait_for 10 "toggle up" state_is toggle up
wait_for 10 "brief up" state_is brief up

# The window under way, as the API, the dashboard and the public page show it.
curl -sf "$base/api/v1/checks" | jq -e --argjson e "$end_s" '.checks | map({(.name): .maintenance}) | add |
	.toggle.window == "short" and .toggle.until_ms == $e * 1000 and .brief.window == "long"' >/dev/null ||
	fail "the API does not show the windows: $(curl -s "$base/api/v1/checks" | jq -c '[.checks[] | {name, maintenance}]')"
curl -sf "$base/status" | grep -q 'scheduled maintenance until' || fail "the public page does not show the window"

stop_toggle
stop_ms=$(date +%s%3N)
wait_for 15 "toggle down" state_is toggle down
[ "$(date +%s)" -lt $((end_s - 2)) ] || fail "too slow: toggle went down after its window (retry on a quieter machine)"

# brief: down and back inside its window.
kill "$brief_pid" 2>/dev/null
wait "$brief_pid" 2>/dev/null
wait_for 15 "brief down" state_is brief down
start_toggle "$port2"
wait_for 15 "brief up again" state_is brief up
toggle_pid=$toggle1

[ "$(date +%s)" -lt "$end_s" ] || fail "too slow: the window ended before the checks were done"
[ ! -s "$tmp/http.jsonl" ] || fail "a notification went out inside the windows: $(jq -c '.body' "$tmp/http.jsonl")"

# The window ends with toggle still down: one down notification, with the true start.
wait_for 40 "the held-back down notification after the window" \
	jq -e -s 'map(.body | fromjson | select(.check == "toggle" and .kind == "down")) | length >= 1' "$tmp/http.jsonl"
sleep 2
jq -s -e --argjson e "$end_s" --argjson stop "$stop_ms" '
	map(.body | fromjson | select(.check == "toggle")) as $t |
	($t | length) == 1 and $t[0].kind == "down" and
	($t[0].now | fromdateiso8601) >= $e and ($t[0].now | fromdateiso8601) <= $e + 5 and
	($t[0].since | fromdateiso8601) < $e and ($t[0].since | fromdateiso8601) >= ($stop / 1000 | floor) - 1 and
	$t[0].duration_ms >= (($e - ($t[0].since | fromdateiso8601) - 1) * 1000)' "$tmp/http.jsonl" >/dev/null ||
	fail "want one down for toggle after $end with since in the window: $(jq -c '.body | fromjson | {check, kind, since, now, duration_ms}' "$tmp/http.jsonl")"
grep -q 'check toggle: maintenance over, down since .*: down notification sent now' "$tmp/daemon.log" ||
	fail "the held-back notification is not logged"
curl -sf "$base/api/v1/checks/toggle" | jq -e '.maintenance == null' >/dev/null ||
	fail "the API still shows toggle in maintenance"

start_toggle "$port"
wait_for 15 "toggle up again" state_is toggle up
wait_for 10 "the recovery" \
	jq -e -s 'map(.body | fromjson | select(.check == "toggle" and .kind == "recovery")) | length == 1' "$tmp/http.jsonl"
jq -s -e 'map(.body | fromjson) | all(.check == "toggle") and length == 2' "$tmp/http.jsonl" >/dev/null ||
	fail "brief was not in anybody's notifications, so no recovery for it: $(jq -c '.body | fromjson | {check, kind}' "$tmp/http.jsonl")"
grep -q 'check brief: recovery notification suppressed (maintenance window)' "$tmp/daemon.log" ||
	fail "brief's recovery was not held back"
# The API's uptime, per day too (the dashboard's bars), counts maintenance apart.
curl -sf "$base/api/v1/checks/toggle/uptime?window=1d&by=day" | jq -e '.maintenance_probes > 0 and
	.days[-1].maintenance_probes == .maintenance_probes and .days[-1].probes == .probes' >/dev/null ||
	fail "API uptime: $(curl -s "$base/api/v1/checks/toggle/uptime?window=1d&by=day")"

# Uptime leaves the results inside the windows out, and counts them apart.
kill -TERM "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
h=$("$MAILPULSE" history toggle --store "$tmp/mp.db" --json --limit 10000) || fail "history"
u=$("$MAILPULSE" uptime toggle --store "$tmp/mp.db" --json --since 2h) || fail "uptime"
jq -e --argjson e "$end_s" '.results | all(.maintenance == (.ts_ms < $e * 1000))' <<<"$h" >/dev/null ||
	fail "maintenance flags do not follow the window: $(jq -c '[.results[] | {ts_ms, status, maintenance}]' <<<"$h")"
want=$(jq -c '.results | {probes: map(select(.maintenance | not)) | length,
	up: map(select((.maintenance | not) and .status == "up")) | length,
	maintenance_probes: map(select(.maintenance)) | length}' <<<"$h")
jq -e --argjson w "$want" '.probes == $w.probes and .up == $w.up and
	.maintenance_probes == $w.maintenance_probes and .maintenance_probes > 0 and
	.uptime_pct < 100 and (.uptime_pct - 100 * .up / .probes | fabs) < 0.001' <<<"$u" >/dev/null ||
	fail "uptime $(jq -c . <<<"$u"), want $want"
"$MAILPULSE" uptime toggle --store "$tmp/mp.db" --since 2h | grep -q '^maintenance: [1-9][0-9]* probes' ||
	fail "uptime does not report maintenance apart"
"$MAILPULSE" uptime brief --store "$tmp/mp.db" --json --since 2h |
	jq -e '.probes == 0 and .uptime_pct == null and .maintenance_probes > 0 and .maintenance_pct == 100' >/dev/null ||
	fail "brief, all in maintenance: $("$MAILPULSE" uptime brief --store "$tmp/mp.db" --json --since 2h)"
echo "ok: the outage that outlived its window was alerted at its end with its true start; none inside; uptime without maintenance"
