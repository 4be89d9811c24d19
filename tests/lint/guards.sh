#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Every header's include guard is its own: two headers sharing one guard
# (core/run.h and cmd/run.h once did) make the second silently empty
# wherever both are included.
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)/src}
n=$(find "$src" -name '*.h' | wc -l)
[ "$n" -gt 20 ] || { echo "guards: only $n headers under $src: wrong directory?"; exit 1; }
missing=$(for h in $(find "$src" -name '*.h'); do grep -q '^#ifndef MP_' "$h" || echo "${h#"$src"/}"; done)
[ -z "$missing" ] || { echo "guards: no MP_ include guard in: $missing"; exit 1; }
dups=$(grep -h '^#ifndef MP_' $(find "$src" -name '*.h') | sed 's/^#ifndef //' | sort | uniq -d)
if [ -n "$dups" ]; then
	for g in $dups; do echo "guards: $g guards $(grep -l "^#ifndef $g\$" -r "$src" --include='*.h' | tr '\n' ' ')"; done
	exit 1
fi
echo "guards: $n headers, each with its own guard"
