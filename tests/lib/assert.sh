# SPDX-License-Identifier: ISC
# assert.sh - sourced by standalone test scripts that run one command at a
# time with its output in $tmp/out and $tmp/err (tmp is the caller's).
# Set FAIL_WHAT to name the case in failure messages.

# fail MESSAGE: say what failed, show what the command printed, stop.
fail() {
	echo "FAIL${FAIL_WHAT:+ ($FAIL_WHAT)}: $*" >&2
	echo "--- stdout" >&2
	cat "$tmp/out" >&2 2>/dev/null
	echo "--- stderr" >&2
	cat "$tmp/err" >&2 2>/dev/null
	exit 1
}
