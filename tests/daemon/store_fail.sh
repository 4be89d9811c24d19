#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A store that fails every write: another program keeps SQLite's write lock
# (BEGIN IMMEDIATE), so each flush ends in SQLITE_BUSY after the busy
# timeout. The failure line carries SQLite's own message and is not
# repeated every second (first failure, then a summary per period: 60 s,
# 3 s at this time scale); the probes go on meanwhile (a failing flush
# does not hold up the loop); the stop says exactly what was written (0)
# and what was lost, and exits non-zero; the store really holds nothing more.
. "$(dirname "$0")/lib.sh"

problems=()
problem() { problems+=("$*"); }
# poll SECONDS COMMAND...: like wait_for, but a miss is a problem to report, not the end.
poll() {
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# Results of both checks in the store, as `mailpulse history` reads them.
stored() {
	local n=0 c k
	for c in c1 c2; do
		k=$("$MAILPULSE" history "$c" --store "$tmp/mp.db" --json --limit 10000 |
			jq '.results | length') || return 1
		n=$((n + k))
	done
	echo "$n"
}

port=$(free_port)
start_toggle "$port"
cat >"$tmp/mp.yaml" <<EOF
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 5s, starttls: "no"}
checks:
  - {name: c1, url: "pop3://127.0.0.1:$port"}
  - {name: c2, url: "pop3://127.0.0.1:$port"}
EOF
start_daemon "$tmp/mp.yaml"
wait_for 15 "results of both checks in the store" bash -c \
	"[ \"\$('$MAILPULSE' status --store '$tmp/mp.db' --json | jq '[.checks[] | select(.last != null)] | length')\" = 2 ]"

"$STORE_CRASH" hold "$tmp/mp.db" >"$tmp/hold.out" 2>&1 &
hold_pid=$!
pids+=("$hold_pid")
wait_for 15 "the write lock held by another program" grep -q held "$tmp/hold.out"
before=$(stored) || fail "store unreadable while another program holds the write lock"
mark=$(wc -l <"$tmp/daemon.log")
since_mark() { tail -n +$((mark + 1)) "$tmp/daemon.log"; }
since_mark_has() { since_mark | grep -q "$1"; }

# The first failure, at once, with SQLite's words and code.
if poll 15 since_mark_has 'store.*fail'; then
	first=$(since_mark | grep -m1 'store.*fail')
	[[ $first == *"database is locked"* && $first == *SQLITE_BUSY* ]] ||
		problem "the flush failure line lacks SQLite's message and code: $first"
else
	problem "no flush failure logged within 15 s"
fi
# Then a summary per period with a count, not one line per failed flush.
summaries() { [ "$(since_mark | grep -c 'store: writing still failing')" -ge "$1" ]; }
if poll 15 summaries 2; then
	summary=$(since_mark | grep -m1 'store: writing still failing')
	[[ $summary =~ ([0-9]+)\ failed\ flushes\ in\ all && ${BASH_REMATCH[1]} -ge 2 ]] ||
		problem "the summary does not count the failures: $summary"
	[[ $summary == *"database is locked"* ]] || problem "the summary lacks SQLite's message: $summary"
else
	problem "no summary of the failures within 15 s"
fi
lines=$(since_mark | grep -c 'store.*fail')
failed=$(since_mark | grep -o '[0-9]* failed flushes in all' | tail -n 1 | awk '{print $1 + 0}')
[ "$lines" -lt "${failed:-0}" ] || problem "$lines failure lines for ${failed:-?} failed flushes: the log is flooded"

# Stop while the store still fails: nothing can be written, and the log says so.
queued_probes=$(since_mark | grep -c 'debug: check c')
# Two checks every 1.5 s for the 6 s or more since the lock: about 8 results.
[ "$queued_probes" -ge 4 ] || problem "only $queued_probes results while the store failed: probing stalled"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
stop=$(since_mark | grep 'stopped;' || true)
if [[ $stop =~ stopped\;\ 0\ of\ ([0-9]+)\ queued\ rows\ written,\ ([0-9]+)\ lost ]]; then
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[2]}" -ge "$queued_probes" ] ||
		problem "stop line miscounts ($queued_probes results were queued): $stop"
	[[ $stop == *"database is locked"* ]] || problem "the stop line lacks SQLite's message: $stop"
	[[ $stop == *error:* ]] || problem "rows lost at stop, but not logged as an error: $stop"
else
	problem "the stop line does not say 0 written, N lost: ${stop:-no stop line}"
fi
[ "$rc" -ne 0 ] || problem "exit status 0 although queued rows were lost"

# And the store indeed holds nothing written after the lock was taken.
kill -TERM "$hold_pid"
wait "$hold_pid" 2>/dev/null
after=$(stored) || fail "store unreadable after the stop"
[ "$after" = "$before" ] || problem "the store holds $after results, $before before the lock"

if [ ${#problems[@]} -gt 0 ]; then
	printf 'problem: %s\n' "${problems[@]}" >&2
	fail "${#problems[@]} problem(s)"
fi
echo "ok: failures reported with SQLite's message, $lines lines for $failed failures; stop: $stop"
