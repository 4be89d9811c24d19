#!/bin/bash
# SPDX-License-Identifier: ISC
# check.sh - run one `mailpulse check --json` against the private Dovecot
# and assert on its JSON line.
#
#   check.sh STATUS REASON [--messages N] [--tls yes|no|any] [--jq EXPR]... -- ARGS...
#
# Runs "$MAILPULSE check --json ARGS..." and asserts with jq that:
#   - stdout is exactly one JSON object, and mailpulse did not die of a signal;
#   - .status == STATUS and .reason == REASON;
#   - .timings_ms.total is a number > 0;
#   - TLS was used (.tls.version is a string) or not (.tls or .tls.version
#     is null). Default: yes for imaps:// and pop3s://, and for plain schemes
#     unless --starttls no is given (Dovecot always offers STARTTLS);
#     and with --ca-file, that .tls.verified is true;
#   - with --messages N: .messages == N;
#   - with --jq EXPR (repeatable): EXPR is true;
#   - no secret appears anywhere in stdout or stderr: the content of every
#     --password-file FILE argument and $MAILPULSE_PASSWORD.
#
# MAILPULSE is the path to the binary (CTest sets it). MP_CHECK_LIMIT bounds
# the run in seconds (default 45).

set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/jq.sh"

fail() {
	echo "FAIL: $*" >&2
	echo "command: ${cmd[*]}" >&2
	echo "exit status: ${rc:-?}" >&2
	echo "--- stdout" >&2
	cat "$out" >&2 2>/dev/null
	echo "--- stderr" >&2
	cat "$err" >&2 2>/dev/null
	exit 1
}

[ $# -ge 3 ] || {
	echo "usage: $0 STATUS REASON [--messages N] [--tls yes|no] -- ARGS..." >&2
	exit 2
}
want_status=$1
want_reason=$2
shift 2
want_messages=""
want_tls=""
extra_jq=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	case "$1" in
	--messages) want_messages=$2; shift 2 ;;
	--tls) want_tls=$2; shift 2 ;;
	--jq) extra_jq+=("$2"); shift 2 ;;
	*) echo "$0: unknown option '$1'" >&2; exit 2 ;;
	esac
done
[ "${1:-}" = "--" ] || { echo "$0: missing -- before the mailpulse arguments" >&2; exit 2; }
shift

: "${MAILPULSE:?set MAILPULSE to the mailpulse binary}"
[ -x "$MAILPULSE" ] || { echo "$0: $MAILPULSE is not an executable" >&2; exit 2; }
command -v jq >/dev/null || { echo "$0: jq is required" >&2; exit 2; }

# Work out what to expect from the arguments themselves.
secrets=()
scheme=""
starttls=""
ca_file=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	a=${args[$i]}
	case "$a" in
	--password-file) f=${args[$((i + 1))]:-}
		[ -r "$f" ] && secrets+=("$(cat "$f")") ;;
	--password-file=*) f=${a#--password-file=}
		[ -r "$f" ] && secrets+=("$(cat "$f")") ;;
	--ca-file | --ca-file=*) ca_file=yes ;;
	--starttls) starttls=${args[$((i + 1))]:-} ;;
	--starttls=*) starttls=${a#--starttls=} ;;
	imap://* | imaps://* | pop3://* | pop3s://*) [ -n "$scheme" ] || scheme=${a%%://*} ;;
	esac
done
if [ -n "${MAILPULSE_PASSWORD:-}" ]; then
	secrets+=("$MAILPULSE_PASSWORD")
fi
if [ -z "$want_tls" ]; then
	case "$scheme" in
	imaps | pop3s) want_tls=yes ;;
	*) if [ "$starttls" = no ]; then want_tls=no; else want_tls=yes; fi ;;
	esac
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/stdout
err=$tmp/stderr
cmd=("$MAILPULSE" check --json "$@")
# Well inside CTest's TIMEOUT, so that a hang still shows what was printed.
limit=${MP_CHECK_LIMIT:-45}
timeout -k 5 "$limit" "${cmd[@]}" >"$out" 2>"$err"
rc=$?

# Secrets first: a leak is the worst failure, whatever else went wrong.
for s in "${secrets[@]}"; do
	[ -n "$s" ] || continue
	if grep -qF -- "$s" "$out" "$err"; then
		# Do not echo the outputs: they hold the secret.
		echo "FAIL: a password appears in mailpulse's output (${cmd[*]})" >&2
		exit 1
	fi
done

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	fail "mailpulse did not finish within ${limit}s"
fi
[ "$rc" -lt 128 ] || fail "mailpulse died of signal $((rc - 128))"
lines=$(grep -c . "$out")
[ "$lines" -eq 1 ] || fail "expected one JSON line on stdout, got $lines"
jq -e 'type == "object"' "$out" >/dev/null 2>&1 || fail "stdout is not a JSON object"

check() {
	# $1 description, $2 jq filter that must be true
	jq -e "$2" "$out" >/dev/null 2>&1 || fail "$1"
}
check "status: want $want_status, got $(jq -c .status "$out")" ".status == \"$want_status\""
check "reason: want $want_reason, got $(jq -c .reason "$out")" ".reason == \"$want_reason\""
check "timings_ms.total: want a number > 0, got $(jq -c .timings_ms.total "$out")" \
	'(.timings_ms.total | type) == "number" and .timings_ms.total > 0'
if [ "$want_tls" = any ]; then
	: # the caller asserts on .tls itself (--jq)
elif [ "$want_tls" = yes ]; then
	check "tls.version: want a string, got $(jq -c .tls "$out")" \
		'(.tls.version | type) == "string"'
	if [ -n "$ca_file" ]; then
		check "tls.verified: want true with --ca-file, got $(jq -c .tls.verified "$out")" \
			'.tls.verified == true'
	fi
else
	check "tls: want null (no TLS), got $(jq -c .tls "$out")" \
		'.tls == null or .tls.version == null'
fi
if [ -n "$want_messages" ]; then
	check "messages: want $want_messages, got $(jq -c .messages "$out")" \
		".messages == $want_messages"
fi

for e in "${extra_jq[@]}"; do
	check "not true: $e" "$e"
done

echo "ok: $want_status $want_reason ($(jq -c '{tls: .tls.version, total: .timings_ms.total, messages}' "$out"))"
exit 0
