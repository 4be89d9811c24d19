#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The store's conformance suite (conformance.c) on PostgreSQL: the same
# test bodies SQLite runs, against a real PostgreSQL started here
# (tests/lib/pg.sh), each test on an empty database of its own.
set -uo pipefail
CONFORMANCE=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/pg.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-pgc.XXXXXX")
chmod 711 "$tmp"
trap 'pg_stop; rm -rf "$tmp"' EXIT

pg_start "$tmp/pg" 5434 || exit 1
for n in $(seq 1 16); do
	echo "CREATE DATABASE mp_c$n;"
done | psql -qAt >/dev/null || { echo "FAIL: creating the databases" >&2; exit 1; }
"$CONFORMANCE" "postgresql://mp@/mp_c{n}?host=$tmp/pg&port=5434"
rc=$?
[ "$rc" = 0 ] || { echo "--- server log" >&2; tail -n 30 "$tmp/pg/server.log" >&2; }
exit "$rc"
