#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Two controllers on one PostgreSQL store (issue 14), three checks and a
# webhook receiver that counts every alert:
#   1. kill -9 the active controller while a check is down and its alert
#      was sent: the standby takes over within 2 intervals, no probe slot is
#      lost for longer, the alert is not sent again, the recovery once;
#      a node given both controllers moves on to the new active one;
#   2. cut the active controller from the database while it holds the lock
#      (its proxy stalls): it stops sending at once, though it goes on
#      probing; the other takes over once the server ends the stalled
#      session, and alerts once; the cut one, back, stands by and drops
#      what it held.
# Controller a reaches the server on its socket; b through a proxy of the
# tests' own (tests/regions/netproxy.py), which the test stalls and resets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
here=$(cd "$(dirname "$0")" && pwd)
chmod 711 "$tmp"
trap 'pg_stop; cleanup' EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in a b a2; do
		[ -f "$tmp/$f.log" ] || continue
		echo "--- controller $f (last 30 lines)" >&2
		tail -n 30 "$tmp/$f.log" >&2
	done
	exit 1
}

pgport=$(free_port)
PG_TCP=1 pg_start "$tmp/pg" "$pgport" || fail "PostgreSQL did not start"
psql -qAt -c "CREATE DATABASE mpf" >/dev/null || fail "creating the database"

start_http_sink
port=$(free_port)
start_toggle "$port"
steady=$(free_port)
"$FAKESRV" --port "$steady" --max-conns 100000 --lifetime 180 "$here/pop3_ok.scn" 2>>"$tmp/steady.log" &
pids+=("$!")
proxy=$(free_port)
echo "mode=pass" >"$tmp/proxy.ctl"
python3 "$here/../regions/netproxy.py" --listen "127.0.0.1:$proxy" --connect "127.0.0.1:$pgport" \
	--control "$tmp/proxy.ctl" --state "$tmp/proxy.state" 2>>"$tmp/proxy.log" &
proxy_pid=$!
pids+=("$proxy_pid")
wait_for 5 "the proxy listening" bash -c "exec 3<>/dev/tcp/127.0.0.1/$proxy"

# proxy MODE: the proxy's new mode, in force once its state says so.
proxy_mode() {
	local gen
	gen=$(sed -n 's/^gen=\([0-9]*\).*/\1/p' "$tmp/proxy.state" 2>/dev/null)
	echo "mode=$1" >"$tmp/proxy.ctl"
	kill -HUP "$proxy_pid"
	wait_for 5 "the proxy in mode $1" bash -c "grep -q 'mode=$1' '$tmp/proxy.state' &&
		! grep -q '^gen=${gen:-x} ' '$tmp/proxy.state'"
}

api_a=$(free_port)
api_b=$(free_port)
printf 'n1-node-token-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$tmp/n1.token"
chmod 600 "$tmp/n1.token"
# conf NAME DSN API
conf() {
	cat >"$tmp/$1.yaml" <<YAML
location: e2e
store: "$2"
http: {listen: "127.0.0.1:$3"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook", retries: 2}
nodes:
  - {name: n1, token_file: $tmp/n1.token}
checks:
  - {name: toggle, url: "pop3://127.0.0.1:$port", notify: [hook]}
  - {name: steady1, url: "pop3://127.0.0.1:$steady", notify: [hook]}
  - {name: steady2, url: "pop3://127.0.0.1:$steady", notify: [hook]}
  - {name: remote, url: "pop3://127.0.0.1:$steady", locations: [n1]}
YAML
	"$MAILPULSE" config check "$tmp/$1.yaml" >/dev/null || fail "config $1 rejected"
}
conf a "postgresql://mp@/mpf?host=$tmp/pg&port=$pgport" "$api_a"
conf b "postgresql://mp@127.0.0.1:$proxy/mpf" "$api_b"

# start_ctl NAME CONFIG: a controller, 20 times faster than real time; its pid in ctl_pid.
start_ctl() {
	MAILPULSE_TIME_SCALE=0.05 "$MAILPULSE" run -c "$2" -v >>"$tmp/$1.log" 2>&1 &
	ctl_pid=$!
	pids+=("$ctl_pid")
}
role_is() {
	[ "$(curl -sf "http://127.0.0.1:$1/api/v1/health" | jq -r .role)" = "$2" ]
}
hooks() { grep -c . "$tmp/http.jsonl" 2>/dev/null || echo 0; }
kinds() { jq -s -c 'map(.body | fromjson | select(.check == "toggle") | .kind)' "$tmp/http.jsonl"; }
status_json() { "$MAILPULSE" status -c "$tmp/a.yaml" --json; }
now_ms() { date +%s%3N; }

start_ctl a "$tmp/a.yaml"
a_pid=$ctl_pid
wait_for 10 "a active" role_is "$api_a" active
start_ctl b "$tmp/b.yaml"
b_pid=$ctl_pid
wait_for 10 "b standing by" role_is "$api_b" standby
grep -q "another controller is the active one: this one stands by" "$tmp/b.log" ||
	fail "b does not say it stands by"
wait_for 10 "toggle up" state_is toggle up
# A node that knows both controllers, a first.
MAILPULSE_TIME_SCALE=0.05 "$MAILPULSE" probe --controller "http://127.0.0.1:$api_a" \
	--controller "http://127.0.0.1:$api_b" --name n1 --token-file "$tmp/n1.token" \
	--spool "$tmp/n1.spool" -v >>"$tmp/n1.log" 2>&1 &
pids+=("$!")
# remote_after MS: a result of the node's check probed after MS is stored.
remote_after() {
	[ "$(psql -d mpf -qAt -c "SELECT count(*) FROM results r JOIN checks c ON c.id = r.check_id
		WHERE c.name = 'remote' AND r.location = 'n1' AND r.ts_ms > $1")" -gt 0 ]
}
wait_for 15 "the node's results stored" remote_after 0

# ---- 1. kill -9 the active controller ----
stop_toggle
wait_for 15 "the down alert" bash -c "[ \$(grep -c . '$tmp/http.jsonl') -ge 1 ]"
# The standby's API shows what the active one judged, read from the store.
b_state_is() {
	curl -sf "http://127.0.0.1:$api_b/api/v1/checks" |
		jq -e --arg c "$1" --arg s "$2" '[.checks[] | select(.name == $c) | .state] == [$s]' >/dev/null
}
wait_for 10 "b's API showing toggle down" b_state_is toggle down
sleep 1 # its claim's end written
kill -9 "$a_pid"
t_kill=$(now_ms)
wait_for 10 "b active after a was killed" role_is "$api_b" active
took=$(($(now_ms) - t_kill))
# Two intervals: 2 x 30 s x 0.05.
[ "$took" -le 3000 ] || fail "b took over in $took ms, more than 2 intervals (3000 ms)"
grep -q "this controller is the active one now" "$tmp/b.log" || fail "b does not say it took over"
sleep 3
[ "$(hooks)" = 1 ] || fail "the alert a sent was sent again: $(kinds)"
# The node moved on to b, which takes its results now.
wait_for 15 "the node's results through b" remote_after "$t_kill"
grep -q "trying the next controller" "$tmp/n1.log" || fail "the node does not say it moved on"
# No slot lost for longer than 2 intervals: steady1's probes, a's then b's.
gap=$(psql -d mpf -qAt -c "SELECT max(d) FROM (SELECT ts_ms - lag(ts_ms) OVER (ORDER BY ts_ms) AS d
	FROM results r JOIN checks c ON c.id = r.check_id WHERE c.name = 'steady1') g")
[ -n "$gap" ] && [ "$gap" -le 4500 ] ||
	fail "steady1 went $gap ms without a probe across the failover (interval 1500 ms, 2 lost at most)"
start_toggle "$port"
wait_for 15 "the recovery, from b" bash -c "[ \$(grep -c . '$tmp/http.jsonl') -ge 2 ]"
sleep 2
[ "$(kinds)" = '["down","recovery"]' ] || fail "alerts across the kill: $(kinds)"

# ---- 2. cut the active controller (b) from the database ----
proxy_mode blackhole
t_cut=$(now_ms)
wait_for 10 "b losing its session" grep -q "lost its database session" "$tmp/b.log"
lost_ms=$(($(now_ms) - t_cut))
stop_toggle
down_after_lost() {
	awk '/lost its database session/ { f = 1 } f && /check toggle: up -> down/ { ok = 1 }
		END { exit !ok }' "$tmp/b.log"
}
wait_for 15 "b judging toggle down while cut" down_after_lost
sleep 2
[ "$(hooks)" = 2 ] || fail "b sent without its database session: $(kinds)"
# Another controller starts: it stands by while the server keeps b's session.
start_ctl a2 "$tmp/a.yaml"
a2_pid=$ctl_pid
wait_for 10 "a2 standing by" role_is "$api_a" standby
# The server loses b's session (the proxy resets it): a2 takes over and alerts, once.
proxy_mode refuse
wait_for 10 "a2 active" role_is "$api_a" active
wait_for 15 "the down alert, from a2" bash -c "[ \$(grep -c . '$tmp/http.jsonl') -ge 3 ]"
# b comes back to the database: it stands by, and what it held is not sent.
proxy_mode pass
wait_for 20 "b standing by again" role_is "$api_b" standby
sleep 2
[ "$(kinds)" = '["down","recovery","down"]' ] || fail "alerts across the cut: $(kinds)"
# What b held is recorded as abandoned by a controller standing by, not as sent.
abandoned() {
	[ "$(psql -d mpf -qAt -c "SELECT count(*) FROM deliveries
		WHERE ok = 0 AND detail LIKE 'abandoned: this controller stands by%'")" -ge 1 ]
}
wait_for 10 "b's held alert recorded as abandoned" abandoned
start_toggle "$port"
wait_for 15 "the recovery, from a2" bash -c "[ \$(grep -c . '$tmp/http.jsonl') -ge 4 ]"
sleep 2
[ "$(kinds)" = '["down","recovery","down","recovery"]' ] || fail "alerts in all: $(kinds)"
kill -TERM "$a2_pid" "$b_pid"
wait "$a2_pid" "$b_pid"
echo "ok: takeover after kill -9 in $took ms (longest gap of a probe $gap ms); a cut controller stopped acting within $lost_ms ms; 4 alerts, each once"
