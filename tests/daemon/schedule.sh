#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The scheduler on real local servers (20x faster: interval 30s -> 1.5s):
# the first probe comes at once, probes follow on the interval grid, and a
# probe that outlasts its interval is never overlapped by the next.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
start_toggle "$port"
# A server that greets after 2 s, longer than the (scaled) interval.
cat >"$tmp/slow.scn" <<'SCN'
sleep 2000
send "+OK slow\r\n"
maybe_expect "CAPA"
send "-ERR\r\n"
maybe_expect "QUIT"
send "+OK\r\n"
close
SCN
"$FAKESRV" --port-file "$tmp/slow.port" --max-conns 1000 --lifetime 60 "$tmp/slow.scn" \
	2>"$tmp/slow.log" &
pids+=("$!")
wait_for 5 "slow server" test -s "$tmp/slow.port"
cat >"$tmp/mp.yaml" <<YAML
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 10s, starttls: "no"}
checks:
  - {name: fast, url: "pop3://127.0.0.1:$port"}
  - {name: slow, url: "pop3://127.0.0.1:$(cat "$tmp/slow.port")"}
YAML
t0=$(date +%s%3N)
start_daemon "$tmp/mp.yaml"
sleep 9
kill -TERM "$daemon_pid"
wait "$daemon_pid"

hist() { "$MAILPULSE" history "$1" --store "$tmp/mp.db" --json --limit 1000 | jq -c '[.results[] | {end: .ts_ms, total: .timings_ms.total}] | sort_by(.end)'; }
fast=$(hist fast)
slow=$(hist slow)
# First probe at once: its start (end - total) within 1 s of the daemon's start.
jq -e --argjson t0 "$t0" '.[0].end - .[0].total - $t0 < 1000' <<<"$fast" >/dev/null ||
	fail "first probe late: $fast (start $t0)"
# On the grid: the second probe at most one interval after the first (it
# moves to the check's own phase), then starts 1.5 s apart (+-0.3 s), none
# skipped and none twice.
jq -e '[range(1; length) as $i | (.[$i].end - .[$i].total) - (.[$i-1].end - .[$i-1].total)] |
	length >= 4 and .[0] > 0 and .[0] < 1800 and (.[1:] | all(. > 1200 and . < 1800))' \
	<<<"$fast" >/dev/null || fail "fast probes not on a 1.5 s grid: $fast"
# Never overlapping: each slow probe starts after the previous one ended.
jq -e 'length >= 2 and ([range(1; length) as $i | (.[$i].end - .[$i].total) >= .[$i-1].end] | all)' \
	<<<"$slow" >/dev/null || fail "slow probes overlap: $slow"
echo "ok: first probe at once, fast on a 1.5 s grid ($(jq length <<<"$fast") probes), slow never overlapped ($(jq length <<<"$slow") probes)"
