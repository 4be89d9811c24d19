# SPDX-License-Identifier: ISC
# pg.sh - sourced by tests that need a real PostgreSQL (issue 14): a
# private cluster made by initdb in a directory of the test's own, run as
# an unprivileged user (the suite runs as root, and postgres refuses
# root), listening on a Unix socket in that directory only, never on a
# network address, and stopped by pg_stop (call it from the test's trap).
#
#   pg_start DIR [PORT]   makes and starts the cluster in DIR, which the user
#                         must be able to reach (its parents searchable by
#                         others); exports PGHOST (the socket's directory),
#                         PGPORT, PGUSER and PGDATABASE for psql and libpq,
#                         and PG_URL for mailpulse
#   pg_stop               stops it (immediate), if it runs
#
# With PG_TCP=1 in the environment it also listens on 127.0.0.1:PORT (for a
# test that puts a proxy of its own between a client and the server).
#
# The superuser is "mp", trusted on the socket: the tests make roles with
# passwords of their own where a password is what they test. fsync is off:
# a test's cluster is thrown away, and the suite runs on a busy disk.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PG_RUNAS=${PG_RUNAS:-nobody}
pg_dir=""

pg_start() {
	local dir=$1 port=${2:-5432} group
	if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
		echo "pg.sh: no PostgreSQL server (initdb) under /usr/lib/postgresql: scripts/deps.sh --test installs it" >&2
		return 1
	fi
	group=$(id -gn "$PG_RUNAS")
	mkdir -p "$dir"
	# The user must reach the directory, and own it: the socket goes there.
	chmod 755 "$dir"
	chown "$PG_RUNAS:$group" "$dir"
	# Its parents are not ours to open up (a TMPDIR under /root): said, not changed.
	if ! runuser -u "$PG_RUNAS" -- test -x "$dir"; then
		echo "pg.sh: $PG_RUNAS cannot reach $dir: use a TMPDIR it can reach (/tmp)" >&2
		return 1
	fi
	if ! runuser -u "$PG_RUNAS" -- "$PG_BIN/initdb" -D "$dir/data" -U mp -A trust -E UTF8 \
		--no-sync --no-instructions >"$dir/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed:" >&2
		cat "$dir/initdb.log" >&2
		return 1
	fi
	local listen=''
	[ "${PG_TCP:-0}" = 1 ] && listen=127.0.0.1
	pg_opts="-k $dir -c listen_addresses='$listen' -p $port -c fsync=off -c full_page_writes=off"
	if ! runuser -u "$PG_RUNAS" -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "$pg_opts" start >"$dir/pg_ctl.log" 2>&1; then
		echo "pg.sh: the server did not start:" >&2
		cat "$dir/pg_ctl.log" "$dir/server.log" >&2
		return 1
	fi
	pg_dir=$dir
	export PGHOST=$dir PGPORT=$port PGUSER=mp PGDATABASE=postgres
	export PG_URL="postgresql://mp@/postgres?host=$dir&port=$port"
}

# pg_restart: the cluster pg_stop stopped, started again as it was.
pg_restart() {
	local dir=$1
	runuser -u "$PG_RUNAS" -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "$pg_opts" start >"$dir/pg_ctl.log" 2>&1 || return 1
	pg_dir=$dir
}

pg_stop() {
	[ -n "$pg_dir" ] || return 0
	runuser -u "$PG_RUNAS" -- "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate -w stop \
		>/dev/null 2>&1 || true
	pg_dir=""
}
