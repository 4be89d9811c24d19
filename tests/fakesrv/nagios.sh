#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# `mailpulse check --nagios` as a Nagios core reads it: the first line is
# what the core shows and alerts on, so with several URLs it must state the
# worst result whatever the order of the URLs; a usage error is an UNKNOWN
# line on standard output (a core does not read stderr) with exit code 3.
set -uo pipefail
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-nagios.XXXXXX")
srv=
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)

# A healthy POP3 server, and a port that refuses.
"$FAKESRV" --port-file "$tmp/port" --max-conns 10 --lifetime 30 \
	"$here/../daemon/pop3_ok.scn" 2>"$tmp/srv.log" &
srv=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
ok=$(cat "$tmp/port")
"$FAKESRV" --port-file "$tmp/dead" --lifetime 1 /dev/null 2>/dev/null &
wait $!
dead=$(cat "$tmp/dead")

"$MAILPULSE" check --nagios --timeout 3 --starttls no "pop3://127.0.0.1:$ok" \
	"pop3://127.0.0.1:$dead" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 2 ] || fail "exit $rc, want 2: $(cat "$tmp/out" "$tmp/err")"
first=$(head -n 1 "$tmp/out")
case $first in
"POP3 CRITICAL - 2 checked: 1 critical, 1 ok; worst: POP3 CRITICAL - 127.0.0.1:$dead refused"*) ;;
*) fail "first line does not state the worst: $first" ;;
esac
case $first in *'|'*) fail "perfdata on the summary line: $first" ;; esac
[ "$(wc -l <"$tmp/out")" = 3 ] || fail "want a summary and one line per URL: $(cat "$tmp/out")"
sed -n 2p "$tmp/out" | grep -q "^POP3 OK - 127.0.0.1:$ok " || fail "line 2: $(sed -n 2p "$tmp/out")"
sed -n 3p "$tmp/out" | grep -q "^POP3 CRITICAL - 127.0.0.1:$dead refused.*|.*'pop3://127.0.0.1:$ok total'=.*'pop3://127.0.0.1:$dead total'=" ||
	fail "line 3 lacks the perfdata of every URL: $(sed -n 3p "$tmp/out")"

# All fine: OK, exit 0.
"$MAILPULSE" check --nagios --timeout 3 --starttls no "pop3://127.0.0.1:$ok" \
	"pop3://127.0.0.1:$ok" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] || fail "all ok: exit $rc: $(cat "$tmp/out" "$tmp/err")"
head -n 1 "$tmp/out" | grep -qx 'POP3 OK - 2 checked: 2 ok' || fail "all ok: $(head -n 1 "$tmp/out")"

# Usage errors: UNKNOWN on stdout, exit 3, wherever --nagios stands.
for args in "--nagios --bogus pop3://h" "--warn-ms x --nagios pop3://h" "--nagios" \
	"--nagios --json pop3://h"; do
	# shellcheck disable=SC2086
	"$MAILPULSE" check $args >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc = 3 ] || fail "$args: exit $rc, want 3"
	head -n 1 "$tmp/out" | grep -q '^MAILPULSE UNKNOWN - usage error: .' ||
		fail "$args: stdout is not an UNKNOWN line: '$(cat "$tmp/out")'"
	[ "$(wc -l <"$tmp/out")" = 1 ] || fail "$args: more than one line: $(cat "$tmp/out")"
done
# Without --nagios, stdout stays empty: scripts read the message on stderr.
"$MAILPULSE" check --bogus pop3://h >"$tmp/out" 2>/dev/null
[ $? = 3 ] && [ ! -s "$tmp/out" ] || fail "a usage error without --nagios wrote to stdout"
echo "nagios: ok"
