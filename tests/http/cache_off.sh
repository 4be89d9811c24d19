#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Without the uptime cache (MAILPULSE_API_CACHE=off, or a cache that could
# not start) the summaries still never run a store query per check: each
# /api/v1/checks request builds the figures of every check in the same five
# batched reads (store_q_counts() for all checks at once: the 30 days, the
# hours since, and the three window edges), whatever the number of checks,
# and the figures are the ones the store gives check by check.
. "$(dirname "$0")/lib.sh"

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: sqlite:$tmp/mp.db
http: {listen: "127.0.0.1:$hp"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 1, starttls: "no"}
checks:
YAML
for i in 1 2 3 4; do
	echo "  - {name: ok-$i, url: \"pop3://127.0.0.1:$pop3_port\"}" >>"$tmp/mp.yaml"
	echo "  - {name: dead-$i, url: \"pop3://127.0.0.1:1\"}" >>"$tmp/mp.yaml"
done
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
export MAILPULSE_API_CACHE=off
start_http_daemon "$tmp/mp.yaml" "$hp"
for i in 1 2 3 4; do
	wait_for 15 "ok-$i up" api_state_is "ok-$i" up
	wait_for 15 "dead-$i down" api_state_is "dead-$i" down
done
# The figures come from the store: wait until every check's first result is written.
wait_for 15 "the 24 h figures of all eight checks" bash -c \
	"curl -sf '$base/api/v1/checks' | jq -e '[.checks[].uptime_pct[\"24h\"]] | map(. != null) | all and length == 8'"

queries() { curl -sf "$base/api/v1/health" | jq -e '.api_cache | select(.enabled == false) | .loop_store_queries'; }
q0=$(queries) || fail "api_cache: not disabled, or no loop_store_queries"
for n in 1 2 3; do
	curl -sf -o "$tmp/checks.json" "$base/api/v1/checks" || fail "GET /api/v1/checks"
done
q1=$(queries) || fail "api_cache after"
# Three requests of eight checks: 3 x 5 batched reads (per check it would be 3 x 8 x 3).
[ $((q1 - q0)) -eq 15 ] || fail "3 x /api/v1/checks ran $((q1 - q0)) store queries, want 15"

# The batched figures are those of the store's uptime of each check.
for c in ok-1 dead-3; do
	want=$(curl -sf "$base/api/v1/checks/$c/uptime?window=24h" | jq -r '.uptime_pct')
	got=$(jq -r --arg c "$c" '.checks[] | select(.name == $c) | .uptime_pct["24h"]' "$tmp/checks.json")
	[ -n "$want" ] && [ "$want" = "$got" ] || fail "$c: 24 h uptime $got in /api/v1/checks, the store says $want"
done
jq -e '[.checks[] | select(.name | startswith("ok-")) | .uptime_pct["30d"]] == [100, 100, 100, 100]' \
	"$tmp/checks.json" >/dev/null || fail "ok-*: 30 d uptime not 100: $(cat "$tmp/checks.json")"
jq -e '[.checks[] | select(.name | startswith("dead-")) | .uptime_pct["7d"]] == [0, 0, 0, 0]' \
	"$tmp/checks.json" >/dev/null || fail "dead-*: 7 d uptime not 0"
echo "http cache off: ok"
