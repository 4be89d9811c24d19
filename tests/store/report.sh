#!/bin/sh
# SPDX-License-Identifier: ISC
# report.sh MAILPULSE STORE_SEED
#
# `mailpulse status|history|uptime|incidents` against a store filled by
# store_seed (see its header for the story), --json checked with jq, the
# tables checked for their key facts, the errors for their exit status.
set -u
mp=$1
seed=$2

command -v jq >/dev/null 2>&1 || {
	echo "jq not installed: skipped"
	exit 77
}

dir=$(mktemp -d /tmp/mp-report-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
db=$dir/store.db
failed=0

fail() {
	echo "FAIL: $*" >&2
	failed=1
}

# expect_json NAME JQ-FILTER ARGS...: the command exits 0 and the filter prints "true".
expect_json() {
	name=$1
	filter=$2
	shift 2
	if ! "$mp" "$@" --store "$db" --json >"$dir/out" 2>"$dir/err"; then
		fail "$name: exit $? ($(cat "$dir/err"))"
		return
	fi
	# -n and input: jq 1.6's -e alone is true on empty input.
	got=$(jq -en "input | ($filter)" <"$dir/out" 2>&1) || {
		fail "$name: $filter gave '$got' on:"
		cat "$dir/out" >&2
	}
}

# expect_exit NAME CODE ARGS...: the command exits CODE and says something on stderr.
expect_exit() {
	name=$1
	code=$2
	shift 2
	"$mp" "$@" >"$dir/out" 2>"$dir/err"
	rc=$?
	[ "$rc" -eq "$code" ] || fail "$name: exit $rc, expected $code"
	if [ "$code" -ne 0 ] && [ ! -s "$dir/err" ]; then
		fail "$name: nothing on stderr"
	fi
}

"$seed" "$db" || {
	echo "FAIL: store_seed" >&2
	exit 1
}

# ---- status ----
expect_json "status: two checks" '.checks | length == 2' status
expect_json "status: imap-main up" \
	'.checks[] | select(.check == "imap-main") | .state == "up" and .incident == null
	 and .last.status == "up" and .last.time_to_greeting_ms >= 20' status
expect_json "status: pop-backup down, incident open" \
	'.checks[] | select(.check == "pop-backup") | .state == "down"
	 and .incident.open == true and .incident.reason == "timeout"
	 and .incident.duration_ms >= 1800000 and .last.reason == "timeout"' status
expect_json "status: non-UTF-8 byte escaped" \
	'.checks[] | select(.check == "pop-backup") | .last.message | test("\\\\xff")' status

"$mp" status --store "$db" >"$dir/out" 2>"$dir/err" || fail "status (table): exit $?"
head -n 1 "$dir/out" | grep -q '^CHECK  *STATE  *FOR  *LAST PROBE  *RESULT  *TTG  *REASON  *MESSAGE$' ||
	fail "status (table): header: $(head -n 1 "$dir/out")"
grep -Eq '^pop-backup +DOWN +(29|30)m [0-9]+s +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +DOWN +- +timeout +no greeting' "$dir/out" ||
	fail "status (table): pop-backup row: $(grep pop-backup "$dir/out")"
grep -Eq '^imap-main +UP +(2h 59m|3h 0m) ' "$dir/out" ||
	fail "status (table): imap-main row: $(grep imap-main "$dir/out")"
grep -qF 'no greeting within 10 s \xff\x01' "$dir/out" ||
	fail "status (table): the bytes that are not text are not shown as \\xNN once"
if LC_ALL=C grep -q '[^[:print:][:space:]]' "$dir/out"; then
	fail "status (table): raw control or non-ASCII bytes reach the terminal"
fi

# ---- history ----
expect_json "history: limit, newest first" \
	'(.results | length == 5) and (.results[0].ts_ms > .results[1].ts_ms)
	 and ([.results[].status] | all(. == "up")) and .check == "imap-main"' \
	history imap-main --since 1h --limit 5
expect_json "history: 2h window" '.results | length == 24' history imap-main --since 2h
expect_json "history: the outage" \
	'[.results[] | select(.status == "down")] | length == 24 and
	 (.[0].reason == "refused") and (.[0].time_to_greeting_ms == null)' \
	history imap-main --since 6h
expect_json "history: raw rows only back to raw_days" \
	'.results | length > 0 and length <= 300' history imap-main --since 7d --limit 10000
"$mp" history imap-main --since 1h --store "$db" >"$dir/out" 2>&1 || fail "history (table): exit $?"
[ "$(wc -l <"$dir/out")" -eq 13 ] || fail "history (table): $(wc -l <"$dir/out") lines, expected 13"
grep -Eq '^TIME +LOCATION +STATUS +TTG +TOTAL +REASON +MESSAGE$' "$dir/out" ||
	fail "history (table): header"
grep -Eq '^[0-9-]{10}T[0-9:]{8}Z +local +UP +20\.[0-9] ms +2[0-9]\.[0-9] ms +ok +-$' "$dir/out" ||
	fail "history (table): a row: $(sed -n 2p "$dir/out")"

# ---- uptime ----
expect_json "uptime: 3 days from roll-ups" \
	'.from_rollups == true and .probes >= 860 and .probes <= 880
	 and .uptime_pct > 97 and .uptime_pct < 97.5 and .check == "imap-main"' \
	uptime imap-main --since 3d
expect_json "uptime: last hour from raw rows" \
	'.from_rollups == false and .probes == 12 and .up == 12 and .uptime_pct == 100' \
	uptime imap-main --since 1h
expect_json "uptime: nothing in the future" '.probes == 0 and .uptime_pct == null' \
	uptime imap-main --since 2099-01-01T00:00:00Z
"$mp" uptime pop-backup --since 1d --store "$db" >"$dir/out" 2>&1 || fail "uptime (text): exit $?"
grep -Eq '^uptime: +97\.9[0-9]{2}%$' "$dir/out" || fail "uptime (text): $(cat "$dir/out")"

# ---- incidents ----
expect_json "incidents: both, newest first" \
	'(.incidents | length == 2) and .incidents[0].check == "pop-backup"
	 and .incidents[0].open == true and .incidents[0].end == null
	 and .incidents[1].check == "imap-main" and .incidents[1].open == false
	 and .incidents[1].duration_ms == 7200000 and .incidents[1].reason == "refused"' incidents
expect_json "incidents: one check" '.incidents | length == 1' incidents imap-main
expect_json "incidents: since excludes older ones" '.incidents | length == 1' incidents --since 2h
"$mp" incidents --store "$db" >"$dir/out" 2>&1 || fail "incidents (table): exit $?"
grep -Eq '^imap-main +[0-9-]{10}T[0-9:]{8}Z +[0-9-]{10}T[0-9:]{8}Z +2h 0m +refused +connection refused$' "$dir/out" ||
	fail "incidents (table): imap-main row: $(grep imap-main "$dir/out")"
grep -Eq '^pop-backup +[0-9-]{10}T[0-9:]{8}Z +\(open\) +(29|30)m [0-9]+s +timeout ' "$dir/out" ||
	fail "incidents (table): pop-backup row: $(grep pop-backup "$dir/out")"

# ---- the store from -c CONFIG ----
printf 'store: %s\nchecks:\n  - name: imap-main\n    url: imaps://mail.example.org\n' "$db" >"$dir/mp.yaml"
"$mp" status -c "$dir/mp.yaml" --json >"$dir/out" 2>"$dir/err" || fail "status -c: exit $? ($(cat "$dir/err"))"
jq -en 'input | .checks | length == 2' <"$dir/out" >/dev/null || fail "status -c: wrong document"

# A configuration the daemon would refuse still names the store: every
# report reads it, with a warning on stderr naming the first error.
printf 'store: %s\nchecks:\n  - name: imap-main\n    url: imaps://mail.example.org\n    interval: soon\n  - name: x\n    url: ftp://nope\n' "$db" >"$dir/bad.yaml"
for c in status "history imap-main" "uptime imap-main" incidents; do
	# shellcheck disable=SC2086 # the command and its NAME, split on purpose
	"$mp" $c -c "$dir/bad.yaml" --json >"$dir/out" 2>"$dir/err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$c -c (config with errors): exit $rc ($(cat "$dir/err"))"
		continue
	fi
	jq -en 'input | type == "object"' <"$dir/out" >/dev/null || fail "$c -c (config with errors): no document"
	grep -q "warning: $dir/bad.yaml:5:15: .*(and 1 more).*only its store path is used" "$dir/err" ||
		fail "$c -c (config with errors): no warning naming file:line:col: $(cat "$dir/err")"
done
# The store path itself wrong: nothing to read, every problem said, exit 3.
printf 'store: [%s]\nchecks: []\n' "$db" >"$dir/badstore.yaml"
expect_exit "status -c (store: itself wrong)" 3 status -c "$dir/badstore.yaml"
grep -q "badstore.yaml:1:8: " "$dir/err" || fail "status -c (store: itself wrong): $(cat "$dir/err")"
printf 'checks: [\n' >"$dir/notyaml.yaml"
expect_exit "status -c (not YAML)" 3 status -c "$dir/notyaml.yaml"

# ---- errors and help ----
expect_exit "unknown check" 3 history nope --store "$db"
grep -q 'nope' "$dir/err" || fail "unknown check: the name is not in the message"
expect_exit "missing store" 3 status --store "$dir/none.db"
[ ! -e "$dir/none.db" ] || fail "missing store: a report created it"
expect_exit "bad --since" 3 uptime imap-main --since 3q --store "$db"
expect_exit "bad ISO date" 3 uptime imap-main --since 2024-02-30 --store "$db"
expect_exit "bad --limit" 3 history imap-main --limit 0 --store "$db"
expect_exit "--limit on uptime" 3 uptime imap-main --limit 5 --store "$db"
expect_exit "no NAME" 3 history --store "$db"
expect_exit "extra argument" 3 status extra --store "$db"
expect_exit "--store and -c" 3 status --store "$db" -c "$dir/mp.yaml"
expect_exit "unknown option" 3 status --bogus
expect_exit "not a store" 3 status --store "$dir/mp.yaml"
# The store: value names the backend: sqlite:PATH is the file; PostgreSQL is refused by name,
# and a URL (which may hold a password) is never repeated.
"$mp" status --store "sqlite:$db" --json >"$dir/out" 2>"$dir/err" &&
	jq -e '.checks | length == 2' "$dir/out" >/dev/null ||
	fail "status --store sqlite:PATH: $(cat "$dir/err" "$dir/out")"
# A PostgreSQL that cannot be reached (a socket directory that is not there).
expect_exit "--store postgresql://" 3 status --store "postgresql://mp:s3cret@/mp?host=$dir/nopg"
grep -q "store postgresql://mp@$dir/nopg/mp: cannot connect" "$dir/err" ||
	fail "--store postgresql://: $(cat "$dir/err")"
grep -q "s3cret" "$dir/err" && fail "--store postgresql://: the URL's password was shown"
printf 'store: "postgres://mp:s3cret@db/mp"\nchecks: []\n' >"$dir/pg.yaml"
expect_exit "status -c (store: postgres://)" 3 status -c "$dir/pg.yaml"
grep -q "pg.yaml:1:8: store: the URI holds a password, which the configuration must not" "$dir/err" ||
	fail "store: postgres:// in a config: $(cat "$dir/err")"
grep -q "s3cret" "$dir/err" && fail "store: postgres:// in a config: the password was shown"
for c in status history uptime incidents; do
	expect_exit "$c --help" 0 "$c" --help
	grep -q "^Usage: mailpulse $c" "$dir/out" || fail "$c --help: no usage line"
done

[ "$failed" -eq 0 ] && echo "ok"
exit "$failed"
