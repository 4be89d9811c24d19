#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The reader side of probing nodes (issue 12), on plain HTTP over loopback:
# a controller with three nodes configured, two of them simulated with curl
# (heartbeats, and batches forged from `mailpulse check --json`), the
# third never heard from. Then: the /nodes and /locations pages and their
# assets are served under the same rules as the other pages;
# /api/v1/nodes shows what the heartbeats and batches said; the check
# object has a cell per location, each saying whether and why it counts;
# /metrics has the per-location, verdict and per-node series with the
# right values, label values escaped. With Chromium, the grid, the nodes
# page and the check chart's per-location lines after the JavaScript ran.
. "$(dirname "$0")/lib.sh"

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
for n in eu us ap; do
	printf '%s-node-token-%s\n' "$n" "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$tmp/$n.token"
	chmod 600 "$tmp/$n.token"
done
# us's region carries a quote and a backslash: a label value to escape.
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hp"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 1, recover_after: 1, starttls: "no"}
nodes:
  - {name: eu, token_file: $tmp/eu.token, region: europe}
  - {name: us, token_file: $tmp/us.token, region: 'america "north" \\ east'}
  - {name: ap, token_file: $tmp/ap.token}
checks:
  - {name: pop-ok, url: "pop3://127.0.0.1:$pop3_port", locations: [e2e, eu, us, ap]}
  - {name: pop-local, url: "pop3://127.0.0.1:$pop3_port"}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >"$tmp/config.out" 2>&1 || fail "config rejected: $(cat "$tmp/config.out")"
# Real time (a node is lost after 30 s without a heartbeat, a location's
# last result stays recent for 90 s), so a slow run (sanitizers) still
# sees the results sent at its start as recent at its end; the simulated
# nodes beat every second, this daemon's location is probed on demand.
SCALE=1 start_http_daemon "$tmp/mp.yaml" "$hp"

# node_post NODE OP FILE [TAG]: POST FILE to the node endpoint with NODE's
# token; the status code into $tmp/TAG.code, the reply into $tmp/TAG.reply.
node_post() {
	local tag=${4:-post}
	curl -s -o "$tmp/$tag.reply" -w '%{http_code}' --max-time 5 \
		-H "Authorization: Bearer $(cat "$tmp/$1.token")" -H 'Content-Type: application/json' \
		--data-binary "@$3" "$base/api/v1/nodes/$1/$2" >"$tmp/$tag.code"
}

# heartbeat NODE SKEW_MS CANARIES: a heartbeat document, the node's clock SKEW_MS ahead.
heartbeat() {
	jq -nc --arg n "$1" --argjson now "$(date +%s%3N)" --argjson skew "$2" --argjson c "$3" \
		'{v: 1, node: $n, version: "0.9.9-test", started_ms: ($now - 60000), sent_ms: ($now + $skew),
		  etag: null, checks: 1, in_flight: 0, spool_depth: 7, spool_max: 1000, spool_dropped: 2,
		  spool_oldest_ms: ($now - 5000), canaries: $c}'
}
ok_canary='[{"target": "controller", "status": "up", "reason": "ok", "message": "the controller answers", "probe_ms": 0, "failing": 0}]'
# us: its own canary fails (impaired), and its clock is 8 s ahead (over the
# 5 s bound). It names that canary twice: one series in /metrics, not two.
bad_canary='[{"target": "controller", "status": "up", "reason": "ok", "message": "", "probe_ms": 0, "failing": 0},
  {"target": "imaps://canary.example:993", "status": "down", "reason": "timeout", "message": "no answer in 2 s", "probe_ms": 0, "failing": 3},
  {"target": "imaps://canary.example:993", "status": "up", "reason": "ok", "message": "", "probe_ms": 0, "failing": 0}]'

# The simulated nodes beat every second until the test ends.
beats() {
	while :; do
		heartbeat eu 0 "$ok_canary" >"$tmp/beat-eu.json"
		node_post eu heartbeat "$tmp/beat-eu.json" beat-eu
		heartbeat us 8000 "$bad_canary" >"$tmp/beat-us.json"
		node_post us heartbeat "$tmp/beat-us.json" beat-us
		sleep 1
	done
}
beats &
pids+=("$!")
wait_for 10 "a heartbeat of eu taken" grep -qx 200 "$tmp/beat-eu.code"
wait_for 10 "a heartbeat of us taken" grep -qx 200 "$tmp/beat-us.code"
jq -e '.skew_flagged == true and (.skew_ms > 7000)' "$tmp/beat-us.reply" >/dev/null ||
	fail "us's skew not flagged in the heartbeat reply: $(cat "$tmp/beat-us.reply")"

# ---- batches, forged from real results of `mailpulse check --json`
"$MAILPULSE" check --json --timeout 3 "pop3://127.0.0.1:$pop3_port" >"$tmp/up.json"
"$MAILPULSE" check --json --timeout 3 "pop3://127.0.0.1:1" >"$tmp/down.json"
jq -e '.status == "up"' "$tmp/up.json" >/dev/null || fail "no up result to forge from: $(cat "$tmp/up.json")"
curl -sf -H "Authorization: Bearer $(cat "$tmp/eu.token")" "$base/api/v1/nodes/eu/assignments" >"$tmp/assign.json" ||
	fail "eu's assignments"
digest=$(jq -r '.checks[] | select(.name == "pop-ok") | .digest' "$tmp/assign.json")
[ -n "$digest" ] || fail "pop-ok not assigned to eu: $(cat "$tmp/assign.json")"

# result FILE LOC SEQ AGE_MS TTG_MS: one result of pop-ok from LOC, probed AGE_MS ago.
result() {
	jq -c --arg loc "$2" --argjson seq "$3" --argjson ts "$(($(date +%s%3N) - $4))" --arg d "$digest" --argjson ttg "$5" \
		'.check = "pop-ok" | .location = $loc | .seq = $seq | .check_digest = $d | .ts_ms = $ts |
		 .time = (($ts / 1000 | floor) | todate) |
		 (if .status == "up" then .time_to_greeting_ms = $ttg | .timings_ms.greeting = $ttg else . end)' "$1"
}
# batch NODE ID SKEW_MS RESULT...: a batch document of the result files.
batch() {
	local n=$1 id=$2 skew=$3
	shift 3
	jq -sc --arg n "$n" --arg id "$id" --argjson now "$(($(date +%s%3N) + skew))" \
		'{v: 1, node: $n, batch: $id, sent_ms: $now, floor: 0, results: .}' "$@"
}
result "$tmp/up.json" eu 1 4000 11.5 >"$tmp/eu1.json"
result "$tmp/up.json" eu 2 2000 12.5 >"$tmp/eu2.json"
batch eu eu-1 0 "$tmp/eu1.json" "$tmp/eu2.json" >"$tmp/b1.json"
node_post eu results "$tmp/b1.json"
[ "$(cat "$tmp/post.code")" = 200 ] || fail "eu's batch: HTTP $(cat "$tmp/post.code"): $(cat "$tmp/post.reply")"
jq -e '.accepted == 2 and .refused == 0' "$tmp/post.reply" >/dev/null || fail "eu's batch reply: $(cat "$tmp/post.reply")"
# The same results again under another batch id: duplicates, not counted twice.
batch eu eu-2 0 "$tmp/eu1.json" "$tmp/eu2.json" >"$tmp/b2.json"
node_post eu results "$tmp/b2.json"
jq -e '.duplicates == 2 and .accepted == 0' "$tmp/post.reply" >/dev/null || fail "the replayed results: $(cat "$tmp/post.reply")"
result "$tmp/up.json" us 1 1000 30 >"$tmp/us1.json"
batch us us-1 8000 "$tmp/us1.json" >"$tmp/b3.json"
node_post us results "$tmp/b3.json"
jq -e '.accepted == 1' "$tmp/post.reply" >/dev/null || fail "us's batch: $(cat "$tmp/post.reply")"
# This daemon's own location: probe now rather than wait for the schedule.
expect_code 202 POST /api/v1/checks/pop-ok/run
expect_code 202 POST /api/v1/checks/pop-local/run
loc_is() { curl -sf "$base/api/v1/checks/$1" | jq -e --arg l "$2" --arg s "$3" '.locations[] | select(.location == $l) | .state == $s'; }
wait_for 15 "pop-ok up at e2e" loc_is pop-ok e2e up
wait_for 15 "pop-local up at e2e" loc_is pop-local e2e up
wait_for 5 "pop-ok up at eu" loc_is pop-ok eu up

# ---- pages and assets, under the rules of the other pages
for p in /nodes /locations; do
	expect_code 200 GET "$p"
	grep -q "data-page=\"${p#/}\"" "$tmp/body" || fail "$p is not its page: $(head -c 300 "$tmp/body")"
	grep -q '<script src="/static/app.js" defer></script>' "$tmp/body" || fail "$p does not load app.js"
	# No inline script or style: the CSP would refuse them.
	grep -Eiq '<script>|<script [^>]*>[^<]|<style|[[:space:]]style=|javascript:|[[:space:]]on[a-z]+=' "$tmp/body" &&
		fail "$p has inline script or style"
	grep -Eiq '(src|href)="(https?:)?//' "$tmp/body" && fail "$p loads something from elsewhere"
	hdrs=$(curl -s -D - -o /dev/null "$base$p")
	grep -qi "^content-security-policy:.*default-src 'none'.*script-src 'self'; style-src 'self'" <<<"$hdrs" ||
		fail "no CSP on $p: $hdrs"
	grep -qi '^x-content-type-options: nosniff' <<<"$hdrs" || fail "no nosniff on $p"
	ct=$(curl -s -o /dev/null -w '%{content_type}' "$base$p")
	[[ $ct == text/html* ]] || fail "$p served as $ct"
done
for p in / /incidents /certificates /check/pop-ok /nodes /locations; do
	expect_code 200 GET "$p"
	grep -q '<a href="/nodes">Nodes</a>' "$tmp/body" || fail "$p: no link to /nodes in the nav"
	grep -q '<a href="/locations">Locations</a>' "$tmp/body" || fail "$p: no link to /locations in the nav"
done
expect_code 200 GET /static/app.js
grep -q 'function renderGrid' "$tmp/body" || fail "app.js has no grid"
expect_error 404 GET /static/nodes.html
expect_error 404 GET /nodes/eu
expect_error 405 POST /nodes

# ---- /api/v1/nodes: what the heartbeats and batches said
expect_code 200 GET /api/v1/nodes
jq -e '
  (.nodes | map(.name) == ["eu", "us", "ap"]) and .clock_skew_max_ms == 5000 and
  (.nodes[0] | .state == "ok" and .region == "europe" and .version == "0.9.9-test" and
    (.last_heartbeat_ms | type == "number") and (.clock_skew_ms | fabs < 3000) and
    .clock_skew_flagged == false and .checks_assigned == 1 and .checks_running == 1 and
    .spool.depth == 7 and .spool.max == 1000 and .spool.dropped == 2 and (.spool.oldest | type == "string") and
    .canaries[0].target == "controller" and .canaries[0].status == "up" and
    .results.accepted == 2 and .results.duplicate == 2 and .results.refused == 0 and .results.batches == 2) and
  (.nodes[1] | .state == "impaired" and (.why | test("canary imaps://canary.example:993: timeout")) and
    .clock_skew_flagged == true and .clock_skew_ms > 5000 and .results.accepted == 1) and
  (.nodes[2] | .state == "pending" and .last_heartbeat == null and .version == null and .spool.depth == null)
' "$tmp/body" >/dev/null || fail "/api/v1/nodes: $(cat "$tmp/body")"

# ---- the check object: a cell per location, each saying whether and why it counts
expect_code 200 GET /api/v1/checks/pop-ok
jq -e '
  .quorum == 2 and .verdict == "up" and (.locations | map(.location) == ["e2e", "eu", "us", "ap"]) and
  (.locations[0] | .kind == "local" and .state == "up" and .counts == true and .not_counted == null) and
  (.locations[1] | .kind == "node" and .state == "up" and .counts == true and .healthy == true and
    .not_counted == null and .time_to_greeting_ms == 12.5 and .last_reason == "ok" and
    (.last_time_ms | type == "number") and (.message | type == "string")) and
  (.locations[2] | .kind == "node" and .state == "up" and .counts == false and .healthy == false and
    .not_counted == "node impaired" and .time_to_greeting_ms == 30) and
  (.locations[3] | .kind == "node" and .state == "pending" and .counts == false and
    .not_counted == "node not heard from" and .last_time == null)
' "$tmp/body" >/dev/null || fail "pop-ok's locations: $(cat "$tmp/body")"
expect_code 200 GET /api/v1/checks
jq -e '.checks[1] | .name == "pop-local" and .quorum == 1 and (.locations | length == 1) and .locations[0].kind == "local"' \
	"$tmp/body" >/dev/null || fail "pop-local's locations: $(cat "$tmp/body")"

# ---- /metrics
metric() { grep -qxF "$1" "$tmp/metrics.txt" || fail "no line: $1"; }
metric_re() { grep -qx "$1" "$tmp/metrics.txt" || fail "no line matching: $1"; }
curl -sf "$base/metrics" >"$tmp/metrics.txt" || fail "GET /metrics"
metric 'mailpulse_node_up{node="eu"} 1'
metric 'mailpulse_node_up{node="us"} 0'
metric 'mailpulse_node_up{node="ap"} 0'
metric 'mailpulse_node_state{node="eu",state="ok"} 1'
metric 'mailpulse_node_state{node="us",state="impaired"} 1'
metric 'mailpulse_node_state{node="us",state="ok"} 0'
metric 'mailpulse_node_state{node="ap",state="pending"} 1'
metric 'mailpulse_node_info{node="eu",region="europe",version="0.9.9-test"} 1'
metric 'mailpulse_node_info{node="us",region="america \"north\" \\ east",version="0.9.9-test"} 1'
metric 'mailpulse_node_info{node="ap",region="",version=""} 1'
metric 'mailpulse_node_spool_depth{node="eu"} 7'
metric 'mailpulse_node_spool_max{node="eu"} 1000'
metric 'mailpulse_node_spool_dropped_total{node="eu"} 2'
metric_re 'mailpulse_node_spool_oldest_timestamp_seconds{node="eu"} 1[0-9.e+]*'
metric 'mailpulse_node_results_total{node="eu",outcome="accepted"} 2'
metric 'mailpulse_node_results_total{node="eu",outcome="duplicate"} 2'
metric 'mailpulse_node_results_total{node="eu",outcome="late"} 0'
metric 'mailpulse_node_results_total{node="eu",outcome="refused"} 0'
metric 'mailpulse_node_results_total{node="us",outcome="accepted"} 1'
metric 'mailpulse_node_batches_total{node="eu"} 2'
metric 'mailpulse_node_checks_assigned{node="eu"} 1'
metric 'mailpulse_node_checks_running{node="eu"} 1'
metric 'mailpulse_node_clock_skew_flagged{node="us"} 1'
metric 'mailpulse_node_clock_skew_flagged{node="eu"} 0'
metric 'mailpulse_node_canary_up{node="eu",target="controller"} 1'
metric 'mailpulse_node_canary_up{node="us",target="imaps://canary.example:993"} 0'
[ "$(grep -c '^mailpulse_node_canary_up{node="us",target="imaps://canary.example:993"}' "$tmp/metrics.txt")" = 1 ] ||
	fail "a canary named twice is two series"
# Absent before a node's first heartbeat, not 0.
grep -q '^mailpulse_node_\(last_heartbeat_seconds\|spool_depth\|clock_skew_seconds\){node="ap"}' "$tmp/metrics.txt" &&
	fail "ap, never heard from, has heartbeat figures"
now=$(date +%s)
awk -v now="$now" '$1 == "mailpulse_node_last_heartbeat_seconds{node=\"eu\"}" { f = 1; if ($2 < now - 10 || $2 > now + 2) exit 1 }
	END { if (!f) exit 1 }' "$tmp/metrics.txt" || fail "eu's last heartbeat is not about now ($now): $(grep heartbeat_seconds "$tmp/metrics.txt")"
awk '$1 == "mailpulse_node_clock_skew_seconds{node=\"us\"}" { f = 1; if ($2 < 5 || $2 > 11) exit 1 } END { if (!f) exit 1 }' \
	"$tmp/metrics.txt" || fail "us's skew is not about 8 s: $(grep clock_skew_seconds "$tmp/metrics.txt")"
# Per location, labelled with the location's name.
metric 'mailpulse_check_location_up{check="pop-ok",location="e2e"} 1'
metric 'mailpulse_check_location_up{check="pop-ok",location="eu"} 1'
metric 'mailpulse_check_location_up{check="pop-ok",location="us"} 1'
metric 'mailpulse_check_location_counted{check="pop-ok",location="eu"} 1'
metric 'mailpulse_check_location_counted{check="pop-ok",location="us"} 0'
metric 'mailpulse_check_location_counted{check="pop-ok",location="ap"} 0'
metric 'mailpulse_check_location_time_to_greeting_seconds{check="pop-ok",location="eu"} 0.0125'
metric 'mailpulse_check_location_time_to_greeting_seconds{check="pop-ok",location="us"} 0.03'
metric_re 'mailpulse_check_location_last_result_timestamp_seconds{check="pop-ok",location="eu"} 1[0-9.e+]*'
metric 'mailpulse_check_location_up{check="pop-local",location="e2e"} 1'
grep -q '^mailpulse_check_location_up{check="pop-ok",location="ap"}' "$tmp/metrics.txt" &&
	fail "ap is pending, yet has a location_up sample"
metric 'mailpulse_check_verdict{check="pop-ok",verdict="up"} 1'
metric 'mailpulse_check_verdict{check="pop-ok",verdict="partial"} 0'
metric 'mailpulse_check_quorum{check="pop-ok"} 2'
metric 'mailpulse_check_quorum{check="pop-local"} 1'
metric 'mailpulse_check_locations_counted{check="pop-ok"} 2'
# The existing per-check series keep their names and labels.
metric 'mailpulse_probe_success{check="pop-ok",location="e2e"} 1'
metric 'mailpulse_check_state{check="pop-ok",location="e2e",state="up"} 1'
for f in mailpulse_node_up mailpulse_node_results_total mailpulse_check_verdict mailpulse_check_location_up; do
	[ "$(grep -c "^# TYPE $f " "$tmp/metrics.txt")" = 1 ] || fail "$f not announced exactly once"
done
promtool=$(command -v promtool || true)
if [ -n "$promtool" ]; then
	"$promtool" check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1 ||
		fail "promtool check metrics: $(cat "$tmp/promtool.out")"
	echo "promtool check metrics: clean"
fi

# ---- eu sees it down: one location of the quorum of 2, so partial
result "$tmp/down.json" eu 3 0 0 >"$tmp/eu3.json"
batch eu eu-3 0 "$tmp/eu3.json" >"$tmp/b4.json"
node_post eu results "$tmp/b4.json"
jq -e '.accepted == 1' "$tmp/post.reply" >/dev/null || fail "eu's down result: $(cat "$tmp/post.reply")"
verdict_is() { curl -sf "$base/api/v1/checks/pop-ok" | jq -e --arg v "$1" '.verdict == $v'; }
wait_for 5 "pop-ok partial" verdict_is partial
expect_code 200 GET /api/v1/checks/pop-ok
jq -e '.state == "up" and (.locations[1] | .state == "down" and .reason == "refused" and .counts == true and .time_to_greeting_ms == null)' \
	"$tmp/body" >/dev/null || fail "pop-ok after eu's down result: $(cat "$tmp/body")"
curl -sf "$base/metrics" >"$tmp/metrics.txt" || fail "GET /metrics"
metric 'mailpulse_check_verdict{check="pop-ok",verdict="partial"} 1'
metric 'mailpulse_check_verdict{check="pop-ok",verdict="up"} 0'
metric 'mailpulse_check_location_up{check="pop-ok",location="eu"} 0'
metric 'mailpulse_check_state{check="pop-ok",location="e2e",state="up"} 1'
grep -q '^mailpulse_check_location_time_to_greeting_seconds{check="pop-ok",location="eu"}' "$tmp/metrics.txt" &&
	fail "eu's last result had no greeting, yet a time to greeting is exported"
metric 'mailpulse_node_results_total{node="eu",outcome="accepted"} 3'
echo "ok: /api/v1/nodes, the check's locations and /metrics"

# ---- the pages after their JavaScript ran (headless Chromium)
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
	echo "chromium is not installed: the pages' JavaScript is not run"
	if command -v node >/dev/null; then
		curl -sf "$base/static/app.js" >"$tmp/app.js" || fail "GET app.js"
		node --check "$tmp/app.js" || fail "app.js does not parse"
		echo "app.js parses (node --check)"
	fi
	kill -0 "$daemon_pid" || fail "the daemon died"
	echo "http nodes: ok"
	exit 0
fi
shots=${SCREENSHOT_DIR:-$tmp/screenshots}
mkdir -p "$shots"
browse() { # browse OUTFILE URL [extra flags]: the DOM after scripts ran; console in chrome.log
	local out=$1 url=$2
	shift 2
	timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--enable-logging=stderr --v=0 \
		--user-data-dir="$(mktemp -d "$tmp/chrome.XXXXXX")" --virtual-time-budget=5000 \
		"$@" "$url" >"$out" 2>>"$tmp/chrome.log"
}
no_js_errors() {
	if grep -E 'Uncaught|SyntaxError|ReferenceError|TypeError|Content Security Policy' "$tmp/chrome.log"; then
		fail "$1: the page's script failed (above)"
	fi
}

# The checks list is kept whole for 2 s: wait until it has the partial verdict too.
wait_for 5 "the checks list has pop-ok partial" bash -c \
	"curl -sf '$base/api/v1/checks' | jq -e '.checks[0].verdict == \"partial\"'"
browse "$tmp/grid.dom" "$base/locations" --dump-dom
no_js_errors /locations
# Tooltips hold line breaks: one line for grep.
g=$tmp/grid.html
tr '\n' ' ' <"$tmp/grid.dom" >"$g"
for l in e2e eu us ap; do
	grep -q "<th data-location=\"$l\" class=\"loc\"" "$g" || fail "grid: no column for $l: $(head -c 3000 "$g")"
done
grep -q '<th data-location="us" class="loc" title="node us (america &quot;north&quot; \\ east): impaired: canary' "$g" ||
	fail "grid: us's column does not say it is impaired: $(grep -o '<th data-location="us"[^>]*>' "$g")"
grep -q '<tr data-check="pop-ok">' "$g" || fail "grid: no pop-ok row"
grep -q '<tr data-check="pop-local">' "$g" || fail "grid: no pop-local row"
row=$(grep -o '<tr data-check="pop-ok">.*</tr>' "$g" | sed 's#</tr>.*##')
grep -q '<span class="badge s-partial"[^>]*>partial</span>' <<<"$row" || fail "grid: pop-ok not partial: $row"
grep -q '<td class="cell" data-location="eu" data-state="down" title="eu: down[^"]*connect to 127.0.0.1:1 failed[^"]*last result 20[^"]*"><span class="badge s-down">down</span><span class="reason">refused</span>' <<<"$row" ||
	fail "grid: eu's cell is not down (refused) with the message in its title: $row"
grep -q '<td class="cell" data-location="e2e" data-state="up"[^>]*><span class="badge s-up">up</span><span class="ttg">[0-9.]* ms</span>' <<<"$row" ||
	fail "grid: e2e's cell is not up with a time to greeting: $row"
grep -q '<td class="cell nocount" data-location="us" data-state="up" title="[^"]*not counted in the verdict: node impaired" data-counts="false"><span class="badge s-up">up</span><span class="ttg">30 ms</span><span class="why">not counted: node impaired</span>' <<<"$row" ||
	fail "grid: us's cell is not shown as not counting: $row"
grep -q '<td class="cell nocount" data-location="ap" data-state="pending"[^>]*>.*not counted: node not heard from' <<<"$row" ||
	fail "grid: ap's cell is not shown as not heard from: $row"
lrow=$(grep -o '<tr data-check="pop-local">.*</tr>' "$g" | sed 's#</tr>.*##')
grep -q '<td class="cell na" data-location="eu" title="pop-local is not probed from eu">—</td>' <<<"$lrow" ||
	fail "grid: pop-local has a cell for eu: $lrow"
grep -q '2 checks × 4 locations: 1 partial, 1 up' "$g" || fail "grid: no summary: $(grep -o '<span id="summary"[^<]*' "$g")"

browse "$tmp/nodes.html" "$base/nodes" --dump-dom
no_js_errors /nodes
n=$tmp/nodes.html
nrow() { grep -o "<tr data-node=\"$1\">.*</tr>" "$n" | sed 's#</tr>.*##'; }
[ "$(grep -o '<tr data-node="[a-z]*">' "$n" | tr -d '\n')" = '<tr data-node="eu"><tr data-node="us"><tr data-node="ap">' ] ||
	fail "nodes page: not eu, us, ap in order: $(head -c 3000 "$n")"
eu=$(nrow eu)
grep -q '<span class="badge s-ok">ok</span>' <<<"$eu" || fail "nodes page: eu not ok: $eu"
grep -q '<td class="version"[^>]*>0.9.9-test</td>' <<<"$eu" || fail "nodes page: eu's version: $eu"
grep -q '<span class="depth">7 / 1000</span><span class="why crit">2 dropped</span><span class="why" title="[^"]*">oldest [0-9]* s ago</span>' <<<"$eu" ||
	fail "nodes page: eu's spool: $eu"
grep -q '<span class="badge s-up" title="up (ok): the controller answers[^"]*">controller</span>' <<<"$eu" || fail "nodes page: eu's canary: $eu"
grep -q '<td class="num checks" title="running / assigned">1 / 1</td>' <<<"$eu" || fail "nodes page: eu's checks: $eu"
grep -q '<span class="accepted">3 accepted</span><span class="why">2 duplicate</span>' <<<"$eu" || fail "nodes page: eu's results: $eu"
grep -q '<td class="heartbeat" title="20[^"]*">[0-9]* s ago</td>' <<<"$eu" || fail "nodes page: eu's heartbeat: $eu"
us=$(nrow us)
grep -q '<span class="badge s-impaired">impaired</span><span class="why">canary imaps://canary.example:993: timeout: no answer in 2 s</span>' <<<"$us" ||
	fail "nodes page: us not impaired with why: $us"
grep -q '<td class="num skew crit" data-flagged="true" title="over the bound of +5000 ms[^"]*">+[0-9]* ms<span class="why">over +5000 ms</span>' <<<"$us" ||
	fail "nodes page: us's skew not flagged: $us"
grep -q '<span class="badge s-down" title="down (timeout): no answer in 2 s[^"]*; 3 failed in a row">imaps://canary.example:993</span>' <<<"$us" ||
	fail "nodes page: us's failing canary: $us"
ap=$(nrow ap)
grep -q '<span class="badge s-pending">pending</span>' <<<"$ap" || fail "nodes page: ap not pending: $ap"
grep -q '<td class="heartbeat" title="—">—</td>' <<<"$ap" || fail "nodes page: ap has a heartbeat: $ap"
grep -q '3 nodes: 1 ok, 1 impaired, 1 pending' "$n" || fail "nodes page: no summary"

# The check chart: one line per location (e2e, eu and us have results), and the location select.
browse "$tmp/check.html" "$base/check/pop-ok" --dump-dom
no_js_errors /check/pop-ok
c=$tmp/check.html
grep -q '<select id="loc" aria-label="Location"><option value="">all locations</option><option value="e2e">e2e</option><option value="eu">eu</option><option value="us">us</option><option value="ap">ap</option></select>' "$c" ||
	fail "check page: no location select: $(grep -o '<select id="loc".*</select>' "$c")"
grep -q '<path d="M[0-9.]* [0-9.]* L[0-9.]* [0-9.]*" fill="none" stroke="#[0-9a-f]*" stroke-width="1.5" class="locline" data-location="eu"><title>eu: time to greeting</title></path>' "$c" ||
	fail "check page: no line of eu's two good probes: $(grep -o '<path [^>]*class="locline"[^>]*>' "$c")"
grep -q 'class="locline" data-location="e2e"' "$c" || fail "check page: no line for e2e"
grep -q '<g class="fail" data-ts="[0-9]*"><title>[^<]* from eu down: refused' "$c" || fail "check page: eu's failure not a band naming eu"
grep -q '<span><i[^>]*></i>eu (time to greeting)</span>' "$c" || fail "check page: no legend entry for eu"
grep -q '<span id="state" class="badge s-up">up</span> <span id="verdict" class="badge s-partial" title="[^"]*">partial</span>' "$c" ||
	fail "check page: the partial verdict is not beside the state"
grep -q '<section id="locsec">' "$c" || fail "check page: the locations are hidden"
tr '\n' ' ' <"$c" | grep -q '<table id="locs" class="grid locgrid one"><thead><tr><th class="loc" data-location="e2e">e2e</th>.*<td class="cell" data-location="eu" data-state="down"[^>]*><span class="badge s-down">down</span><span class="reason">refused</span>' ||
	fail "check page: no row of locations with eu down: $(grep -o '<table id="locs".*' "$c" | head -c 1500)"
# One location: its probes alone.
browse "$tmp/check-eu.html" "$base/check/pop-ok?loc=eu" --dump-dom
no_js_errors "/check/pop-ok?loc=eu"
[ "$(grep -o 'class="locline" data-location="[a-z0-9]*"' "$tmp/check-eu.html" | sort -u)" = 'class="locline" data-location="eu"' ] ||
	fail "check page ?loc=eu: lines of other locations: $(grep -o 'class="locline" data-location="[a-z0-9]*"' "$tmp/check-eu.html")"
grep -q 'the bars that location' "$tmp/check-eu.html" || fail "check page ?loc=eu: the legend does not say the bars are eu's"
# Seven days: the per-location lines over the store's buckets, from raw results.
browse "$tmp/check7.html" "$base/check/pop-ok?range=7d" --dump-dom
no_js_errors "/check/pop-ok?range=7d"
grep -q '<svg[^>]*data-mode="series"' "$tmp/check7.html" || fail "7 d: not drawn from the series"
grep -q 'class="locline" data-location="eu"' "$tmp/check7.html" || fail "7 d: no line for eu"
grep -q 'each line is one location' "$tmp/check7.html" || fail "7 d: the legend does not explain the lines"
# The overview says the verdict beside the state.
browse "$tmp/overview.html" "$base/" --dump-dom
no_js_errors /
grep -q '<tr data-check="pop-ok"><td class="name">.*<span class="badge s-up">up</span> <span class="badge s-partial"[^>]*>partial</span>' "$tmp/overview.html" ||
	fail "overview: pop-ok's partial verdict not shown beside its state"

browse /dev/null "$base/locations" --window-size=1280,700 --screenshot="$shots/locations.png"
browse /dev/null "$base/nodes" --window-size=1400,600 --screenshot="$shots/nodes.png"
browse /dev/null "$base/check/pop-ok" --window-size=1280,900 --screenshot="$shots/check-locations.png"
for f in locations nodes check-locations; do
	[ -s "$shots/$f.png" ] || fail "no screenshot $f.png in $shots"
done
kill -0 "$daemon_pid" || fail "the daemon died"
echo "http nodes: ok; screenshots in $shots"
