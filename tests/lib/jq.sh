# SPDX-License-Identifier: ISC
# jq.sh - sourced by the test scripts that assert with `jq -e`.
#
# jq 1.6 (Debian 12) exits 0 under -e when its input holds no JSON value at
# all, so an empty answer (a command that printed nothing, a failed curl)
# would pass every check. This jq fails then, with 4, as jq 1.7 does.
# Exported, so `bash -c` children (wait_for conditions) use it too.
jq() {
	local a e=0 out rc
	for a in "$@"; do
		case $a in
		-e | --exit-status) e=1 ;;
		--*) ;;
		-[a-zA-Z]*e*) e=1 ;;
		esac
	done
	if [ "$e" -eq 0 ]; then
		command jq "$@"
		return
	fi
	out=$(command jq "$@")
	rc=$?
	[ -n "$out" ] || return 4
	printf '%s\n' "$out"
	return "$rc"
}
export -f jq
