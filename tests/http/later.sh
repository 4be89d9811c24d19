#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Replies given later (api.h, struct http_later): the store-backed
# endpoints (results, uptime, series, incidents, a check's page) can
# answer from the loop after the handler returned, as a store on a server
# will. MAILPULSE_TEST_API_LATER_MS
# holds every such answer 400 ms, so this runs with SQLite: the answers are
# complete and right, the loop serves others meanwhile, a client that leaves
# before its answer harms nothing (the daemon lives on; under ASan nothing
# is touched after it is freed), and two requests on one kept-alive
# connection are answered in order.
. "$(dirname "$0")/lib.sh"

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
write_conf "$tmp/mp.yaml" "{listen: \"127.0.0.1:$hp\"}"
export MAILPULSE_TEST_API_LATER_MS=400
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 15 "pop-ok up" api_state_is pop-ok up
wait_for 15 "pop-dead down" api_state_is pop-dead down
wait_for 15 "pop-dead's first results written" bash -c \
	"curl -sf '$base/api/v1/checks/pop-dead/results' | jq -e '.results | length >= 1'"

# The answers: complete, and held as long as asked.
ms() { date +%s%3N; }
t0=$(ms)
curl -sf -o "$tmp/results.json" "$base/api/v1/checks/pop-dead/results?limit=5" || fail "GET results"
took=$(($(ms) - t0))
[ "$took" -ge 400 ] || fail "results answered in $took ms: not held"
jq -e '.check == "pop-dead" and (.results | length >= 1) and .results[0].status == "down" and
  .results[0].reason == "refused" and (.until == null)' "$tmp/results.json" >/dev/null ||
	fail "results: $(cat "$tmp/results.json")"
curl -sf -o "$tmp/incidents.json" "$base/api/v1/incidents?check=pop-dead" || fail "GET incidents"
jq -e '.check == "pop-dead" and (.incidents | length) == 1 and .incidents[0].open == true' \
	"$tmp/incidents.json" >/dev/null || fail "incidents: $(cat "$tmp/incidents.json")"
curl -sf -o "$tmp/series.json" "$base/api/v1/checks/pop-ok/series" || fail "GET series"
jq -e '.check == "pop-ok" and (.buckets | length) >= 1 and .buckets[-1].up_count >= 1' \
	"$tmp/series.json" >/dev/null || fail "series: $(cat "$tmp/series.json")"
t0=$(ms)
curl -sf -o "$tmp/uptime.json" "$base/api/v1/checks/pop-dead/uptime?window=7d&by=day" ||
	fail "GET uptime by day"
took=$(($(ms) - t0))
[ "$took" -ge 400 ] || fail "uptime answered in $took ms: not held"
jq -e '.check == "pop-dead" and .uptime_pct == 0 and .window_ms == 604800000 and
  (.days | length) == 7 and .days[-1].probes >= 1 and .days[-1].uptime_pct == 0 and
  .days[0].probes == 0 and .days[0].uptime_pct == null' "$tmp/uptime.json" >/dev/null ||
	fail "uptime by day: $(cat "$tmp/uptime.json")"
# The check's page: its incidents and deliveries come from the store, held too.
t0=$(ms)
curl -sf -o "$tmp/check.json" "$base/api/v1/checks/pop-dead" || fail "GET check"
took=$(($(ms) - t0))
[ "$took" -ge 400 ] || fail "the check's page answered in $took ms: not held"
jq -e '.name == "pop-dead" and .state == "down" and (.incidents | length) == 1 and
  .incidents[0].open == true and (.deliveries | type) == "array"' "$tmp/check.json" >/dev/null ||
	fail "check: $(cat "$tmp/check.json")"
# Refusals are given at once, not held.
t0=$(ms)
expect_error 400 GET "/api/v1/checks/pop-ok/results?limit=0"
expect_error 404 GET "/api/v1/checks/nope/series"
took=$(($(ms) - t0))
[ "$took" -lt 400 ] || fail "refusals took $took ms: held like answers"

# While answers are held the loop serves others.
bg=()
for i in 1 2 3 4; do
	curl -sf -o /dev/null "$base/api/v1/checks/pop-ok/results" &
	bg+=("$!")
done
sleep 0.1
t0=$(ms)
curl -sf -o /dev/null "$base/healthz" || fail "healthz while answers are held"
took=$(($(ms) - t0))
[ "$took" -lt 300 ] || fail "healthz took $took ms while answers were held"
for p in "${bg[@]}"; do wait "$p" || fail "a held results request failed"; done

# Clients that leave before their answer: nothing breaks.
bg=()
for i in $(seq 20); do
	curl -s -o /dev/null --max-time 0.1 "$base/api/v1/checks/pop-ok/results" &
	bg+=("$!")
	curl -s -o /dev/null --max-time 0.2 "$base/api/v1/incidents" &
	bg+=("$!")
done
for p in "${bg[@]}"; do wait "$p"; done
sleep 0.6
kill -0 "$daemon_pid" 2>/dev/null || fail "daemon gone after clients left early"
curl -sf "$base/healthz" >/dev/null || fail "healthz after clients left early"
jq -e '.api_cache' <(curl -sf "$base/api/v1/health") >/dev/null || fail "health after"

# Two requests on one kept-alive connection: both answered, in order.
curl -sf -o "$tmp/a.json" "$base/api/v1/checks/pop-ok/results?limit=1" \
	-o "$tmp/b.json" "$base/api/v1/checks/pop-dead/results?limit=1" || fail "two on one connection"
jq -e '.check == "pop-ok"' "$tmp/a.json" >/dev/null || fail "first of two: $(cat "$tmp/a.json")"
jq -e '.check == "pop-dead"' "$tmp/b.json" >/dev/null || fail "second of two: $(cat "$tmp/b.json")"
echo "http later: ok"
