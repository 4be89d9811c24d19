#!/bin/bash
# SPDX-License-Identifier: ISC
# dns.sh - the DNS path against a fake resolver (dnsfake) on 127.0.0.1,
# named through MAILPULSE_RESOLV_CONF: an answer, a refusal, no such
# name, silence past the probe's deadline, and a resolver that lies.
#
#   dns.sh answer|servfail|nxdomain|silent|silent-long|garbage|nofile
#
# Needs MAILPULSE, DNSFAKE, FAKESRV and SCENARIO (a healthy POP3 server
# scenario) in the environment.

set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/jq.sh"
: "${MAILPULSE:?}" "${DNSFAKE:?}" "${FAKESRV:?}" "${SCENARIO:?}"
mode=${1:?usage: dns.sh MODE}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

FAIL_WHAT=$mode
. "$(dirname "${BASH_SOURCE[0]}")/../lib/assert.sh"
expect() { jq -e "$2" "$tmp/out" >/dev/null 2>&1 || fail "$1"; }
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; fail "no $1"; }

"$FAKESRV" --port-file "$tmp/srv.port" --max-conns 100 --lifetime 60 "$SCENARIO" \
	2>>"$tmp/fakesrv.log" &
pids+=("$!")
wait_file "$tmp/srv.port"
srv=$(cat "$tmp/srv.port")

if [ "$mode" = nofile ]; then
	MAILPULSE_RESOLV_CONF=$tmp/missing.conf timeout 20 "$MAILPULSE" check --json \
		"pop3://mail.test:$srv" --starttls no >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 3 ] || fail "a resolv.conf that cannot be read: want exit 3 (unknown), got $rc"
	grep -q "MAILPULSE_RESOLV_CONF=$tmp/missing.conf: cannot be read" "$tmp/err" ||
		fail "the error does not name the file"
	echo "ok: dns nofile"
	exit 0
fi

# silent-long: the same silence, with a deadline past libevent's own retries.
deadline=2
[ "$mode" = silent-long ] && deadline=12
"$DNSFAKE" --port-file "$tmp/dns.port" --mode "${mode%-long}" --lifetime 60 2>>"$tmp/dnsfake.log" &
pids+=("$!")
wait_file "$tmp/dns.port"
printf 'nameserver 127.0.0.1:%s\n' "$(cat "$tmp/dns.port")" >"$tmp/resolv.conf"

start=$SECONDS
MAILPULSE_RESOLV_CONF=$tmp/resolv.conf timeout 30 "$MAILPULSE" check --json --timeout "$deadline" \
	"pop3://mail.test:$srv" --starttls no >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -lt 124 ] || fail "mailpulse did not finish (exit $rc)"
[ $((SECONDS - start)) -le $((deadline + 3)) ] ||
	fail "took $((SECONDS - start)) s with a $deadline s deadline"
expect "one JSON object" 'type == "object"'
# libevent's own chatter ("Nameserver ... has failed") stays out of the output.
[ ! -s "$tmp/err" ] || fail "unexpected output on stderr"

case $mode in
answer)
	expect "up through the resolver's answer" '.status == "up" and .reason == "ok"'
	expect "the resolved address is used" ".address == \"127.0.0.1:$srv\""
	expect "DNS time is measured" '(.timings_ms.dns | type) == "number"'
	;;
servfail | nxdomain | garbage)
	# A malformed answer is a failed lookup at once, not a wait for a good one.
	expect "down with reason dns" '.status == "down" and .reason == "dns"'
	expect "the message names the host" '.message | test("cannot resolve mail\\.test: ")'
	expect "no address was tried" '.address == null'
	case $mode in
	nxdomain) expect "the message says NXDOMAIN" '.message | test("no such name \\(NXDOMAIN\\)")' ;;
	*) expect "the message says the resolver answered, uselessly, at once" \
		'.message | test("no usable answer from the resolver in 0\\.[0-9] s")' ;;
	esac
	;;
silent)
	# No usable answer before the deadline: a timeout in the DNS step.
	expect "down with reason timeout" '.status == "down" and .reason == "timeout"'
	expect "the message says DNS and the deadline" \
		'.message == "no DNS answer for mail.test within 2.0 s"'
	expect "the DNS step took the deadline" '.timings_ms.dns >= 1900'
	expect "no address was tried" '.address == null'
	;;
silent-long)
	# libevent gives up first (two tries of 3 s): a failed lookup that says how long it waited.
	expect "down with reason dns" '.status == "down" and .reason == "dns"'
	expect "the message says how long the resolver was silent" \
		'.message | test("no usable answer from the resolver in [5-9]\\.[0-9] s")'
	;;
*)
	fail "unknown mode"
	;;
esac
echo "ok: dns $mode"
