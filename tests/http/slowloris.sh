#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Connection exhaustion must not blind the monitor. The daemon runs with
# open files soft 128 / hard 256 while three client addresses hold 270
# slow connections (one byte every 2 s, never a whole request): more than
# one address may hold (64) and more than the cap the descriptors leave.
# While that lasts, probes of a healthy POP3 server stay up (never unknown,
# "Too many open files"), /healthz answers, the caps are logged and counted
# in /metrics, and the daemon does not spin (its CPU time over the window
# stays well under the window). Then one trickling connection alone is
# closed by the request deadline, not kept alive by its bytes.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hp"}
max_in_flight: 8
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
checks:
  - {name: pop-ok, url: "pop3://127.0.0.1:$pop3_port"}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
# Soft limit first: the hard one cannot go below it.
MAILPULSE_TIME_SCALE=0.05 bash -c 'ulimit -Sn 128 && ulimit -Hn 256 && exec "$0" run -c "$1" -v' \
	"$MAILPULSE" "$tmp/mp.yaml" >>"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
pids+=("$daemon_pid")
base=http://127.0.0.1:$hp
wait_for 10 "daemon serving /healthz" curl -sf "$base/healthz"
wait_for 15 "pop-ok up" api_state_is pop-ok up

cpu() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }
probed() { curl -sf "$base/api/v1/checks/pop-ok" | jq '.probes'; }
hz=$(getconf CLK_TCK)
cpu0=$(cpu)
t0=$(date +%s.%N)
probes0=$(probed)

python3 "$here/slowloris.py" --port "$hp" --from 127.0.0.2:90 --from 127.0.0.3:90 \
	--from 127.0.0.4:90 --seconds 14 --tick 2 >"$tmp/loris.json" 2>"$tmp/loris.err" &
loris=$!
pids+=("$loris")
sleep 2
asked=0 answered=0
while kill -0 "$loris" 2>/dev/null; do
	asked=$((asked + 1))
	[ "$(curl -s -m 5 "$base/healthz")" = ok ] && answered=$((answered + 1))
	last=$(curl -s -m 5 "$base/api/v1/checks/pop-ok" | jq -r '.last.status // "none"')
	[ "$last" = up ] || fail "during the attack, pop-ok's last probe is '$last', not up"
	sleep 1.5
done
wait "$loris" || fail "slowloris.py failed: $(cat "$tmp/loris.err")"
cpu1=$(cpu)
t1=$(date +%s.%N)
echo "slowloris: $(cat "$tmp/loris.json")"

[ "$asked" -ge 4 ] || fail "only $asked /healthz requests were tried during the attack"
[ "$answered" -eq "$asked" ] || fail "/healthz answered $answered of $asked requests during the attack"
jq -e '.opened > 270 and .closed > 0' "$tmp/loris.json" >/dev/null ||
	fail "the attack did not run as planned: $(cat "$tmp/loris.json")"

# The daemon's CPU time over the window: a spin would take all of it.
read -r used window < <(awk -v a="$cpu0" -v b="$cpu1" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
	'BEGIN { printf "%.2f %.2f\n", (b - a) / hz, t1 - t0 }')
echo "daemon CPU: ${used}s over ${window}s"
awk -v u="$used" -v w="$window" 'BEGIN { exit !(u < w / 4) }' ||
	fail "the daemon used ${used}s of CPU in ${window}s: it spins"

# Probes went on, every one of them up: the store and probes had their descriptors.
probes1=$(probed)
[ "$probes1" -ge $((probes0 + 4)) ] || fail "probes stalled during the attack ($probes0 -> $probes1)"
"$MAILPULSE" history pop-ok --store "$tmp/mp.db" --json --limit 10000 >"$tmp/hist.json" ||
	fail "history unreadable"
bad=$(jq '[.results[] | select(.status != "up")] | length' "$tmp/hist.json")
[ "$bad" -eq 0 ] || fail "$bad results not up: $(jq -c '[.results[] | select(.status != "up") | .message][:3]' "$tmp/hist.json")"
grep -q 'Too many open files' "$tmp/daemon.log" && fail "something ran out of descriptors"

grep -q 'open files: up to 256 (raised from 128 to the hard limit)' "$tmp/daemon.log" ||
	fail "the open files limit raise is not logged"
cap=$(sed -n 's/.*http: up to \([0-9]*\) connections, \([0-9]*\) per client address.*/\1/p' "$tmp/daemon.log" | tail -n 1)
[ -n "$cap" ] && [ "$cap" -lt 256 ] || fail "no connection cap under the open files limit logged (cap: '$cap')"

# Both caps were hit, logged and counted.
grep -q 'http: connection limit: 127\.0\.0\.[234] already has 64 connections open' "$tmp/daemon.log" ||
	fail "the per-address cap is not logged"
grep -q "http: connection limit: $cap connections open, the most allowed" "$tmp/daemon.log" ||
	fail "the total cap is not logged"
curl -sf "$base/metrics" >"$tmp/metrics" || fail "/metrics unreadable"
for l in per_address total; do
	grep -Eq "^mailpulse_http_connections_limited_total\{limit=\"$l\"\} [1-9]" "$tmp/metrics" ||
		fail "limit $l not counted: $(grep mailpulse_http "$tmp/metrics")"
done
grep -qx "mailpulse_http_connections_max $cap" "$tmp/metrics" || fail "the cap is not in /metrics"

# One connection trickling a byte every 2 s is closed by the deadline (10 s), not kept by its bytes.
python3 "$here/slowloris.py" --port "$hp" --from 127.0.0.5:1 --seconds 16 --tick 2 >"$tmp/one.json" ||
	fail "slowloris.py failed"
jq -e '.first_close_s != null and .first_close_s >= 8 and .first_close_s <= 14' "$tmp/one.json" >/dev/null ||
	fail "a trickling connection was not closed by the deadline: $(cat "$tmp/one.json")"
curl -sf "$base/metrics" | grep -Eq '^mailpulse_http_connections_limited_total\{limit="deadline"\} [1-9]' ||
	fail "the deadline is not counted"
grep -q 'http: connection from 127\.0\.0\.[2-5] closed: no complete request within 10 s' "$tmp/daemon.log" ||
	fail "the deadline is not logged"
kill -0 "$daemon_pid" || fail "the daemon died"
echo "http slowloris: ok"
