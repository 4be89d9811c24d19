#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Reloads while probes are in flight (the scheduler holds a check_spec per
# check and one per running probe). The servers greet after 600 ms, so
# many reloads land while a probe runs. Each reload flips crit_ms of check
# "flip" (a server of its own) between off and 300 ms: a probe runs with the spec it started
# with, so each result is judged by the configuration in force at its
# start (up under the first, degraded under the second), also a result
# whose probe started before a reload and ended after it. "churn" is
# removed and added again each time (its probe in flight cancelled);
# "keep" never changes and keeps probing. Run under ASan, nothing is used
# after it is freed.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
fport=$(free_port)
cat >"$tmp/slow.scn" <<'SCN'
sleep 600
send "+OK slow\r\n"
maybe_expect "CAPA"
send "+OK Capability list follows\r\nUSER\r\n.\r\n"
maybe_expect "QUIT"
send "+OK bye\r\n"
close
SCN
for p in "$port" "$fport"; do
	"$FAKESRV" --port "$p" --max-conns 100000 --lifetime 120 "$tmp/slow.scn" 2>>"$tmp/slow.log" &
	pids+=("$!")
	wait_for 5 "slow server listening" bash -c "exec 3<>/dev/tcp/127.0.0.1/$p"
done
conf() { # $1: flip's crit_ms; $2: 1 with churn
	cat <<YAML
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 5s, starttls: "no", fail_after: 1}
checks:
  - {name: keep, url: "pop3://127.0.0.1:$port"}
  - {name: flip, url: "pop3://127.0.0.1:$fport", crit_ms: $1}
YAML
	[ "$2" = 1 ] && echo "  - {name: churn, url: \"pop3://127.0.0.1:$port\"}"
	return 0
}
history() { "$MAILPULSE" history "$1" --store "$tmp/mp.db" --json --limit 10000; }
ms() { date +%s%3N; }

conf 0 1 >"$tmp/mp.yaml"
start_daemon "$tmp/mp.yaml"
wait_for 15 "flip probed" bash -c "$(declare -f status_json state_is); tmp=$tmp MAILPULSE=$MAILPULSE; state_is flip up"
# "T CRIT" per reload: from T (unix ms, just before the signal) flip's crit_ms is CRIT.
: >"$tmp/reloads"
for i in $(seq 1 16); do
	if [ $((i % 2)) = 1 ]; then crit=300 churn=0; else crit=0 churn=1; fi
	conf "$crit" "$churn" >"$tmp/mp.yaml"
	echo "$(ms) $crit" >>"$tmp/reloads"
	kill -HUP "$daemon_pid"
	wait_for 10 "reload $i" bash -c "[ \$(grep -c 'reloaded:' '$tmp/daemon.log') -ge $i ]"
	sleep 0.$((5 + RANDOM % 5))
done
sleep 2.5 # the last probes end and are written
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died during the reloads"

# Each of flip's results against the crit_ms in force when its probe
# started. A reload is applied a moment after its signal: results that
# started within 150 ms of one are left out.
history flip | jq -r '.results[] | "\(.ts_ms) \(.timings_ms.total) \(.status)"' >"$tmp/flip"
awk -v R="$tmp/reloads" '
	BEGIN { n = 0; while ((getline l < R) > 0) { split(l, f, " "); t[n] = f[1]; c[n] = f[2]; n++ } }
	{
		start = $1; end = $1 + $2; crit = 0; near = 0; straddle = 0
		for (i = 0; i < n; i++) {
			if (t[i] <= start) crit = c[i]
			if (start >= t[i] && start < t[i] + 150) near = 1
			if (start < t[i] && end > t[i] + 150) straddle = 1
		}
		if (near) next
		want = crit > 0 ? "degraded" : "up"
		checked++
		if (straddle) straddled++
		if ($3 != want) { print "result at " start " (ended " end "): " $3 ", want " want " (crit_ms " crit ")"; bad++ }
	}
	END {
		print "checked " checked ", across a reload " straddled + 0 > "/dev/stderr"
		if (checked < 5) { print "only " checked " results to judge"; bad++ }
		if (straddled < 1) { print "no probe was in flight across a reload"; bad++ }
		exit bad > 0
	}' "$tmp/flip" >"$tmp/judged" || fail "flip's results: $(cat "$tmp/judged")"
# keep went on probing through every reload; churn's history stays readable.
[ "$(history keep | jq '.results | length')" -ge 8 ] || fail "keep stopped probing"
history churn | jq -e '.results | length >= 1' >/dev/null || fail "churn never probed"
grep -q 'reloaded: 3 checks (1 added' "$tmp/daemon.log" || fail "churn was never added back"
grep -E -q 'AddressSanitizer|runtime error' "$tmp/daemon.log" && fail "sanitizer report"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "the daemon exited with $?"
grep -E -q 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp/daemon.log" && fail "sanitizer report at exit"
echo "ok: 16 reloads with probes in flight; each result judged by the spec it started with"
