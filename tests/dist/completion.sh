#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# dist/completion/mailpulse.bash really completes: a plain bash with the
# script sourced, COMP_WORDS/COMP_CWORD set as bash sets them, the function
# called, COMPREPLY read. Every long option that `mailpulse check --help`
# and `mailpulse run --help` print must be offered, so an option added
# without its completion fails here. Check names come from the
# configuration given with -c, through `mailpulse config checks`.
set -uo pipefail
: "${MAILPULSE:?}"
here=$(cd "$(dirname "$0")" && pwd)
script=$here/../../dist/completion/mailpulse.bash
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-compl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# complete WORD...: the last word is the one being completed; prints
# COMPREPLY, one per line. The binary is the one under test.
complete_words() {
	MP_BIN=$MAILPULSE bash --norc --noprofile -c '
		. "$1" || exit 99
		shift
		COMP_WORDS=("$MP_BIN" "$@")
		COMP_CWORD=$(($# ))
		COMP_LINE="${COMP_WORDS[*]}"
		COMP_POINT=${#COMP_LINE}
		_mailpulse "$MP_BIN" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$script" "$@"
}

# expect_set WANT GOT-WORDS...: GOT (sorted) equals WANT (space separated, sorted).
expect_set() {
	local want=$1 got
	shift
	got=$(complete_words "$@" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] || fail "completing '$*': got '$got', want '$want'"
}

bash --norc -n "$script" || fail "$script: bash syntax"
reg=$(bash --norc -c ". '$script' && complete -p mailpulse")
grep -q -- '-F _mailpulse mailpulse' <<<"$reg" || fail "the script does not register _mailpulse: $reg"

# Subcommands.
expect_set "check config" c
expect_set "help history" h
# Captured first: grep -q leaving early would kill the writer (SIGPIPE, pipefail).
all=$(complete_words "")
grep -qx incidents <<<"$all" || fail "no 'incidents' among the subcommands: $all"

# Every long option of check and run is offered after "--".
for cmd in check run; do
	opts=$("$MAILPULSE" $cmd --help | grep -oE -- '--[a-z][a-z0-9-]+' | LC_ALL=C sort -u)
	[ "$(wc -l <<<"$opts")" -ge 4 ] || fail "mailpulse $cmd --help shows almost no options: $opts"
	offered=$(complete_words $cmd --)
	for o in $opts; do
		grep -qx -- "$o" <<<"$offered" ||
			fail "mailpulse $cmd $o is not completed (dist/completion/mailpulse.bash lacks it)"
	done
	echo "$cmd: $(wc -l <<<"$opts") long options, all completed"
done
expect_set "--resolve" check --no-cert-lifetime --re
expect_set "--no-cert-lifetime" check --no-

# Option values and URLs.
expect_set "auto no require" check --starttls ""
expect_set "1.0 1.1 1.2 1.3" check --min-tls 1.
expect_set "report warn" check --posture ""
expect_set "imap:// imaps://" check --json imap
expect_set "json text" run --log-format ""
expect_set "check checks" config che

# Check names, from the configuration on the line.
cat >"$tmp/mp.yaml" <<YAML
store: $tmp/mp.db
checks:
  - {name: imap-main, url: "imaps://127.0.0.1:993"}
  - {name: imap-backup, url: "imaps://127.0.0.1:994"}
  - {name: pop3-main, url: "pop3s://127.0.0.1:995"}
YAML
"$MAILPULSE" config checks "$tmp/mp.yaml" >"$tmp/names" || fail "mailpulse config checks exited $?"
printf 'imap-main\nimap-backup\npop3-main\n' | diff -u - "$tmp/names" ||
	fail "mailpulse config checks printed the names above"
expect_set "imap-backup imap-main pop3-main" history -c "$tmp/mp.yaml" ""
expect_set "imap-backup imap-main" uptime --config "$tmp/mp.yaml" imap
expect_set "pop3-main" incidents --config="$tmp/mp.yaml" p
# As bash really splits "--config=FILE" and "--starttls=" (at the '=').
expect_set "pop3-main" incidents --config = "$tmp/mp.yaml" p
expect_set "auto no require" check --starttls = ""
expect_set "--since" history -c "$tmp/mp.yaml" --si
# status takes no NAME; a file argument completes files.
expect_set "" status -c "$tmp/mp.yaml" imap
expect_set "$tmp/mp.yaml" run -c "$tmp/mp."

# An invalid configuration completes no name and prints nothing on the terminal.
printf 'checks: [\n' >"$tmp/bad.yaml"
"$MAILPULSE" config checks "$tmp/bad.yaml" >/dev/null 2>"$tmp/err" && fail "config checks accepted bad.yaml"
grep -q "bad.yaml:" "$tmp/err" || fail "config checks did not name the file: $(cat "$tmp/err")"
out=$(complete_words history -c "$tmp/bad.yaml" "" 2>&1)
[ -z "$out" ] || fail "completion with an invalid file printed: $out"
# Usage errors of the new subcommand.
"$MAILPULSE" config checks >/dev/null 2>&1
[ $? -eq 3 ] || fail "config checks without FILE: exit is not 3"
"$MAILPULSE" config checks --bogus "$tmp/mp.yaml" >/dev/null 2>&1
[ $? -eq 3 ] || fail "config checks --bogus: exit is not 3"
echo "dist completion: ok"
