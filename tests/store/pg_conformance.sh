#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The store's conformance suite (conformance.c) on PostgreSQL: the same
# test bodies SQLite runs, against a real PostgreSQL started here
# (tests/lib/pg.sh), each test on an empty database of its own.
set -uo pipefail
CONFORMANCE=$1
STORE_SEED=$2
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
[ "$rc" = 0 ] || { echo "--- server log" >&2; tail -n 30 "$tmp/pg/server.log" >&2; exit "$rc"; }

# Retention dropped whole days (test_retention_rollups is the seventh test:
# its first days of 2024-05 went into roll-ups, which the test reads back):
# no partition wholly below raw_from_ms is left.
parts() {
	psql -d mp_c7 -qAt -c "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'results'::regclass AND (substr(c.relname, 10)::bigint + 1) * 86400000 <=
		(SELECT value::bigint FROM meta WHERE key = 'raw_from_ms')"
}
raw_from=$(psql -d mp_c7 -qAt -c "SELECT value FROM meta WHERE key = 'raw_from_ms'")
[ "${raw_from:-0}" -gt 0 ] || { echo "FAIL: retention did not move raw_from_ms" >&2; exit 1; }
[ "$(parts)" = 0 ] || { echo "FAIL: $(parts) partitions below raw_from_ms ($raw_from) were not dropped" >&2; exit 1; }
# Bytes that are not UTF-8 (store_seed writes "\xff\x01" into a message):
# PostgreSQL refuses them, and a flush holding one would fail for ever;
# they are stored as \xNN, what the reports show of them anyway (0x01 is
# UTF-8, and kept).
"$STORE_SEED" "postgresql://mp@/mp_c16?host=$tmp/pg&port=5434" >"$tmp/seed.out" 2>&1 ||
	{ echo "FAIL: store_seed on PostgreSQL: $(cat "$tmp/seed.out")" >&2; exit 1; }
[ "$(psql -d mp_c16 -qAt -c "SELECT count(*) FROM results WHERE strpos(message, '\\xff') > 0")" -ge 1 ] ||
	{ echo "FAIL: the bytes that are not UTF-8 are not stored escaped" >&2; exit 1; }
echo "ok: conformance on PostgreSQL; retention left raw rows from $raw_from and dropped the days below"
