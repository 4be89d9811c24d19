#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# copy.sh MAILPULSE STORE_SEED
#
# `mailpulse store copy` (issue 14) against a real PostgreSQL started here
# (tests/lib/pg.sh):
#   1. an SQLite store (store_seed's story, and rows written here with every
#      column the store has) copied into a new database answers status,
#      history, uptime and incidents with the same JSON as the file;
#   2. run again, it copies nothing and the answers stay the same;
#   3. a copy killed (-9) in the middle continues when run again, and the
#      database then holds as many rows as the file, no more;
#   4. bad input: no file, a file that is no store, a server that is not
#      there, a wrong password, a database with a history of its own, a
#      controller active on it, a file that must be migrated while a daemon
#      holds it: exit 1, said clearly, never the password; usage: exit 3.
set -uo pipefail
mp=$1
seed=$2
here=$(cd "$(dirname "$0")" && pwd)
for t in jq python3 psql; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "$t not installed: skipped"
		exit 77
	}
done
. "$here/../lib/pg.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-copy.XXXXXX")
# The server runs as another user: it must pass through our directory.
chmod 711 "$tmp"
holders=""
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local p
	for p in $holders; do kill "$p" 2>/dev/null; done
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
fail() {
	echo "FAIL: $*" >&2
	failed=1
}
die() {
	echo "FAIL: $*" >&2
	exit 1
}

pg_start "$tmp/pg" 5436 || exit 1
psql -qAt -c "CREATE DATABASE c1" -c "CREATE DATABASE c2" -c "CREATE DATABASE c3" \
	-c "CREATE DATABASE c4" -c "CREATE DATABASE c5" -c "CREATE DATABASE c6" \
	-c "CREATE DATABASE c7" -c "CREATE DATABASE c8" \
	-c "CREATE ROLE app LOGIN PASSWORD 'right-pw-Vb52'" -c "CREATE DATABASE appdb OWNER app" \
	>/dev/null || die "setting up the cluster"
url() { echo "postgresql://mp@/$1?host=$tmp/pg&port=5436"; }
shown() { echo "postgresql://mp@$tmp/pg:5436/$1"; }

# ---- the source: store_seed's story, then rows with every column ----
db=$tmp/store.db
"$seed" "$db" || die "store_seed"
now_ms=$(($(date +%s) * 1000))
python3 - "$db" "$now_ms" <<'EOF' || die "writing the extra rows"
import sqlite3, sys
db, now = sys.argv[1], int(sys.argv[2])
H = 3600 * 1000
c = sqlite3.connect(db)
c.execute("INSERT INTO checks (name) VALUES ('imap-tls')")
c.execute("INSERT INTO checks (name, removed_ms) VALUES ('pop-old', ?)", (now - 2 * H,))
tls, old = [r[0] for r in c.execute("SELECT id FROM checks WHERE name IN ('imap-tls', 'pop-old') ORDER BY id")]
cols = ("check_id, ts_ms, location, status, reason, message, address, ttg_us, dns_us, connect_us,"
        " tls_us, greeting_us, capability_us, starttls_us, login_us, mailbox_us, total_us,"
        " tls_version, cert_days_left, cert_not_after, cert_subject, cert_issuer, cert_sha256,"
        " messages, severity, warnings, maintenance, path, first_not_after, counts_as")
rows = []
for k in range(40):
    t = now - (40 - k) * 5 * 60 * 1000
    loc = ("local", "fra", "nyc")[k % 3]
    rows.append((tls, t, loc, k % 3 == 2 and 2 or 0, k % 3 == 2 and "timeout" or "ok",
                 k % 3 == 2 and "no greeting within 10 s" or "",
                 "[2001:db8::7]:993", 21000 + k, 1000, 2000, 15000 + k, 3000, None if k % 4 else 500,
                 None, 700, 800, 25000 + k, "TLSv1.3", 30 - k % 5, 1800000000 + k,
                 "CN=mail.example.org", "CN=R11,O=Let's Encrypt", "ab" * 32,
                 None if k % 5 else 42,
                 None if k == 7 else (2 if k % 3 == 2 else (1 if k % 6 == 1 else 0)),
                 "cert expires in 12 days\nweak cipher offered" if k % 6 == 1 else None,
                 1 if 10 <= k < 14 else 0,
                 "dns>connect>tls>greeting>login>mailbox",
                 None if k == 3 else 1790000000 + k,
                 (None, 1, 0, -1)[k % 4]))
# Two locations a millisecond apart, the latest results of the check. (Not in
# the same millisecond: see "ties" below.)
rows.append((tls, now - 60 * 1000 - 1, "fra", 0, "ok", "", "192.0.2.9:993", 20500, 900, 1900,
             14000, 2900, None, None, 600, 700, 24000, "TLSv1.2", 25, 1800000100,
             "CN=mail.example.org", "CN=R11", "cd" * 32, 7, 0, None, 0, "dns>connect>tls",
             1800000050, 1))
rows.append((tls, now - 60 * 1000, "nyc", 1, "slow", "greeting took 900 ms", "192.0.2.9:993",
             900000, None, None, None, None, None, None, None, None, None, None, None, None,
             None, None, None, None, 2, "slow greeting", 0, "dns>connect", None, 1))
c.executemany("INSERT INTO results (%s) VALUES (%s)" % (cols, ",".join("?" * 30)), rows)
c.executemany("INSERT INTO transitions (check_id, ts_ms, from_status, to_status, reason, message,"
              " to_severity) VALUES (?, ?, ?, ?, ?, ?, ?)",
              [(tls, now - 4 * H, 3, 0, "ok", "", 0),
               (tls, now - 3 * H, 0, 2, "timeout", "no greeting", None),
               (tls, now - 2 * H, 2, 1, "slow", "slow greeting", 2),
               (old, now - 6 * H, 3, 2, "refused", "refused", 2),
               (old, now - 2 * H, 2, 3, "ok", "check removed from the configuration", 3)])
c.executemany("INSERT INTO incidents (check_id, start_ms, end_ms, reason, message, duration_ms,"
              " close_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
              [(tls, now - 3 * H, now - 2 * H, "timeout", "no greeting", H, None),
               (old, now - 6 * H, now - 2 * H, "refused", "refused", 4 * H,
                "check removed from the configuration")])
c.executemany("INSERT INTO deliveries (check_id, ts_ms, channel, event, attempt, ok, detail)"
              " VALUES (?, ?, ?, ?, ?, ?, ?)",
              [(tls, now - 3 * H, "ops-mail", "down", 1, 0, "smtp: 451 try later"),
               (tls, now - 3 * H + 60000, "ops-mail", "down", 2, 1, "sent"),
               (None, now - 20 * 60000, "ops-webhook", "test", 1, 1, "HTTP 204")])
c.executemany("INSERT INTO rollups (check_id, hour_ms, location, count, up_count, min_ttg_us,"
              " avg_ttg_us, p95_ttg_us, max_ttg_us, maint_count, maint_up_count, uptime_count,"
              " uptime_up, uptime_maint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              [(tls, (now // H - 30) * H, "fra", 12, 11, 20000, 21000, 23000, 24000, 2, 2, 9, 8, 1),
               (tls, (now // H - 30) * H, "nyc", 12, 12, None, None, None, None, 0, 0, 12, 12, 0)])
c.execute("INSERT INTO meta (key, value) VALUES ('alert/imap-tls', ?)",
          ("%d slow 0 ok" % (now - 2 * H),))
c.commit()
EOF

# The JSON of every report on one store, "now" left out: status's time,
# open incidents' duration so far (counted to the moment of the read),
# uptime's since_ms when given as a duration (from now). Times are given
# absolute where they can be, so that both stores are asked the same.
since_4d=$(date -u -d "@$((now_ms / 1000 - 4 * 86400))" +%Y-%m-%dT%H:%M:%SZ)
since_1d=$(date -u -d "@$((now_ms / 1000 - 86400))" +%Y-%m-%dT%H:%M:%SZ)
since_5h=$(date -u -d "@$((now_ms / 1000 - 5 * 3600))" +%Y-%m-%dT%H:%M:%SZ)
since_40m=$(date -u -d "@$((now_ms / 1000 - 2400))" +%Y-%m-%dT%H:%M:%SZ)
reports() {
	local store=$1 out=$2 c
	: >"$out"
	{
		echo "== status"
		"$mp" status --json --store "$store" |
			jq -S 'del(.time, .ts_ms) | .checks[].incident |= (if . != null and .open then del(.duration_ms) else . end)'
		for c in imap-main pop-backup imap-tls pop-old; do
			echo "== history $c"
			"$mp" history "$c" --json --limit 10000 --since "$since_4d" --store "$store" | jq -S .
			for s in "$since_4d" "$since_1d" "$since_5h" "$since_40m"; do
				echo "== uptime $c $s"
				"$mp" uptime "$c" --json --since "$s" --store "$store" | jq -S .
			done
		done
		echo "== incidents"
		"$mp" incidents --json --since "$since_4d" --store "$store" |
			jq -S '.incidents[] |= (if .open then del(.duration_ms) else . end)'
		echo "== incidents imap-tls"
		"$mp" incidents imap-tls --json --since "$since_4d" --store "$store" | jq -S .
	} >"$out" 2>&1
}
same_reports() {
	local what=$1 pg=$2
	reports "sqlite:$db" "$tmp/a.json"
	reports "$pg" "$tmp/b.json"
	if ! cmp -s "$tmp/a.json" "$tmp/b.json"; then
		fail "$what: the reports differ between the file and PostgreSQL:"
		diff "$tmp/a.json" "$tmp/b.json" | head -n 40 >&2
	else
		echo "ok: $what: $(grep -c '^==' "$tmp/a.json") reports identical"
	fi
	grep -q '"ts_ms"' "$tmp/a.json" || fail "$what: the reports hold no rows: $(head -c 300 "$tmp/a.json")"
}
# sq FILE SQL: the first row of a query on an SQLite file, as psql -At prints it.
sq() {
	python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print("|".join("" if v is None else str(v) for v in r))' "$1" "$2"
}
# copy ARGS...: mailpulse store copy ARGS, stdout in out, stderr in err, rc in $rc.
# Under ASan and UBSan a finding fails the test even where exit 1 is wanted.
copy() {
	"$mp" store copy "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if grep -qE "Sanitizer|runtime error:" "$tmp/err"; then
		fail "store copy $*: a sanitizer's finding:"
		cat "$tmp/err" >&2
	fi
}

# ---- 1. the copy answers as the file does ----
# store_seed's counts depend on the hour it runs at (retention folds whole hours).
n() { sq "$db" "SELECT count(*) FROM $1"; }
want="$(n checks) checks, $(n results) results, $(n transitions) transitions, $(n incidents) incidents, $(n deliveries) deliveries, $(n rollups) roll-ups"
nres=$(n results)
copy --from "$db" --to "$(url c1)"
[ "$rc" = 0 ] || die "copy: exit $rc: $(cat "$tmp/err")"
grep -q "^copied $db into $(shown c1) in [0-9]* m\?s: $want, 0 incidents closed since, 1 open alerts, 1 removed marks$" "$tmp/out" ||
	fail "copy: summary: $(cat "$tmp/out")"
grep -q "^results: $nres copied$" "$tmp/err" || fail "copy: no line for results: $(cat "$tmp/err")"
grep -q $'\r' "$tmp/err" && fail "copy: a progress bar (\\r) while stderr is no terminal"
same_reports "copied" "$(url c1)"
# What no report shows, compared as stored: every column of every table.
for q in "SELECT count(*), sum(ts_ms), count(address), count(ttg_us), sum(coalesce(dns_us, 0) + coalesce(capability_us, 0) + coalesce(total_us, 0)), count(tls_version), count(cert_days_left), count(first_not_after), count(warnings), sum(maintenance), count(counts_as), sum(coalesce(counts_as, 5)), count(messages), count(path), sum(coalesce(severity, status)) FROM results" \
	"SELECT count(*), sum(ts_ms), sum(from_status * 10 + to_status), sum(coalesce(to_severity, to_status)) FROM transitions" \
	"SELECT count(*), sum(id), sum(end_ms), sum(duration_ms), count(close_reason) FROM incidents" \
	"SELECT count(*), count(check_id), sum(attempt), sum(ok) FROM deliveries" \
	"SELECT count(*), sum(count), sum(up_count), count(min_ttg_us), sum(avg_ttg_us), sum(maint_count), sum(maint_up_count), sum(uptime_count), sum(uptime_up), sum(uptime_maint) FROM rollups" \
	"SELECT count(*), sum(removed_ms) FROM checks"; do
	a=$(sq "$db" "$q")
	b=$(psql -qAt -d c1 -c "$q")
	[ "$a" = "$b" ] || fail "stored rows differ: $q: file $a, PostgreSQL $b"
done
q="SELECT value FROM meta WHERE key = 'alert/imap-tls'"
[ "$(psql -qAt -d c1 -c "$q")" = "$(sq "$db" "$q")" ] ||
	fail "the open alert was not copied"
# The store goes on from there: the next incident's id follows the copied ones.
[ "$(psql -qAt -d c1 -c "SELECT nextval(pg_get_serial_sequence('incidents', 'id'))")" = 5 ] ||
	fail "incidents' id sequence does not follow the copied ids"

# ---- 2. again: nothing ----
copy --from "$db" --to "$(url c1)"
[ "$rc" = 0 ] || fail "copy again: exit $rc: $(cat "$tmp/err")"
grep -q "^nothing to copy: $db is in $(shown c1) already ($want)$" "$tmp/out" ||
	fail "copy again: $(cat "$tmp/out")"
grep -q "^results: nothing new ($nres copied before)$" "$tmp/err" || fail "copy again: $(cat "$tmp/err")"
same_reports "copied twice" "$(url c1)"

# On a terminal: a bar per table, redrawn in place.
script -qec "'$mp' store copy --from '$db' --to '$(url c1)'" /dev/null >"$tmp/tty" 2>&1 </dev/null
grep -q $'\rresults  *\[#*\] 0/0 100%' "$tmp/tty" || fail "terminal: no bar: $(head -c 400 "$tmp/tty" | od -c | head)"

# ---- 3. killed in the middle, then run again ----
big=$tmp/big.db
cp "$db" "$big"
python3 - "$big" "$now_ms" <<'EOF' || die "writing the big store"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
now = int(sys.argv[2])
cid = c.execute("SELECT id FROM checks WHERE name = 'imap-tls'").fetchone()[0]
c.executemany("INSERT INTO results (check_id, ts_ms, location, status, reason, message, ttg_us,"
              " severity, maintenance) VALUES (?, ?, 'bulk', 0, 'ok', '', ?, 0, 0)",
              [(cid, now - 3 * 86400 * 1000 + k * 4000, 20000 + k % 100) for k in range(60000)])
c.commit()
EOF
nbig=$(sq "$big" "SELECT count(*) FROM results")
MAILPULSE_COPY_CHUNK=300 "$mp" store copy --from "$big" --to "$(url c2)" >"$tmp/out" 2>"$tmp/err" &
pid=$!
key="copy/$(realpath "$big")/results"
for _ in $(seq 300); do
	got=$(psql -qAt -d c2 -c "SELECT value FROM meta WHERE key = '$key'" 2>/dev/null)
	[ -n "$got" ] && break
	sleep 0.02
done
{
	kill -9 "$pid"
	wait "$pid"
} 2>/dev/null
[ -n "$got" ] || die "interrupted copy: no progress recorded before it ended: $(cat "$tmp/err")"
# The server may still finish a chunk whose Sync it had: counted once its session is gone.
for _ in $(seq 100); do
	[ "$(psql -qAt -d c2 -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'c2' AND pid <> pg_backend_pid() AND application_name = 'mailpulse'")" = 0 ] && break
	sleep 0.1
done
part=$(psql -qAt -d c2 -c "SELECT count(*) FROM results")
mark=$(psql -qAt -d c2 -c "SELECT split_part(value, ' ', 2) FROM meta WHERE key = '$key'")
[ "$part" -lt "$nbig" ] || fail "interrupted copy: it finished before the kill ($part rows): make it slower"
[ "$part" = "$mark" ] || fail "interrupted copy: $part results written, $mark recorded: a chunk without its progress"
echo "ok: killed after $part of $nbig results"
MAILPULSE_COPY_CHUNK=5000 "$mp" store copy --from "$big" --to "$(url c2)" >"$tmp/out" 2>"$tmp/err" ||
	fail "copy after the kill: exit $?: $(cat "$tmp/err")"
grep -q "^results: $((nbig - part)) copied ($part before)$" "$tmp/err" ||
	fail "copy after the kill: $(cat "$tmp/err")"
for t in checks results transitions incidents deliveries rollups; do
	a=$(sq "$big" "SELECT count(*) FROM $t")
	b=$(psql -qAt -d c2 -c "SELECT count(*) FROM $t")
	[ "$a" = "$b" ] || fail "after the kill and a second run: $t: $b rows, the file has $a"
done
copy --from "$big" --to "$(url c2)"
grep -q "^nothing to copy: " "$tmp/out" || fail "third run after the kill: $(cat "$tmp/out" "$tmp/err")"
db_keep=$db
db=$big
same_reports "interrupted, then completed" "$(url c2)"
db=$db_keep

# The file's retention folded results that were copied already: their
# roll-ups would count them a second time. Refused, the store untouched.
folded=$tmp/folded.db
cp "$db" "$folded"
copy --from "$folded" --to "$(url c8)"
[ "$rc" = 0 ] || fail "copying folded.db: exit $rc: $(cat "$tmp/err")"
python3 - "$folded" <<'EOF' || die "folding"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("DELETE FROM results WHERE rowid IN (SELECT rowid FROM results ORDER BY rowid LIMIT 12)")
c.execute("INSERT INTO results (check_id, ts_ms, location, status, reason, message, severity,"
          " maintenance) SELECT check_id, ts_ms + 1, location, status, reason, message, severity,"
          " maintenance FROM results ORDER BY rowid DESC LIMIT 1")
c.commit()
EOF
before=$(psql -qAt -d c8 -c "SELECT count(*) FROM results")
copy --from "$folded" --to "$(url c8)"
[ "$rc" = 1 ] || fail "folded since: exit $rc, want 1"
grep -q "^mailpulse store copy: $folded: retention folded 12 results that were copied already into its roll-ups since the copy began, which would count them twice; copy it into an empty store$" "$tmp/err" ||
	fail "folded since: $(cat "$tmp/err")"
[ "$(psql -qAt -d c8 -c "SELECT count(*) FROM results")" = "$before" ] || fail "folded since: rows were written"

# ---- ties ----
# Two results of one check in the same millisecond (two locations): both
# stores keep both, and both backends order them the same way (time, then
# location, newest and last first), in history and as status's "last".
tie=$tmp/tie.db
cp "$db" "$tie"
python3 - "$tie" "$now_ms" <<'EOF' || die "writing the ties"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
now = int(sys.argv[2])
c.execute("INSERT INTO checks (name) VALUES ('tie')")
cid = c.execute("SELECT id FROM checks WHERE name = 'tie'").fetchone()[0]
c.executemany("INSERT INTO results (check_id, ts_ms, location, status, reason, message, ttg_us,"
              " severity, maintenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
              [(cid, now - 60000, "fra", 0, "ok", "", 20000, 0),
               (cid, now - 60000, "nyc", 1, "slow", "slow greeting", 900000, 2)])
c.commit()
EOF
copy --from "$tie" --to "$(url c7)"
[ "$rc" = 0 ] || fail "ties: exit $rc: $(cat "$tmp/err")"
for store in "sqlite:$tie" "$(url c7)"; do
	"$mp" history tie --json --since "$since_1d" --store "$store" | jq -S '.results'
	"$mp" status --json --store "$store" | jq -S '.checks[] | select(.check == "tie") | .last'
done >"$tmp/ties"
jq -s -e '.[0] == .[2] and .[1] == .[3] and (.[0] | length) == 2 and
	([.[0][].location] == ["nyc", "fra"]) and .[1].location == "nyc"' "$tmp/ties" >/dev/null ||
	fail "ties: the stores differ, or do not order by location: $(cat "$tmp/ties")"

# ---- 4. bad input ----
# expect_fail WHAT WORDS ARGS...: exit 1, WORDS (grep -E) on stderr, nothing on stdout.
expect_fail() {
	local what=$1 words=$2
	shift 2
	copy "$@"
	[ "$rc" = 1 ] || fail "$what: exit $rc, want 1: $(cat "$tmp/err")"
	grep -qE "$words" "$tmp/err" || fail "$what: no '$words' in: $(cat "$tmp/err")"
	[ -s "$tmp/out" ] && fail "$what: something on stdout: $(cat "$tmp/out")"
	echo "ok: $what: $(head -n 1 "$tmp/err" | head -c 220)"
}
expect_fail "no such file" "^mailpulse store copy: $tmp/none.db: No such file or directory$" \
	--from "$tmp/none.db" --to "$(url c3)"
[ -e "$tmp/none.db" ] && fail "no such file: it was created"
printf 'store: x\n' >"$tmp/text"
expect_fail "not a store (text)" "^mailpulse store copy: $tmp/text is not a mailpulse store: file is not a database" \
	--from "$tmp/text" --to "$(url c3)"
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t (x)"); c.commit()' "$tmp/other.db"
expect_fail "not a store (SQLite)" "is an SQLite database but not a mailpulse store \(no meta table\)" \
	--from "$tmp/other.db" --to "$(url c3)"
expect_fail "a directory" "is not a file, so not a mailpulse store" --from "$tmp" --to "$(url c3)"
expect_fail "no server" "^mailpulse store copy: store postgresql://mp@$tmp/nopg:5436/c3: cannot connect: " \
	--from "$db" --to "postgresql://mp:s3cret-Qw7@/c3?host=$tmp/nopg&port=5436"
grep -q "s3cret-Qw7" "$tmp/err" && fail "no server: the password was shown"
# A role with a password, asked for on the socket.
runuser -u "$PG_RUNAS" -- sh -c "printf 'local all app scram-sha-256\nlocal all all trust\n' >'$tmp/pg/data/pg_hba.conf'"
psql -qAt -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
expect_fail "wrong password" "store postgresql://app@$tmp/pg:5436/appdb: cannot connect: .*password authentication failed" \
	--from "$db" --to "postgresql://app:wrong-pw-Tz40@/appdb?host=$tmp/pg&port=5436"
grep -q "wrong-pw-Tz40" "$tmp/err" && fail "wrong password: the password was shown"
printf 'wrong-pw-Tz41\n' >"$tmp/bad.pw"
expect_fail "wrong password in a file" "password authentication failed" \
	--from "$db" --to "postgresql://app@/appdb?host=$tmp/pg&port=5436" --password-file "$tmp/bad.pw"
grep -q "wrong-pw-Tz41" "$tmp/err" && fail "wrong password in a file: the password was shown"
printf 'right-pw-Vb52\n' >"$tmp/right.pw"
copy --from "$db" --to "postgresql://app@/appdb?host=$tmp/pg&port=5436" --password-file "$tmp/right.pw"
[ "$rc" = 0 ] || fail "the right password in a file: exit $rc: $(cat "$tmp/err")"
grep -q "right-pw" "$tmp/out" "$tmp/err" && fail "the right password was shown"

# A database with a history that is not this copy's: another file's copy, a daemon's writes.
expect_fail "another file's copy" "$(shown c1) holds a copy of $(realpath "$db"), not of $(realpath "$big")" \
	--from "$big" --to "$(url c1)"
"$mp" store copy --from "$db" --to "$(url c3)" >/dev/null 2>&1 || fail "copying into c3"
"$seed" "$tmp/s2.db" || die "store_seed"
copy --from "$tmp/s2.db" --to "$(url c4)"
[ "$rc" = 0 ] || fail "copying into c4: $(cat "$tmp/err")"
psql -qAt -d c4 -c "DELETE FROM meta WHERE key LIKE 'copy/%'" >/dev/null
expect_fail "a history of its own" "$(shown c4) already holds a history \(2 checks, such as \"imap-main\"\) that is not a copy of" \
	--from "$db" --to "$(url c4)"
# A controller active on the store: it holds the lead's lock in its session.
psql -qAt -d c5 -c "SELECT pg_advisory_lock($((0x6d702d6c65616421)))" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
holders="$holders $!"
sleep 0.5
expect_fail "a controller active" "$(shown c5): a controller \(mailpulse run\) is active on this store" \
	--from "$db" --to "$(url c5)"
[ "$(psql -qAt -d c5 -c "SELECT count(*) FROM meta WHERE key LIKE 'copy/%'")" = 0 ] ||
	fail "a controller active: the copy wrote"
# Its session ended: the same copy goes through.
psql -qAt -d c5 -c "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()" >/dev/null
copy --from "$db" --to "$(url c5)"
[ "$rc" = 0 ] || fail "once the controller is gone: exit $rc: $(cat "$tmp/err")"

# A file of an older schema is migrated first, which a daemon holding it forbids.
old=$tmp/old.db
cp "$db" "$old"
python3 - "$old" <<'EOF' || die "making an older file"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for t, col in (("results", "counts_as"), ("rollups", "uptime_count"), ("rollups", "uptime_up"), ("rollups", "uptime_maint")):
    c.execute("ALTER TABLE %s DROP COLUMN %s" % (t, col))
c.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
c.commit()
EOF
# A daemon's lock: flock() on FILE.lock, which holds its PID.
python3 -c 'import fcntl, os, sys, time
f = open(sys.argv[1], "w"); fcntl.flock(f, fcntl.LOCK_EX); f.write("%d\n" % os.getpid()); f.flush()
time.sleep(60)' "$old.lock" &
lockpid=$!
holders="$holders $lockpid"
for _ in $(seq 50); do [ -s "$old.lock" ] && break; sleep 0.1; done
expect_fail "older file, daemon running" "store $old is in use by mailpulse run \(pid $lockpid\): one daemon per store; its schema \(version 4\) must be brought up to date before it is copied: stop the daemon, then copy" \
	--from "$old" --to "$(url c6)"
[ "$(sq "$old" "SELECT value FROM meta WHERE key = 'schema_version'")" = 4 ] ||
	fail "older file, daemon running: it was touched"
kill "$lockpid"
wait "$lockpid" 2>/dev/null
copy --from "$old" --to "$(url c6)"
[ "$rc" = 0 ] || fail "older file: exit $rc: $(cat "$tmp/err")"
[ "$(sq "$old" "SELECT value FROM meta WHERE key = 'schema_version'")" = 5 ] ||
	fail "older file: not migrated"

# Usage: exit 3, and a URI's password never echoed.
for args in "" "--from $db" "--to $(url c3)" "--from $db --to /tmp/x.db" "--from $(url c3) --to $(url c3)" \
	"--from $db --to $(url c3) extra" "--from $db --to $(url c3) --bogus=postgresql://u:pw-Lk3@h/d"; do
	# shellcheck disable=SC2086 # split on purpose
	copy $args
	[ "$rc" = 3 ] || fail "usage '$args': exit $rc, want 3"
	[ -s "$tmp/err" ] || fail "usage '$args': nothing said"
	grep -q "pw-Lk3" "$tmp/err" && fail "usage '$args': the password was shown"
done
MAILPULSE_COPY_CHUNK=0 "$mp" store copy --from "$db" --to "$(url c3)" >/dev/null 2>&1
[ $? = 3 ] || fail "MAILPULSE_COPY_CHUNK=0: not a usage error"
"$mp" store copy --help >"$tmp/out" 2>&1 || fail "store copy --help: exit $?"
grep -q "^Usage: mailpulse store copy --from FILE --to URI" "$tmp/out" || fail "store copy --help: $(cat "$tmp/out")"
"$mp" help store >"$tmp/out" 2>&1 || fail "help store: exit $?"
grep -q "^Usage: mailpulse store copy" "$tmp/out" || fail "help store: $(cat "$tmp/out")"
"$mp" store nope >/dev/null 2>&1
[ $? = 3 ] || fail "store nope: not a usage error"

[ "$failed" = 0 ] && echo "ok: store copy"
exit "$failed"
