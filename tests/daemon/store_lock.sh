#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# One daemon per store: a second `mailpulse run` on the same store refuses
# to start, quickly and naming the running one's PID, while the reports
# still read the store; after kill -9 of the first, a new daemon starts at
# once (the lock dies with its process; the PID in the file only informs).
. "$(dirname "$0")/lib.sh"

port=$(free_port)
start_toggle "$port"
# No listener: a second daemon must be refused for the store, not the port.
cat >"$tmp/mp.yaml" <<EOF
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 5s, starttls: "no"}
checks:
  - {name: c1, url: "pop3://127.0.0.1:$port"}
EOF
start_daemon "$tmp/mp.yaml"
first=$daemon_pid
wait_for 15 "the first daemon running" grep -q 'running:' "$tmp/daemon.log"

t0=$(date +%s%N)
MAILPULSE_TIME_SCALE=0.05 timeout 10 "$MAILPULSE" run -c "$tmp/mp.yaml" >"$tmp/second.log" 2>&1
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" -ne 124 ] || fail "a second daemon ran on the same store for 10 s: $(cat "$tmp/second.log")"
[ "$rc" -eq 1 ] || fail "the second daemon exited $rc, not 1: $(cat "$tmp/second.log")"
[ "$ms" -lt 2000 ] || fail "the refusal took $ms ms"
grep -qF "store $tmp/mp.db is in use by mailpulse run (pid $first)" "$tmp/second.log" ||
	fail "the refusal does not name the running daemon: $(cat "$tmp/second.log")"
kill -0 "$first" || fail "the first daemon died"

# Readers work beside the running daemon.
wait_for 10 "status readable while the daemon runs" bash -c \
	"'$MAILPULSE' status --store '$tmp/mp.db' --json | jq -e '.checks | length == 1'"
"$MAILPULSE" history c1 --store "$tmp/mp.db" >/dev/null || fail "history unreadable while the daemon runs"

# kill -9 leaves the lock file behind, with the dead PID in it: not a lock.
kill -9 "$first"
wait "$first" 2>/dev/null
[ -e "$tmp/mp.db.lock" ] || fail "no lock file next to the store"
mark=$(wc -l <"$tmp/daemon.log")
start_daemon "$tmp/mp.yaml"
wait_for 10 "a new daemon running after kill -9 of the first" bash -c \
	"tail -n +$((mark + 1)) '$tmp/daemon.log' | grep -q 'running:'"
tail -n +$((mark + 1)) "$tmp/daemon.log" | grep -q 'in use' && fail "the stale lock blocked the start"
[ "$(tr -d '\n' <"$tmp/mp.db.lock")" = "$daemon_pid" ] ||
	fail "the lock file holds '$(cat "$tmp/mp.db.lock")', not the new PID $daemon_pid"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "the new daemon did not stop cleanly"
echo "ok: second daemon refused in $ms ms; restart after kill -9 fine"
