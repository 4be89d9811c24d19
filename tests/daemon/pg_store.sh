#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The daemon on a PostgreSQL store (issue 14), as an admin runs it: store:
# {dsn, password_file}, a role with a password; a check that goes down and
# comes back (incident, webhook, the report commands and the API reading
# PostgreSQL); then PostgreSQL stopped under load and started again: the
# daemon goes on probing and alerting, queues its rows, reports the queue's
# high-water mark and the store's trouble, holds the alert it judged until
# it has its session (and the lead) back, sends it then, once, and writes
# every row; SIGTERM loses nothing. The password is in no log, no
# process list and no configuration dump.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/pg.sh"
chmod 711 "$tmp"
trap 'pg_stop; cleanup' EXIT

pg_start "$tmp/pg" 5435 || fail "PostgreSQL did not start"
psql -qAt -c "CREATE ROLE mpd LOGIN PASSWORD 'pg-Pw-Daemon-77'" -c "CREATE DATABASE mpd OWNER mpd" \
	>/dev/null || fail "setting up the cluster"
printf 'pg-Pw-Daemon-77\n' >"$tmp/pg.pw"
chmod 600 "$tmp/pg.pw"

start_http_sink
port=$(free_port)
start_toggle "$port"
# The load: 60 more checks of a server that stays up, 40 results a second.
load=$(free_port)
"$FAKESRV" --port "$load" --max-conns 100000 --lifetime 180 "$(dirname "$0")/pop3_ok.scn" \
	2>>"$tmp/load.log" &
pids+=("$!")
api=$(free_port)
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store:
  dsn: "postgresql://mpd@/mpd?host=$tmp/pg&port=5435"
  password_file: $tmp/pg.pw
http: {listen: "127.0.0.1:$api"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook", retries: 2}
checks:
  - {name: toggle, url: "pop3://127.0.0.1:$port", notify: [hook]}
  - {name: steady, url: "pop3://127.0.0.1:$port"}
$(for i in $(seq -w 1 60); do echo "  - {name: load-$i, url: \"pop3://127.0.0.1:$load\"}"; done)
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >"$tmp/check.out" 2>&1 || fail "config rejected: $(cat "$tmp/check.out")"
"$MAILPULSE" config check -v "$tmp/mp.yaml" >"$tmp/dump.out" 2>&1 || fail "config check -v: $(cat "$tmp/dump.out")"
grep -q "password_file: $tmp/pg.pw" "$tmp/dump.out" || fail "config check -v has no password_file: $(cat "$tmp/dump.out")"
start_daemon "$tmp/mp.yaml"

status_json() { "$MAILPULSE" status -c "$tmp/mp.yaml" --json; }
wait_for 15 "toggle up (read back from PostgreSQL)" state_is toggle up
stop_toggle
wait_for 15 "toggle down" state_is toggle down
"$MAILPULSE" incidents toggle -c "$tmp/mp.yaml" --json >"$tmp/inc.json" 2>&1 &&
	jq -e '.incidents | length == 1 and .[0].end == null and .[0].reason == "refused"' "$tmp/inc.json" >/dev/null ||
	fail "no open incident: $(cat "$tmp/inc.json")"
start_toggle "$port"
wait_for 15 "toggle up again" state_is toggle up
wait_for 10 "two webhooks" bash -c "[ \$(grep -c . '$tmp/http.jsonl') -ge 2 ]"
# The API reads PostgreSQL from the daemon's loop: up, two downs, up at
# least (the test may get here as fast as that), never past the limit.
curl -sf "http://127.0.0.1:$api/api/v1/checks/toggle/results?limit=5" >"$tmp/api.json" ||
	fail "API results: $(cat "$tmp/api.json")"
jq -e '(.results | length) >= 4 and (.results | length) <= 5' "$tmp/api.json" >/dev/null || fail "API results: $(cat "$tmp/api.json")"
curl -sf "http://127.0.0.1:$api/api/v1/incidents?check=toggle" >"$tmp/api_inc.json" &&
	jq -e '.incidents | length == 1 and .[0].end != null' "$tmp/api_inc.json" >/dev/null ||
	fail "API incidents: $(cat "$tmp/api_inc.json")"

# PostgreSQL goes away under load: probing and judging go on, rows queue;
# the alert of an outage judged meanwhile waits for its claim, so that a
# controller without its session sends nothing (another may have taken over).
before=$(psql -d mpd -qAt -c "SELECT count(*) FROM results")
pg_stop
t_stop=$SECONDS
stop_ms=$(date +%s%3N)
stop_toggle
# After the line that says the session is lost, toggle's state changes.
down_after_lost() {
	awk '/lost its database session/ { f = 1 } f && /check toggle: up -> down/ { ok = 1 }
		END { exit !ok }' "$tmp/daemon.log"
}
wait_for 20 "toggle judged down while PostgreSQL is away" down_after_lost
grep -q "store: this controller lost its database session" "$tmp/daemon.log" ||
	fail "losing the database session is not logged"
wait_for 10 "the store's trouble logged" grep -q "store: writing failed: store postgresql://mpd@$tmp/pg:5435/mpd" "$tmp/daemon.log"
curl -sf "http://127.0.0.1:$api/api/v1/health" >"$tmp/health.json" || fail "health while PostgreSQL is away"
jq -e '.role == "lost" and .store_ok == false and .store_queued > 0 and .store_queued_high >= .store_queued' "$tmp/health.json" >/dev/null ||
	fail "health does not show the queue and the lost session: $(cat "$tmp/health.json")"
curl -sf "http://127.0.0.1:$api/metrics" >"$tmp/metrics.txt" || fail "metrics while PostgreSQL is away"
grep -q '^mailpulse_store_queued_rows_high [1-9]' "$tmp/metrics.txt" ||
	fail "metrics: no queue high-water mark: $(grep mailpulse_store "$tmp/metrics.txt")"
sleep 1
[ "$(grep -c . "$tmp/http.jsonl")" -eq 2 ] ||
	fail "a notification went out without the database session: $(tail -n 1 "$tmp/http.jsonl")"
# The same server, started again on its directory.
back_ms=$(date +%s%3N)
pg_restart "$tmp/pg" || fail "PostgreSQL did not start again"
wait_for 30 "writing works again" grep -q "store: writing works again" "$tmp/daemon.log"
gap=$((SECONDS - t_stop))
wait_for 15 "the outage's alert, sent once the lead is back" \
	bash -c "[ \$(grep -c . '$tmp/http.jsonl') -ge 3 ]"
jq -s -e 'map(.body | fromjson) | .[2].kind == "down" and .[2].check == "toggle"' "$tmp/http.jsonl" >/dev/null ||
	fail "the third webhook is not toggle's outage: $(jq -c '.body | fromjson | {kind, check}' "$tmp/http.jsonl")"
start_toggle "$port"
wait_for 15 "toggle up once more" state_is toggle up
wait_for 10 "its recovery" bash -c "[ \$(grep -c . '$tmp/http.jsonl') -ge 4 ]"
sleep 1
jq -s -e 'map(.body | fromjson | .kind) == ["down", "recovery", "down", "recovery"]' "$tmp/http.jsonl" >/dev/null ||
	fail "webhooks, each once: $(jq -c '.body | fromjson | .kind' "$tmp/http.jsonl")"
after=$(psql -d mpd -qAt -c "SELECT count(*) FROM results")
[ "$after" -gt "$before" ] || fail "no rows written after PostgreSQL came back ($before, then $after)"
# Rows of the outage are there: probes taken while the server was away.
outage_rows=$(psql -d mpd -qAt -c "SELECT count(*) FROM results r JOIN checks c ON c.id = r.check_id
	WHERE c.name = 'toggle' AND r.status = 2 AND r.ts_ms BETWEEN $stop_ms AND $back_ms")
[ "${outage_rows:-0}" -gt 0 ] || fail "the failures probed while PostgreSQL was away are not stored"
grep -q 'store: writing works again after .* queued rows written' "$tmp/daemon.log" ||
	fail "no line telling how many queued rows were written"
# Every claim says how its notification ended.
[ "$(psql -d mpd -qAt -c "SELECT count(*) FROM claims WHERE done_ms IS NOT NULL AND ok = 1")" = 4 ] ||
	fail "claims: $(psql -d mpd -qAt -c "SELECT key, controller, done_ms, ok FROM claims")"

kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
[ "$rc" -eq 0 ] || fail "daemon exited with $rc on SIGTERM"
logged=$(grep -c 'debug: check toggle: ' "$tmp/daemon.log")
stored=$("$MAILPULSE" history toggle -c "$tmp/mp.yaml" --json --limit 10000 | jq '.results | length')
[ "$logged" -eq "$stored" ] || fail "SIGTERM: $logged results logged, $stored stored"
# Every result of every check, the load's included, is in the store once.
logged_all=$(grep -cE 'debug: check [^ ]+: (up|down|degraded|unknown) ' "$tmp/daemon.log")
stored_all=$(psql -d mpd -qAt -c "SELECT count(*) FROM results")
[ "$logged_all" -eq "$stored_all" ] || fail "SIGTERM: $logged_all results logged in all, $stored_all stored"
for f in "$tmp/daemon.log" "$tmp/dump.out" "$tmp/check.out" "$tmp/pg/server.log"; do
	grep -q "pg-Pw-Daemon-77" "$f" && fail "the password is in $f"
done
echo "ok: a daemon on PostgreSQL; $stored_all results ($stored of toggle) kept across a ${gap}s outage of the server, $(jq .store_queued_high "$tmp/health.json") rows queued at most"
