#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# PagerDuty keeps an alert open until a resolve names its dedup_key: every
# key the daemon triggers must be resolved when the episode ends, through
# restarts and removals. A check goes degraded (critical: a slow greeting),
# then down, then up again, with a restart of the daemon in each state;
# another is removed by a reload while down. At the receiver (the HTTP sink
# standing in for PagerDuty's Events API) no key is left open, each state
# was triggered once under a key of its own, and the restarts paged nobody.
# pd1's route takes only some reasons: a recovery after a restart is still
# routed by the reason of the alert it answers.
. "$(dirname "$0")/lib.sh"

start_http_sink
port=$(free_port)
dead=$(free_port) # nothing listens there: refused
printf 'pd-Routing-k3y\n' >"$tmp/pd.key"
chmod 600 "$tmp/pd.key"
cat >"$tmp/slow.scn" <<'SCN'
# Greets, but slower than crit_ms: degraded, critical.
sleep 400
send "+OK slow but fine\r\n"
maybe_expect "CAPA"
send "+OK Capability list follows\r\nUSER\r\n.\r\n"
maybe_expect "QUIT"
send "+OK bye\r\n"
close
SCN
conf() {
	cat <<YAML
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
channels:
  - {name: pd, type: pagerduty, url: "http://127.0.0.1:$http_port", routing_key_file: $tmp/pd.key}
checks:
  - {name: pd1, url: "pop3://127.0.0.1:$port", crit_ms: 150, notify: [{channel: pd, reasons: [slow, refused]}]}
YAML
	for c in "$@"; do echo "  - $c"; done
}
# The events PagerDuty received for check $1, in order: "action key" per line.
events() {
	[ -s "$tmp/http.jsonl" ] || return 0
	jq -r --arg c "$1" '.body | fromjson | select(.payload.component == $c) |
		"\(.event_action) \(.dedup_key)"' "$tmp/http.jsonl"
}
# Keys triggered and not resolved since, for check $1.
open_keys() {
	events "$1" | awk '$1 == "trigger" { open[$2] = 1 } $1 == "resolve" { delete open[$2] }
		END { for (k in open) print k }' | sort
}
triggers() { events "$1" | awk '$1 == "trigger"' | wc -l; }
has_event() { events "$1" | grep -qx "$2"; }
restart() {
	kill -TERM "$daemon_pid"
	wait "$daemon_pid" 2>/dev/null
	start_daemon "$tmp/mp.yaml"
	wait_for 10 "daemon restarted" bash -c "[ \$(grep -c 'mailpulse .* running' '$tmp/daemon.log') -ge $1 ]"
}
start_slow() {
	"$FAKESRV" --port "$port" --max-conns 100000 --lifetime 120 "$tmp/slow.scn" \
		2>>"$tmp/slow.log" &
	slow_pid=$!
	pids+=("$slow_pid")
	wait_for 5 "slow server listening" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
}

start_slow
conf "{name: gone, url: \"pop3://127.0.0.1:$dead\", notify: [pd]}" >"$tmp/mp.yaml"
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
start_daemon "$tmp/mp.yaml"

# Degraded, critical: triggered under the key of the degraded state.
wait_for 15 "pd1 degraded" state_is pd1 degraded
wait_for 10 "pd1's degraded trigger" bash -c "[ \"\$(jq -r '.body | fromjson | select(.payload.component == \"pd1\") | .event_action' '$tmp/http.jsonl')\" = trigger ]"
k_degraded=$(open_keys pd1)
since=$(status_json | jq -r '.checks[] | select(.check == "pd1") | .state_since_ms')
[ "$k_degraded" = "mailpulse/pd1/$since" ] || fail "degraded key $k_degraded, want mailpulse/pd1/$since"
jq -s -e 'map(.body | fromjson | select(.payload.component == "pd1")) | .[0] |
	.routing_key == "pd-Routing-k3y" and .payload.severity == "critical"' "$tmp/http.jsonl" >/dev/null ||
	fail "the degraded trigger: $(head -1 "$tmp/http.jsonl" | jq -c '.body | fromjson | del(.routing_key)')"

# A restart while degraded: nobody paged again; the key is still known.
restart 2
sleep 3
[ "$(triggers pd1)" -eq 1 ] || fail "the restart triggered again: $(events pd1)"

# Down: a trigger under a key of its own; the degraded alert resolved.
kill "$slow_pid"
wait "$slow_pid" 2>/dev/null
wait_for 15 "pd1 down" state_is pd1 down
wait_for 10 "pd1's down trigger" bash -c "[ \$(jq -r '.body | fromjson | select(.payload.component == \"pd1\" and .event_action == \"trigger\") | .dedup_key' '$tmp/http.jsonl' | sort -u | wc -l) -eq 2 ]"
wait_for 10 "the degraded alert resolved" has_event pd1 "resolve $k_degraded"
k_down=$(open_keys pd1)
since=$(status_json | jq -r '.checks[] | select(.check == "pd1") | .state_since_ms')
[ "$k_down" = "mailpulse/pd1/$since" ] || fail "open after down: '$k_down', want mailpulse/pd1/$since; events: $(events pd1)"

# A restart while down, then up: the down alert resolved by the key from before the restart.
restart 3
start_toggle "$port"
wait_for 15 "pd1 up" state_is pd1 up
wait_for 10 "the down alert resolved" has_event pd1 "resolve $k_down"
[ -z "$(open_keys pd1)" ] || fail "keys left open for pd1: $(open_keys pd1); events: $(events pd1)"
[ "$(triggers pd1)" -eq 2 ] || fail "pd1 triggered $(triggers pd1) times, want 2: $(events pd1)"

# Removed by a reload while down: its alert resolved at PagerDuty.
wait_for 15 "gone down" state_is gone down
wait_for 10 "gone's trigger" bash -c "[ \$(jq -r '.body | fromjson | select(.payload.component == \"gone\") | .event_action' '$tmp/http.jsonl' | grep -c trigger) -eq 1 ]"
k_gone=$(open_keys gone)
[ -n "$k_gone" ] || fail "no open alert for gone: $(events gone)"
conf >"$tmp/mp.yaml"
kill -HUP "$daemon_pid"
wait_for 10 "reload logged" grep -q 'reloaded: 1 checks (0 added, 0 changed, 1 removed)' "$tmp/daemon.log"
wait_for 10 "gone's alert resolved" has_event gone "resolve $k_gone"
[ -z "$(open_keys gone)" ] || fail "keys left open for gone: $(events gone)"
grep -q 'check gone: removed while down, its incident closed as removed; its PagerDuty alert resolved' "$tmp/daemon.log" ||
	fail "the removal's resolve is not logged"
grep -q -- 'pd-Routing-k3y' "$tmp/daemon.log" && fail "the routing key is in the daemon log"
echo "ok: degraded, down and removed alerts each resolved by their key, across two restarts"
