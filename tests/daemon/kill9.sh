#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# kill -9 under load: the store opens clean afterwards and holds all but at
# most the last second of results.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
start_toggle "$port"
{
	echo "store: $tmp/mp.db"
	echo "http: {listen: \"off\"}"
	echo 'defaults: {interval: 30s, timeout: 5s, starttls: "no"}'
	echo "checks:"
	for i in $(seq 1 40); do echo "  - {name: c$i, url: \"pop3://127.0.0.1:$port\"}"; done
} >"$tmp/mp.yaml"
SCALE=0.02 start_daemon "$tmp/mp.yaml"
# Every check's first state written before the kill (a loaded machine may take
# seconds to start): what the restart must resume is then in the store, and
# the kill still lands mid-run, with the last second's rows in the queue.
all_stated() {
	"$MAILPULSE" status --store "$tmp/mp.db" --json 2>/dev/null |
		jq -e '[.checks[] | select(.state != null)] | length == 40' >/dev/null
}
wait_for 30 "a state for every check in the store" all_stated
sleep 2
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
logged=$(grep -c 'debug: check c' "$tmp/daemon.log")
"$MAILPULSE" status --store "$tmp/mp.db" --json >"$tmp/status.json" ||
	fail "store unreadable after kill -9"
stored=0
for c in $(jq -r '.checks[].check' "$tmp/status.json"); do
	# A check whose only results fell in the last second may be absent: that is the loss allowed.
	n=$("$MAILPULSE" history "$c" --store "$tmp/mp.db" --json --limit 10000 | jq '.results | length') ||
		fail "history of $c unreadable after kill -9"
	stored=$((stored + n))
done
[ "$stored" -gt 0 ] || fail "nothing stored"
# 40 checks at 0.6 s: about 67 results a second; one second of them may be lost.
lost=$((logged - stored))
[ "$lost" -ge 0 ] && [ "$lost" -le 80 ] || fail "kill -9: $logged logged, $stored stored"
# And the daemon starts again on the same store, resuming the states it
# left: no check goes through "pending" again.
mark=$(wc -l <"$tmp/daemon.log")
SCALE=0.02 start_daemon "$tmp/mp.yaml"
wait_for 10 "restart on the same store" bash -c "tail -n +$((mark + 1)) '$tmp/daemon.log' | grep -q 'running: 40 checks'"
wait_for 10 "probes after the restart" bash -c "tail -n +$((mark + 1)) '$tmp/daemon.log' | grep -q 'debug: check c'"
tail -n +$((mark + 1)) "$tmp/daemon.log" | grep -q 'pending ->' && fail "states not resumed after restart"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "restarted daemon did not stop cleanly"
echo "ok: $stored of $logged results survived kill -9; restart clean"
