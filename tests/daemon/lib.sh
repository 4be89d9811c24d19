# SPDX-License-Identifier: ISC
# lib.sh - shared by the daemon's end-to-end tests. Source it; it sets
# $tmp (removed at exit unless KEEP=1) and stops every process it started.
# Needs MAILPULSE, FAKESRV, HTTP_SINK, SMTP_SINK, CERTGEN in the environment.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/jq.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-daemon.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$tmp/daemon.log" ]; then
		echo "--- daemon log (last 40 lines)" >&2
		tail -n 40 "$tmp/daemon.log" >&2
	fi
	exit 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local limit=$1 what=$2
	shift 2
	local end=$((SECONDS + limit))
	while [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "after ${limit}s still not: $what"
}

# A port that was free a moment ago, for servers that must come back on it.
free_port() {
	local pf=$tmp/pf.$RANDOM
	"$FAKESRV" --port-file "$pf" --lifetime 1 /dev/null 2>/dev/null &
	local p=$!
	for _ in $(seq 50); do [ -s "$pf" ] && break; sleep 0.02; done
	cat "$pf"
	kill $p 2>/dev/null
	wait $p 2>/dev/null
}

# start_toggle PORT: the healthy POP3 server, serving every connection.
start_toggle() {
	"$FAKESRV" --port "$1" --max-conns 100000 --lifetime 120 \
		"$(dirname "$0")/pop3_ok.scn" 2>>"$tmp/toggle.log" &
	toggle_pid=$!
	pids+=("$toggle_pid")
	wait_for 5 "toggle server listening on $1" \
		bash -c "exec 3<>/dev/tcp/127.0.0.1/$1"
}

stop_toggle() {
	kill "$toggle_pid" 2>/dev/null
	wait "$toggle_pid" 2>/dev/null
}

start_http_sink() {
	"$HTTP_SINK" --port-file "$tmp/http.port" --out "$tmp/http.jsonl" --lifetime 120 \
		2>>"$tmp/http.log" &
	pids+=("$!")
	wait_for 5 "http sink started" test -s "$tmp/http.port"
	http_port=$(cat "$tmp/http.port")
}

start_smtp_sink() {
	"$CERTGEN" --out "$tmp/ca" --cn "mp test CA" --ca >/dev/null
	"$CERTGEN" --out "$tmp/smtp" --cn localhost --issuer "$tmp/ca" \
		--san DNS:localhost,IP:127.0.0.1 >/dev/null
	mkdir -p "$tmp/mail"
	"$SMTP_SINK" --port-file "$tmp/smtp.port" --out "$tmp/mail" --cert "$tmp/smtp.crt" \
		--key "$tmp/smtp.key" --require-tls --auth alerts:smtp-Pa55-e2e --lifetime 120 \
		2>>"$tmp/smtp.log" &
	pids+=("$!")
	wait_for 5 "smtp sink started" test -s "$tmp/smtp.port"
	smtp_port=$(cat "$tmp/smtp.port")
}

# start_daemon CONFIG: the daemon, 20 times faster than real time.
start_daemon() {
	MAILPULSE_TIME_SCALE=${SCALE:-0.05} "$MAILPULSE" run -c "$1" -v >>"$tmp/daemon.log" 2>&1 &
	daemon_pid=$!
	pids+=("$daemon_pid")
}

# JSON of `mailpulse status` for the test store.
status_json() { "$MAILPULSE" status --store "$tmp/mp.db" --json; }
# jq -e is true on empty input (jq 1.6): no store yet must not count as a state.
state_is() {
	local j
	j=$(status_json) && [ -n "$j" ] && jq -e --arg c "$1" --arg s "$2" \
		'[.checks[] | select(.check == $c) | .state == $s] == [true]' >/dev/null <<<"$j"
}
