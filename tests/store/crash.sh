#!/bin/sh
# SPDX-License-Identifier: ISC
# crash.sh STORE_CRASH kill|term
#
# kill: a writer flushing every 100 ms is killed with SIGKILL after ~1.5 s.
#   The file must open clean (integrity_check ok) and hold at least every
#   row the writer had seen committed.
# term: the writer gets SIGTERM, flushes what it queued and exits 0; the
#   file holds exactly the rows it reports.
set -u
bin=$1
mode=$2

dir=$(mktemp -d /tmp/mp-crash-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
db=$dir/store.db
prog=$dir/progress

fail() {
	echo "FAIL ($mode): $*" >&2
	exit 1
}

"$bin" write "$db" "$prog" &
pid=$!

# Wait for the first commit, so the kill does not land before the schema exists.
i=0
while [ ! -s "$prog" ]; do
	i=$((i + 1))
	if [ "$i" -gt 200 ]; then
		kill -9 "$pid" 2>/dev/null
		fail "the writer did not commit within 10 s"
	fi
	sleep 0.05
done
sleep 1.5
kill -0 "$pid" 2>/dev/null || fail "the writer died on its own"

case $mode in
kill)
	kill -KILL "$pid"
	wait "$pid"
	[ -e "$db-wal" ] || fail "no -wal file: the store is not in WAL mode"
	;;
term)
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	[ "$rc" -eq 0 ] || fail "the writer exited $rc after SIGTERM"
	;;
*)
	fail "mode is kill or term"
	;;
esac

reported=$(cat "$prog") || fail "no progress file"
rows=$("$bin" verify "$db") || fail "the store does not open clean after $mode"
echo "$mode: writer reported $reported rows committed; the store holds $rows"
[ "$rows" -gt 0 ] || fail "no rows survived"
if [ "$mode" = kill ]; then
	# Committed before the progress file was written: all of it must be there.
	[ "$rows" -ge "$reported" ] || fail "$rows rows, fewer than the $reported committed"
else
	[ "$rows" -eq "$reported" ] || fail "$rows rows, but the writer wrote $reported"
fi
echo "ok"
