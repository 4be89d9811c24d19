#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# spdx.sh - give every source file its SPDX licence line (LICENSE: ISC).
#
#   scripts/spdx.sh [--check] [PATH...]
#
# C sources and headers (*.c, *.h) under src/, tests/, fuzz/ and bench/ get
#   /* SPDX-License-Identifier: ISC */
# as their first line; shell and Python scripts (*.sh, *.py, *.bash)
# anywhere in the tree get
#   # SPDX-License-Identifier: ISC
# right after the shebang (first line when there is none).
#
# Without --check, adds the line where it is missing and leaves every other
# file untouched, so running it twice changes nothing. With --check, changes
# nothing, lists the files that lack it and exits 1 if there are any.
# PATHs (files or directories) limit the run to part of the tree. The files
# are those git knows (tracked, or new and not ignored); outside a git work
# tree, every file found.
set -euo pipefail

check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
case "${1:-}" in
-h | --help)
	sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
-*)
	echo "spdx.sh: unknown option '$1' (try --help)" >&2
	exit 2
	;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

c_line='/* SPDX-License-Identifier: ISC */'
sh_line='# SPDX-License-Identifier: ISC'

list_files() {
	if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -co --exclude-standard -- "$@"
	else
		find "${@:-.}" -type f | sed 's|^\./||'
	fi
}

# kind FILE: "c", "sh" or nothing for a file that takes no line.
kind() {
	case $1 in
	src/*.[ch] | tests/*.[ch] | fuzz/*.[ch] | bench/*.[ch]) echo c ;;
	*.sh | *.py | *.bash) echo sh ;;
	esac
}

# has_line FILE KIND: the line is where it belongs.
has_line() {
	if [ "$2" = c ]; then
		[ "$(head -n 1 "$1")" = "$c_line" ]
	elif [ "$(head -c 2 "$1")" = '#!' ]; then
		[ "$(sed -n 2p "$1")" = "$sh_line" ]
	else
		[ "$(head -n 1 "$1")" = "$sh_line" ]
	fi
}

# add_line FILE KIND: in place, keeping the file's mode.
add_line() {
	local tmp
	tmp=$(mktemp "$1.spdx.XXXXXX")
	if [ "$2" = c ]; then
		{ printf '%s\n' "$c_line"; cat "$1"; } >"$tmp"
	elif [ "$(head -c 2 "$1")" = '#!' ]; then
		{ head -n 1 "$1"; printf '%s\n' "$sh_line"; tail -n +2 "$1"; } >"$tmp"
	else
		{ printf '%s\n' "$sh_line"; cat "$1"; } >"$tmp"
	fi
	chmod --reference="$1" "$tmp"
	mv "$tmp" "$1"
}

missing=0
changed=0
while IFS= read -r f; do
	[ -f "$f" ] || continue # listed by git but deleted in the work tree
	k=$(kind "$f")
	[ -n "$k" ] || continue
	has_line "$f" "$k" && continue
	if [ $check = 1 ]; then
		echo "$f"
		missing=$((missing + 1))
	else
		add_line "$f" "$k"
		changed=$((changed + 1))
	fi
done < <(list_files "$@")

if [ $check = 1 ]; then
	if [ $missing -gt 0 ]; then
		echo "spdx.sh: $missing file(s) above lack the SPDX line (scripts/spdx.sh adds it)" >&2
		exit 1
	fi
	exit 0
fi
echo "spdx.sh: added the SPDX line to $changed file(s)"
