#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# PagerDuty keeps an alert open until a resolve names its dedup_key at the
# service (routing key) that has it. The edges where one was left open:
#  ease  critical, eased to warning (nobody told), a restart, then down:
#        the critical key (kept in the store) is resolved, not the
#        warning's start that was never triggered.
#  esc   degraded (critical) at pd, then down, whose route goes to a
#        PagerDuty channel nobody answers: the degraded alert stays open
#        until the down trigger is delivered, which it never is, so it is
#        resolved at the recovery instead.
#  d2g   down, then degraded (critical): the recovery resolves the down
#        alert and the degraded state opens one of its own; up resolves it.
#  gone  removed while the daemon was stopped: resolved at every
#        PagerDuty channel of the configuration (pd and pd2).
#  moved a reload routes it to pd2 instead of pd while down: resolved at pd.
# At the end no key is open at any service.
. "$(dirname "$0")/lib.sh"

start_http_sink
p_ease=$(free_port)
p_esc=$(free_port)
p_d2g=$(free_port)
dead=$(free_port) # nothing listens there: refused
printf 'pd-Key-one\n' >"$tmp/pd.key"
printf 'pd-Key-two\n' >"$tmp/pd2.key"
chmod 600 "$tmp/pd.key" "$tmp/pd2.key"
# A greeting slower than crit_ms (critical), or only than warn_ms (warning).
for s in crit:900 warn:250; do
	cat >"$tmp/${s%%:*}.scn" <<SCN
sleep ${s#*:}
send "+OK slow\r\n"
maybe_expect "CAPA"
send "+OK Capability list follows\r\nUSER\r\n.\r\n"
maybe_expect "QUIT"
send "+OK bye\r\n"
close
SCN
done
conf() { # $1: moved's channel; $2: 1 to keep gone
	cat <<YAML
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, recover_after: 1, starttls: "no", warn_ms: 100, crit_ms: 600}
channels:
  - {name: pd, type: pagerduty, url: "http://127.0.0.1:$http_port", routing_key_file: $tmp/pd.key}
  - {name: pd2, type: pagerduty, url: "http://127.0.0.1:$http_port", routing_key_file: $tmp/pd2.key}
  - {name: pddead, type: pagerduty, url: "http://127.0.0.1:$dead", routing_key_file: $tmp/pd.key, retries: 0, timeout: 1s}
checks:
  - {name: ease, url: "pop3://127.0.0.1:$p_ease", notify: [pd]}
  - {name: esc, url: "pop3://127.0.0.1:$p_esc", notify: [{channel: pd, reasons: [slow]}, {channel: pddead, reasons: [refused]}]}
  - {name: d2g, url: "pop3://127.0.0.1:$p_d2g", notify: [pd]}
  - {name: moved, url: "pop3://127.0.0.1:$dead", notify: [$1]}
YAML
	[ "$2" = 1 ] && echo "  - {name: gone, url: \"pop3://127.0.0.1:$dead\", notify: [pd]}"
	return 0
}
# PagerDuty's events for check $1: "action routing_key dedup_key" per line.
events() {
	[ -s "$tmp/http.jsonl" ] || return 0
	# -R and fromjson?: a line the sink is still writing is skipped, not an error.
	jq -R -r --arg c "$1" 'fromjson? | .body | fromjson | select(.dedup_key | startswith("mailpulse/\($c)/")) |
		"\(.event_action) \(.routing_key) \(.dedup_key)"' "$tmp/http.jsonl"
}
# Keys triggered and not resolved since at the same service: "routing_key dedup_key".
open_keys() {
	events "$1" | awk '$1 == "trigger" { open[$2 " " $3] = 1 } $1 == "resolve" { delete open[$2 " " $3] }
		END { for (k in open) print k }' | sort
}
n_triggers() { events "$1" | awk '$1 == "trigger"' | sort -u | wc -l; }
has_event() { events "$1" | grep -qx "$2"; }
has_trigger() { events "$1" | grep -q '^trigger '; }
since_of() { status_json | jq -r --arg c "$1" '.checks[] | select(.check == $c) | .state_since_ms'; }
sev_is() {
	status_json | jq -e --arg c "$1" --arg s "$2" '[.checks[] | select(.check == $c) | .state_severity == $s] == [true]'
}
srv() { # srv NAME PORT SCENARIO
	"$FAKESRV" --port "$2" --max-conns 100000 --lifetime 120 "$3" 2>>"$tmp/$1.log" &
	eval "pid_$1=$!"
	pids+=("$!")
	wait_for 5 "$1 listening" bash -c "exec 3<>/dev/tcp/127.0.0.1/$2"
}
srv_stop() { # srv_stop NAME
	local p
	eval "p=\$pid_$1"
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}
stop_daemon() {
	kill -TERM "$daemon_pid"
	wait "$daemon_pid" 2>/dev/null
}

srv ease "$p_ease" "$tmp/crit.scn"
srv esc "$p_esc" "$tmp/crit.scn"
conf pd 1 >"$tmp/mp.yaml"
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
start_daemon "$tmp/mp.yaml"

wait_for 20 "ease critical" sev_is ease critical
wait_for 20 "esc critical" sev_is esc critical
wait_for 20 "d2g down" state_is d2g down
wait_for 20 "gone down" state_is gone down
wait_for 20 "moved down" state_is moved down
for c in ease esc d2g gone moved; do
	wait_for 10 "$c's trigger" has_trigger "$c"
done
k_ease="pd-Key-one mailpulse/ease/$(since_of ease)"
k_esc="pd-Key-one mailpulse/esc/$(since_of esc)"
k_d2g_down="pd-Key-one mailpulse/d2g/$(since_of d2g)"
k_gone="mailpulse/gone/$(since_of gone)"
k_moved="pd-Key-one mailpulse/moved/$(since_of moved)"
[ "$(open_keys ease)" = "$k_ease" ] || fail "ease open: $(open_keys ease), want $k_ease"

# ease: critical eases to warning; nobody is told.
srv_stop ease
srv ease "$p_ease" "$tmp/warn.scn"
wait_for 20 "ease eased to warning" sev_is ease warning
[ "$(n_triggers ease)" -eq 1 ] || fail "the easing was told: $(events ease)"

# d2g: down -> degraded: the down alert resolved, a degraded one opened.
srv d2g "$p_d2g" "$tmp/crit.scn"
wait_for 20 "d2g degraded" state_is d2g degraded
wait_for 10 "d2g's down alert resolved" has_event d2g "resolve $k_d2g_down"
k_d2g_deg="pd-Key-one mailpulse/d2g/$(since_of d2g)"
wait_for 10 "d2g's degraded alert" has_event d2g "trigger $k_d2g_deg"
[ "$(open_keys d2g)" = "$k_d2g_deg" ] || fail "d2g open: $(open_keys d2g), want $k_d2g_deg"

# esc: down, its trigger goes to a dead PagerDuty endpoint: the degraded alert stays open.
srv_stop esc
wait_for 20 "esc down" state_is esc down
wait_for 15 "esc's down trigger given up" grep -q 'notify pddead: down for esc failed (attempt 1)' "$tmp/daemon.log"
sleep 2
[ "$(open_keys esc)" = "$k_esc" ] || fail "esc: the degraded alert was resolved before its successor arrived: $(events esc)"

# A restart; gone was removed meanwhile.
stop_daemon
conf pd 0 >"$tmp/mp.yaml"
start_daemon "$tmp/mp.yaml"
wait_for 10 "gone resolved at pd" has_event gone "resolve pd-Key-one $k_gone"
wait_for 10 "gone resolved at pd2" has_event gone "resolve pd-Key-two $k_gone"
grep -q 'check gone: removed while stopped; its PagerDuty alert resolved at every PagerDuty channel' "$tmp/daemon.log" ||
	fail "gone's resolve is not logged"
sleep 2
[ "$(n_triggers ease)" -eq 1 ] || fail "the restart told ease again: $(events ease)"

# moved: a reload routes it to pd2 only: resolved at pd.
conf pd2 0 >"$tmp/mp.yaml"
kill -HUP "$daemon_pid"
wait_for 10 "reload logged" grep -q 'reloaded: 4 checks' "$tmp/daemon.log"
wait_for 10 "moved resolved at pd" has_event moved "resolve $k_moved"

# ease: down now. The critical key from before the restart is resolved.
srv_stop ease
wait_for 20 "ease down" state_is ease down
k_ease_down="pd-Key-one mailpulse/ease/$(since_of ease)"
wait_for 10 "ease's down trigger" has_event ease "trigger $k_ease_down"
wait_for 10 "ease's critical alert resolved" has_event ease "resolve $k_ease"

# Everything up: nothing open anywhere.
srv ease "$p_ease" "$(dirname "$0")/pop3_ok.scn"
srv esc "$p_esc" "$(dirname "$0")/pop3_ok.scn"
srv_stop d2g
srv d2g "$p_d2g" "$(dirname "$0")/pop3_ok.scn"
for c in ease esc d2g; do wait_for 20 "$c up" state_is "$c" up; done
wait_for 10 "esc's degraded alert resolved at the recovery" has_event esc "resolve $k_esc"
wait_for 10 "d2g's degraded alert resolved" has_event d2g "resolve $k_d2g_deg"
sleep 1
for c in ease esc d2g gone; do
	[ -z "$(open_keys "$c")" ] || fail "$c: keys left open: $(open_keys "$c"); events: $(events "$c")"
done
[ -z "$(open_keys moved | grep pd-Key-one)" ] || fail "moved: open at pd: $(events moved)"
grep -q -- 'pd-Key-' "$tmp/daemon.log" && fail "a routing key is in the daemon log"
echo "ok: eased, escalated, down-to-degraded, removed-while-stopped and re-routed alerts all resolved"
