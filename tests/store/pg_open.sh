#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The PostgreSQL store's connection and schema (issue 14, "Bad input and
# faults"), against a real PostgreSQL started here (tests/lib/pg.sh):
# a new database gets the schema and a second open leaves it as it is; a
# server that does not answer, a wrong password, a password file, a
# database with a schema newer than this build, a database that holds
# another program's meta table, a read-only open of an empty database:
# each a clear message naming the store, never the password.
set -uo pipefail
PG_OPEN=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/pg.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-pg.XXXXXX")
# The server runs as another user: it must pass through our directory.
chmod 711 "$tmp"
trap 'pg_stop; rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	cat "$tmp/out" >&2 2>/dev/null
	exit 1
}
# expect CODE WORDS ARGS...: pg_open exits CODE and prints WORDS (a grep -E).
expect() {
	local code=$1 words=$2 got
	shift 2
	"$PG_OPEN" "$@" >"$tmp/out" 2>&1
	got=$?
	[ "$got" = "$code" ] || fail "pg_open $*: exit $got, want $code"
	grep -qE "$words" "$tmp/out" || fail "pg_open $*: no '$words' in: $(cat "$tmp/out")"
	echo "ok: $(head -c 200 "$tmp/out")"
}

pg_start "$tmp/pg" 5433 || exit 1
psql -qAt -c "CREATE DATABASE mp" -c "CREATE DATABASE other" -c "CREATE DATABASE empty" \
	-c "CREATE ROLE app LOGIN PASSWORD 'right-pw-Zq81'" -c "CREATE DATABASE appdb OWNER app" \
	>/dev/null || fail "setting up the cluster"
sock=$tmp/pg
url="postgresql://mp@/mp?host=$sock&port=5433"

# A new database: the schema; opened again, nothing redone.
expect 0 "^ok: schema 3 as postgresql://mp@$sock:5433/mp$" "$url"
[ "$(psql -qAt -d mp -c "SELECT value FROM meta WHERE key = 'schema_version'")" = 3 ] ||
	fail "meta.schema_version is not 3"
[ "$(psql -qAt -d mp -c "SELECT relkind FROM pg_class WHERE relname = 'results'")" = p ] ||
	fail "results is not a partitioned table"
expect 0 "^ok: schema 3" "$url"
[ "$(psql -qAt -d mp -c "SELECT count(*) FROM meta")" = 3 ] || fail "meta changed on a second open"

# Read-only: a store there is opened; an empty database is not one.
expect 0 "^ok" "$url" - ro
expect 1 "store postgresql://mp@$sock:5433/empty: no mailpulse store in this database" \
	"postgresql://mp@/empty?host=$sock&port=5433" - ro

# Nobody answers: the socket directory has no server; and a TCP port with none, bounded.
expect 1 "^store postgresql://mp@$tmp/none:5433/mp: cannot connect: " \
	"postgresql://mp@/mp?host=$tmp/none&port=5433"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start=$(date +%s)
expect 1 "cannot connect: .*(refused|could not connect)" \
	"postgresql://mp@127.0.0.1:$port/mp?connect_timeout=3"
[ $(($(date +%s) - start)) -le 5 ] || fail "a refused connection took more than 5 s"

# A server that takes the connection and never says a word: connect_timeout ends it.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(60)
' >"$tmp/mute.port" &
mute=$!
for _ in $(seq 50); do [ -s "$tmp/mute.port" ] && break; sleep 0.1; done
start=$(date +%s)
expect 1 "cannot connect: .*timeout" "postgresql://mp@127.0.0.1:$(cat "$tmp/mute.port")/mp?connect_timeout=2"
kill "$mute" 2>/dev/null
elapsed=$(($(date +%s) - start))
[ "$elapsed" -le 6 ] || fail "a mute server held the open for $elapsed s (connect_timeout 2)"

# A role with a password, asked for on the socket: wrong in the URI, right in a file.
runuser -u "$PG_RUNAS" -- sh -c "printf 'local all app scram-sha-256\nlocal all all trust\n' >'$tmp/pg/data/pg_hba.conf'"
psql -qAt -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
expect 1 "store postgresql://app@$sock:5433/appdb: cannot connect: .*password authentication failed" \
	"postgresql://app:wrong-pw-Kx22@/appdb?host=$sock&port=5433"
grep -q "wrong-pw-Kx22" "$tmp/out" && fail "the password in the message"
printf 'right-pw-Zq81\n' >"$tmp/pw"
expect 0 "^ok: schema 3 as postgresql://app@$sock:5433/appdb$" \
	"postgresql://app:wrong-pw-Kx22@/appdb?host=$sock&port=5433" "$tmp/pw"
: >"$tmp/empty.pw"
expect 1 "password_file $tmp/empty.pw is empty" "$url" "$tmp/empty.pw"
expect 1 "password_file $tmp/nosuch: No such file" "$url" "$tmp/nosuch"

# A schema newer than this build: refused, and left as it is.
psql -qAt -d mp -c "UPDATE meta SET value = '99' WHERE key = 'schema_version'" >/dev/null
expect 1 "schema version 99 is newer than this build's 3" "$url"
[ "$(psql -qAt -d mp -c "SELECT value FROM meta WHERE key = 'schema_version'")" = 99 ] ||
	fail "a newer schema was touched"

# Another program's meta table: not ours, not touched.
psql -qAt -d other -c "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)" >/dev/null
expect 1 "a table meta that is not mailpulse's" "postgresql://mp@/other?host=$sock&port=5433"
[ "$(psql -qAt -d other -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 1 ] ||
	fail "tables were created beside another program's meta"

# Not a URI libpq reads: said, and nothing of it shown.
expect 1 "not a PostgreSQL URI" "postgresql://u:secret-x@h:notaport/db?bogus_option=1"
grep -q "secret-x" "$tmp/out" && fail "the password in the message"
echo "ok: PostgreSQL store connection and schema"
