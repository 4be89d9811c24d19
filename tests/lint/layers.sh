#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Dependencies point one way (STYLE.md): a folder of src/ includes headers
# only from itself and the folders before it in this order, never one
# after it. Fails naming every include that points the wrong way.
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)/src}
order=(core spec engine wire conf store net notify monitor node http cmd)
rank() {
	local i
	for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done
	echo -1
}
bad=0
seen=0
for dir in "$src"/*/; do
	from=$(basename "$dir")
	rf=$(rank "$from")
	[ "$rf" -ge 0 ] || { echo "layers: src/$from is not a known layer (add it to the order)"; bad=1; continue; }
	for f in "$dir"*.[ch]; do
		[ -e "$f" ] || continue
		while IFS= read -r to; do
			seen=$((seen + 1))
			rt=$(rank "$to")
			if [ "$rt" -lt 0 ] || [ "$rt" -gt "$rf" ]; then
				echo "layers: ${f#"$src"/} includes $to/: $to is not below $from"
				bad=1
			fi
		done < <(sed -n 's|^#include "\([a-z]*\)/.*|\1|p' "$f")
	done
done
[ "$seen" -gt 50 ] || { echo "layers: only $seen includes found under $src: wrong directory?"; exit 1; }
[ "$bad" -eq 0 ] && echo "layers: $seen includes, all pointing down"
exit "$bad"
