#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# 300 new checks do not fire in the same instant: their first probes are
# spread over min(10 s, 10 ms per check) = 3 s, in real time (no scaling).
. "$(dirname "$0")/lib.sh"

port=$(free_port)
start_toggle "$port"
{
	echo "store: $tmp/mp.db"
	echo 'http: {listen: "off"}'
	echo 'defaults: {interval: 60s, timeout: 5s, starttls: "no"}'
	echo "checks:"
	for i in $(seq 1 300); do echo "  - {name: c$i, url: \"pop3://127.0.0.1:$port\"}"; done
} >"$tmp/mp.yaml"
SCALE=1 start_daemon "$tmp/mp.yaml"
t0=$(date +%s%3N)
wait_for 15 "300 first results stored" bash -c \
	"[ \$('$MAILPULSE' status --store '$tmp/mp.db' --json | jq '[.checks[] | select(.last != null)] | length') -eq 300 ]"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
starts=$("$MAILPULSE" status --store "$tmp/mp.db" --json | jq -c '[.checks[].last.ts_ms] | sort')
jq -e --argjson t0 "$t0" '
	(.[-1] - .[0]) as $span |
	(group_by(((. - $t0) / 500) | floor) | map(length) | max) as $peak |
	$span >= 2000 and $span <= 4000 and $peak <= 90' <<<"$starts" >/dev/null ||
	fail "first probes not spread over ~3 s: span $(jq '.[-1] - .[0]' <<<"$starts") ms, per 500 ms: $(jq -c --argjson t0 "$t0" 'group_by(((. - $t0) / 500) | floor) | map(length)' <<<"$starts")"
echo "ok: 300 first probes over $(jq '.[-1] - .[0]' <<<"$starts") ms, at most $(jq -c --argjson t0 "$t0" 'group_by(((. - $t0) / 500) | floor) | map(length) | max' <<<"$starts") per 500 ms"
