#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# GET /api/v1/checks/{name}/series: 30 days of results (series_seed.c: the
# part older than 2 days rolled up into hourly roll-ups, the rest raw) come
# back in buckets with no gap and no double count where roll-ups and raw
# rows meet; the failures are in the buckets of their hours; the 7-day
# default reaches its oldest day; bad parameters are refused.
. "$(dirname "$0")/lib.sh"

H=$("$SERIES_SEED" "$tmp/mp.db" pop-ok) || fail "series_seed failed"
D=86400000 B6=21600000 B1=3600000
start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hp"}
retention: {raw_days: 2}
defaults: {interval: 30s, timeout: 5s, starttls: "no"}
checks:
  - {name: pop-ok, url: "pop3://127.0.0.1:$pop3_port"}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
start_http_daemon "$tmp/mp.yaml" "$hp"

# ---- 30 days in 6-hour buckets, up to H: only seeded probes (the daemon's are later)
expect_code 200 GET "/api/v1/checks/pop-ok/series?from=$((H - 30 * D))&to=$H&bucket=6h"
cp "$tmp/body" "$tmp/30d.json"
jq -e --argjson H "$H" --argjson D $D --argjson B $B6 '
  .check == "pop-ok" and .bucket_ms == $B and .until_ms == $H and
  (.since_ms % $B == 0) and .since_ms <= $H - 30 * $D and .since_ms > $H - 30 * $D - $B and
  (.since | test("^[0-9-]+T[0-9:]+Z$")) and
  (.buckets | length >= 120 and length <= 121) and
  ([.buckets[].ts_ms] | . == sort and all(. % $B == 0)) and
  ([.buckets[].count] | add) == 30 * 24 * 12 and
  ([.buckets[] | .count - .up_count] | add) == 6
' "$tmp/30d.json" >/dev/null || fail "30 d series: $(head -c 1500 "$tmp/30d.json")"
# Each whole bucket holds its 72 probes: the roll-up/raw seam neither drops nor doubles.
jq -e --argjson H "$H" --argjson D $D --argjson B $B6 '
  [.buckets[] | select(.ts_ms >= $H - 30 * $D and .ts_ms + $B <= $H) | .count] |
  length >= 118 and all(. == 72)
' "$tmp/30d.json" >/dev/null || fail "30 d series: a whole bucket without 72 probes: $(jq -c \
	'[.buckets[] | {ts_ms, count}]' "$tmp/30d.json" | head -c 2000)"
# Old buckets come from roll-ups (no reasons kept), recent ones from raw rows.
jq -e --argjson H "$H" --argjson D $D --argjson B $B6 '
  ([.buckets[] | select(.ts_ms + $B <= $H - 2 * $D - 3600000) | .from_rollups] | length > 100 and all) and
  ([.buckets[] | select(.ts_ms >= $H - 2 * $D + 3600000) | .from_rollups] | length >= 7 and all(not))
' "$tmp/30d.json" >/dev/null || fail "30 d series: from_rollups wrong: $(jq -c \
	'[.buckets[] | {ts_ms, from_rollups}]' "$tmp/30d.json" | head -c 2000)"
# The failures, in the buckets of their hours; reasons where raw rows are kept.
inb() { jq -c --argjson t "$1" --argjson B "$2" '.buckets[] | select(.ts_ms <= $t and $t < .ts_ms + $B)' "$3"; }
inb $((H - 5 * D)) $B6 "$tmp/30d.json" | jq -e '.count - .up_count == 3 and .from_rollups and .reasons == {}' \
	>/dev/null || fail "30 d: the bucket of H - 5 d: $(inb $((H - 5 * D)) $B6 "$tmp/30d.json")"
inb $((H - 25 * D)) $B6 "$tmp/30d.json" | jq -e '.count - .up_count == 1 and .from_rollups' \
	>/dev/null || fail "30 d: the bucket of H - 25 d: $(inb $((H - 25 * D)) $B6 "$tmp/30d.json")"
inb $((H - 2 * B1)) $B6 "$tmp/30d.json" |
	jq -e '.count - .up_count == 2 and (.from_rollups | not) and .reasons == {"auth_failed": 2}' \
		>/dev/null || fail "30 d: the bucket of H - 2 h: $(inb $((H - 2 * B1)) $B6 "$tmp/30d.json")"
# Time to greeting was 20..24 ms: bounds hold in raw and rolled-up buckets alike.
jq -e 'all(.buckets[]; .min_ttg_ms >= 20 and .min_ttg_ms <= .avg_ttg_ms and
          .avg_ttg_ms <= .p95_ttg_ms and .p95_ttg_ms <= .max_ttg_ms and .max_ttg_ms <= 24) and
       ([.buckets[] | select(.count == 72 and .up_count == 72) | [.min_ttg_ms, .max_ttg_ms]] |
        length > 100 and all(. == [20, 24])) and
       ([.buckets[].avg_ttg_ms] | all(. >= 21.5 and . <= 22.5))' "$tmp/30d.json" >/dev/null ||
	fail "30 d series: times: $(jq -c '[.buckets[] | [.min_ttg_ms, .avg_ttg_ms, .p95_ttg_ms, .max_ttg_ms]]' \
		"$tmp/30d.json" | head -c 1500)"

# ---- hourly buckets agree with the raw results of the same hour
expect_code 200 GET "/api/v1/checks/pop-ok/series?from=$((H - 3 * B1))&to=$((H - B1))&bucket=1h"
jq -e --argjson H "$H" '[.buckets[] | [.ts_ms, .count, .up_count]] ==
  [[$H - 10800000, 12, 12], [$H - 7200000, 12, 10]]' "$tmp/body" >/dev/null ||
	fail "series of two hours: $(cat "$tmp/body")"
expect_code 200 GET "/api/v1/checks/pop-ok/results?from=$((H - 2 * B1))&to=$((H - B1))"
jq -e '(.results | length == 12) and ([.results[] | select(.status == "down")] | length == 2)' \
	"$tmp/body" >/dev/null || fail "results of H - 2 h: $(head -c 500 "$tmp/body")"

# ---- the default: the last 7 days in hours, the oldest day included
expect_code 200 GET /api/v1/checks/pop-ok/series
cp "$tmp/body" "$tmp/7d.json"
now_ms=$(($(date +%s) * 1000))
jq -e --argjson now "$now_ms" --argjson D $D --argjson B $B1 '
  .bucket_ms == $B and (.until_ms - $now | fabs) < 60000 and
  (.until_ms - .since_ms) >= 7 * $D and (.until_ms - .since_ms) < 7 * $D + $B and
  (.buckets | length >= 7 * 24 - 1) and .buckets[0].ts_ms == .since_ms and
  ([.buckets[] | select(.ts_ms < $now - 6 * $D)] | length >= 23 and all(.count == 12 and .from_rollups))
' "$tmp/7d.json" >/dev/null || fail "7 d series: $(head -c 1500 "$tmp/7d.json")"
inb $((H - 5 * D)) $B1 "$tmp/7d.json" | jq -e '.count == 12 and .up_count == 9' >/dev/null ||
	fail "7 d: the hour H - 5 d: $(inb $((H - 5 * D)) $B1 "$tmp/7d.json")"
# ISO 8601 works as in /results; a day bucket is whole UTC days.
expect_code 200 GET "/api/v1/checks/pop-ok/series?from=$(date -u -d @$(((H - 10 * D) / 1000)) +%Y-%m-%dT%H:%M:%SZ)&bucket=1d"
jq -e --argjson D $D '.bucket_ms == $D and all(.buckets[]; .ts_ms % $D == 0) and
  (.buckets | length >= 10 and length <= 11)' "$tmp/body" >/dev/null ||
	fail "series by day: $(head -c 800 "$tmp/body")"

# ---- errors
expect_error 404 GET '/api/v1/checks/nope/series'
for bad in 'bucket=30m' 'bucket=90m' 'bucket=hour' 'bucket=0h' 'from=yesterday' 'to=2024-13-01' \
	"from=$H&to=$((H - 1))" "from=$H&to=$H" 'from=0&bucket=1h' "from=$((H - 90 * D))&bucket=1h"; do
	expect_error 400 GET "/api/v1/checks/pop-ok/series?$bad"
done
expect_error 400 GET '/api/v1/checks/pop-ok/series?bucket=1h&frm=1'
jq -e '.detail == "unknown parameter \"frm\"; known: from, to, bucket"' "$tmp/body" >/dev/null ||
	fail "unknown parameter: $(cat "$tmp/body")"
expect_code 200 GET "/api/v1/checks/pop-ok/series?from=$((H - 83 * D))&bucket=1h"
expect_code 405 POST '/api/v1/checks/pop-ok/series'
kill -0 "$daemon_pid" || fail "the daemon died"
echo "http series: ok"
