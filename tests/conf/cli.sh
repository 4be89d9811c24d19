#!/bin/sh
# SPDX-License-Identifier: ISC
# cli.sh MAILPULSE SRCDIR - `mailpulse config check` as an admin runs it:
# exit codes, the OK line, errors on stderr only, and the shipped example.
set -u
mp=$1
dir=$2/tests/conf
example=$2/docs/mailpulse.conf.example
fails=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# expect CODE ARGS...: run, compare the exit code
expect() {
	want=$1
	shift
	"$mp" "$@" >"$out" 2>"$err"
	got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: mailpulse $* exited $got, expected $want"
		sed 's/^/  stdout: /' "$out"
		sed 's/^/  stderr: /' "$err"
		fails=$((fails + 1))
	fi
}

export MP_TEST_TG_TOKEN=token MP_TEST_POP_PASSWORD=password

expect 0 config check "$dir/good/full.yaml"
grep -qx "$dir/good/full.yaml: OK, 4 checks, 6 channels" "$out" ||
	{ echo "FAIL: OK line: $(cat "$out")"; fails=$((fails + 1)); }
[ -s "$err" ] && { echo "FAIL: stderr on success"; fails=$((fails + 1)); }

expect 0 config check -v "$dir/good/full.yaml"
grep -q "password: (set)" "$out" || { echo "FAIL: -v dump"; fails=$((fails + 1)); }
grep -q "imap-secret" "$out" && { echo "FAIL: a secret in the dump"; fails=$((fails + 1)); }

# Nodes: accepted in any order of sections, their tokens never printed.
export MP_TEST_NODE_EU=eu-west-token-0123456789 MP_TEST_NODE_US=us-east-token-0123456789
export MP_TEST_NODE_AP=ap-south-token-0123456789
expect 0 config check -v "$dir/good/nodes.yaml"
grep -q "^node_notify: \[pager\]$" "$out" || { echo "FAIL: node_notify in the dump"; fails=$((fails + 1)); }
[ "$(grep -c "^    token: (set)$" "$out")" -eq 3 ] || { echo "FAIL: node tokens in the dump"; fails=$((fails + 1)); }
grep -q "token-0123456789" "$out" && { echo "FAIL: a node token in the dump"; fails=$((fails + 1)); }
expect 1 config check "$dir/bad/node_same_token.yaml"
grep -q "token-0123456789" "$err" && { echo "FAIL: a node token in a message"; fails=$((fails + 1)); }

expect 1 config check "$dir/bad/many_errors.yaml"
[ "$(wc -l <"$err")" -eq 6 ] || { echo "FAIL: not all errors"; cat "$err"; fails=$((fails + 1)); }
[ -s "$out" ] && { echo "FAIL: stdout on failure"; fails=$((fails + 1)); }

expect 1 config check "$dir/does-not-exist.yaml"
expect 3 config check
expect 3 config check --bogus "$dir/good/full.yaml"
expect 3 config frobnicate "$dir/good/full.yaml"
expect 3 config
expect 0 config check --help

# The example refers to files under /etc that this machine need not have:
# anything else it reports is a mistake in the example.
expect 1 config check "$example"
if grep -v -e 'No such file or directory' -e 'Permission denied' -e ' is not set$' "$err" | grep .; then
	echo "FAIL: docs/mailpulse.conf.example has errors besides missing files"
	fails=$((fails + 1))
fi

[ "$fails" -eq 0 ] && echo "config check: all passed"
exit $((fails > 0))
