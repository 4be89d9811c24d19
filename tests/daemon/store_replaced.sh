#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The store file deleted or replaced under the running daemon: noticed at
# the next flush, logged as an error saying what happened and where the
# earlier history is, and results go on landing in a file at the store's
# path, readable with `mailpulse history`. The current states and open
# incidents are carried over, so `mailpulse status` stays right. A file
# that is not a store is never written: rows stay queued (health says why)
# until the path is fixed.
. "$(dirname "$0")/lib.sh"

db=$tmp/mp.db
port=$(free_port)
dead=$(free_port)
hp=$(free_port)
start_toggle "$port"
cat >"$tmp/mp.yaml" <<EOF
store: $db
http: {listen: "127.0.0.1:$hp"}
defaults: {interval: 30s, timeout: 5s, starttls: "no"}
checks:
  - {name: c1, url: "pop3://127.0.0.1:$port"}
  - {name: c2, url: "pop3://127.0.0.1:$dead"}
EOF
start_daemon "$tmp/mp.yaml"
wait_for 20 "c1 up" state_is c1 up
wait_for 20 "c2 down" state_is c2 down

count() { # count CHECK FILE: results of CHECK in FILE
	"$MAILPULSE" history "$1" --store "$2" --json --limit 10000 | jq '.results | length'
}
log_after() { tail -n +$(($1 + 1)) "$tmp/daemon.log" | grep -q "$2"; }
more_than() { local n; n=$(count "$1" "$2") && [ "$n" -gt "$3" ]; }
health() { curl -s "http://127.0.0.1:$hp/api/v1/health"; }
incident_open() {
	status_json | jq -e '.checks[] | select(.check == "c2") | .incident.open == true'
}

# ---- rm of the store and its side files
mark=$(wc -l <"$tmp/daemon.log")
rm -f "$db" "$db-wal" "$db-shm"
wait_for 5 "the deletion logged as an error" log_after "$mark" "error: store $db was deleted"
# The line after it, written a moment later: waited for, not read at once.
wait_for 5 "a line saying where the history before now is" \
	bash -c "tail -n +$((mark + 1)) '$tmp/daemon.log' | grep 'store $db' | grep -q 'history before now'"
wait_for 10 "results in the new store" more_than c1 "$db" 0
wait_for 5 "c1 up in the new store" state_is c1 up
state_is c2 down || fail "c2's state was not carried over: $(status_json)"
incident_open >/dev/null || fail "c2's open incident was not carried over: $(status_json)"
# The API's uptime worker reads the new file too (it has its own handle).
cache_follows() {
	curl -s "http://127.0.0.1:$hp/api/v1/checks" >/dev/null
	log_after "$mark" "api cache: $db is another file now"
}
wait_for 15 "the API's uptime figures rebuilt from the new file" cache_follows

# ---- mv away (the -wal stays behind), then a restore over the new file
wait_for 10 "more results" more_than c1 "$db" 2
n=$(count c1 "$db")
mark=$(wc -l <"$tmp/daemon.log")
mv "$db" "$tmp/old.db"
wait_for 5 "the move logged" log_after "$mark" "error: store $db was deleted"
wait_for 10 "results in a new store after the move" more_than c1 "$db" 0
# What was written before the move is complete in the moved file, WAL included.
m=$(count c1 "$tmp/old.db") || fail "the moved file is unreadable"
[ "$m" -ge "$n" ] || fail "the moved file holds $m results of c1, $n were written before the move"
wait_for 10 "more results in the new store" more_than c1 "$db" 1
mark=$(wc -l <"$tmp/daemon.log")
mv "$tmp/old.db" "$db"
wait_for 5 "the replacement logged" log_after "$mark" "error: store $db was replaced by another file"
wait_for 10 "results written to the restored file" more_than c1 "$db" "$m"

# ---- a file that is not a store: refused, rows kept, health says why
mark=$(wc -l <"$tmp/daemon.log")
printf 'not a store\n' >"$tmp/junk"
mv "$tmp/junk" "$db"
wait_for 5 "the junk file refused" log_after "$mark" "store $db.*not a database"
wait_for 5 "health: store not ok" bash -c "curl -s http://127.0.0.1:$hp/api/v1/health |
	jq -e '.store_ok == false and (.store_error | test(\"not a database\"))'"
[ "$(cat "$db")" = "not a store" ] || fail "the junk file was written to"
sleep 2
junk_results=$(tail -n +$((mark + 1)) "$tmp/daemon.log" | grep -c 'debug: check c1')
rm -f "$db"
wait_for 10 "a new store after the junk was removed" more_than c1 "$db" $((junk_results - 1))
wait_for 5 "health: store ok again" bash -c "curl -s http://127.0.0.1:$hp/api/v1/health |
	jq -e '.store_ok == true and .store_error == null'"

kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "the daemon did not stop cleanly"
grep -q 'stopped; [0-9]* queued rows written, 0 lost' "$tmp/daemon.log" || fail "no clean stop line"
echo "ok: deletion, move, restore and a junk file handled; $junk_results results kept across the junk"
