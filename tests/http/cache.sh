#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The summaries are served from the API's caches, not from the store per
# request, and stay true: /status fetched 200 times in a row runs no store
# query on the probes' loop (the uptime figures come from the cache's
# worker, refreshed at most once per UPCACHE_TTL_MS = 5 s, and the page
# itself is kept for 2 s); the figures on /status and /api/v1/checks are
# those the store gives (exactly: tests/unit/test_upcache.c); an outage
# shows on /status within the page's 2 s and in its uptime within the
# figures' 5 s (+ the store's 1 s write delay).
# With MAILPULSE_API_CACHE=off (the code before the cache) the loop runs
# two uptime queries per public check and request, and this test fails.
. "$(dirname "$0")/lib.sh"

start_pop3 "$here/../daemon/pop3_ok.scn"
pop3_pid=${pids[-1]}
hp=$(free_port)
write_conf "$tmp/mp.yaml" "{listen: \"127.0.0.1:$hp\", public_status: {enabled: true, title: Mail, checks: [env=test]}}"
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 15 "pop-ok up" api_state_is pop-ok up
wait_for 15 "pop-dead down" api_state_is pop-dead down

health() { curl -sf "$base/api/v1/health" | jq -c '.api_cache'; }
# The figures of both checks, computed by the cache's worker from the store.
wait_for 15 "uptime figures of both checks" bash -c \
	"curl -sf '$base/api/v1/checks' | jq -e '[.checks[].uptime_pct[\"24h\"]] == [100, 0]'"
h0=$(health)

# ---- 200 fetches of /status: no store query on the loop, a bounded number off it
start=$SECONDS
for i in $(seq 200); do
	curl -sf -o "$tmp/status.html" "$base/status" || fail "GET /status #$i"
	grep -q '>pop-ok<' "$tmp/status.html" || fail "/status #$i without pop-ok"
done
took=$((SECONDS - start))
h1=$(health)
echo "200 x /status in ${took} s; cache before: $h0; after: $h1"
jq -e --argjson a "$h0" --argjson took "$took" '
  .enabled == true and .builds >= 1 and .checks == 2 and
  (.loop_store_queries - $a.loop_store_queries) == 0 and
  (.hits - $a.hits) >= 200 and .misses == $a.misses and
  (.refreshes + .builds - $a.refreshes - $a.builds) <= ($took / 5 | floor) + 2 and
  (.worker_queries - $a.worker_queries) <= 8 * (($took / 5 | floor) + 2) and
  .failures == 0' <<<"$h1" >/dev/null ||
	fail "200 x /status ran store queries per request: before $h0, after $h1"

# ---- the figures are the store's
for c in pop-ok pop-dead; do
	want=$(curl -sf "$base/api/v1/checks/$c/uptime?window=24h" | jq -r '.uptime_pct')
	got=$(curl -sf "$base/api/v1/checks" | jq -r --arg c "$c" '.checks[] | select(.name == $c) | .uptime_pct["24h"]')
	[ "$want" = "$got" ] || fail "$c: 24 h uptime $got in /api/v1/checks, the store says $want"
done
grep -q '<td class="num">100.000%</td>' "$tmp/status.html" || fail "/status: no 100.000% for pop-ok"
grep -q '<td class="num">0.000%</td>' "$tmp/status.html" || fail "/status: no 0.000% for pop-dead"

# ---- pop-ok goes down (probed at once, twice: fail_after 2): on /status within the TTLs
kill "$pop3_pid"
wait "$pop3_pid" 2>/dev/null
curl -sf -X POST "$base/api/v1/checks/pop-ok/run" >/dev/null || fail "POST run"
wait_for 10 "a failed probe of pop-ok" bash -c \
	"curl -sf '$base/api/v1/checks/pop-ok' | jq -e '.last.status == \"down\"'"
curl -sf -X POST "$base/api/v1/checks/pop-ok/run" >/dev/null || fail "POST run"
wait_for 10 "pop-ok down" api_state_is pop-ok down
down_at=$SECONDS
# A page kept from before the outage may be served for up to 2 s.
wait_for 4 "pop-ok as an outage on /status" bash -c \
	"curl -sf '$base/status' | grep '>pop-ok<' | grep -q 'badge s-down\">outage<'"
echo "outage on /status $((SECONDS - down_at)) s after the API said down"
# Its 24 h uptime below 100 %, on the page and in the list, once written and refreshed.
wait_for 10 "pop-ok's uptime down on /status" bash -c \
	"curl -sf '$base/status' | grep '>pop-ok<' | grep -Eq 'class=\"num\">[0-9]{1,2}\.[0-9]{3}%'"
wait_for 4 "pop-ok's uptime down in /api/v1/checks" bash -c \
	"curl -sf '$base/api/v1/checks' | jq -e '.checks[0].uptime_pct[\"24h\"] < 100'"
echo "http cache: ok"
