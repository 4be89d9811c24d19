#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The dashboard in headless Chromium, after its JavaScript ran: the
# overview and a check page show the checks' names and states; a greeting
# made of markup shows as text (no element, no script runs); the check
# page's chart draws every phase, failed probes as bands with their reason,
# ticks at even values, and the 7 and 30 days from roll-ups (30 days of
# history seeded by series_seed.c); the locations grid and the nodes page
# without nodes; screenshots go to $SCREENSHOT_DIR.
# Skips (77) when Chromium is not installed.
. "$(dirname "$0")/lib.sh"

chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
	echo "SKIP: chromium is not installed (apt-get install chromium)"
	exit 77
fi
shots=${SCREENSHOT_DIR:-$tmp/screenshots}
mkdir -p "$shots"

start_pop3 "$here/pop3_hostile.scn"
hp=$(free_port)
write_conf "$tmp/mp.yaml" "{listen: \"127.0.0.1:$hp\"}"
# pop-ok's last 30 days, H being the start of this UTC hour: every phase;
# 2 probes failed (auth_failed) at H - 2 h, raw; 3 (refused) at H - 5 d and
# 1 at H - 25 d, in roll-ups only.
H=$("$SERIES_SEED" "$tmp/mp.db" pop-ok) || fail "series_seed failed"
D=86400000
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 15 "pop-ok up" api_state_is pop-ok up
wait_for 15 "pop-dead down" api_state_is pop-dead down
sleep 3 # a few results for the chart

browse() { # browse OUTFILE URL [extra flags]: the DOM after scripts ran
	local out=$1 url=$2
	shift 2
	timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$tmp/chrome.XXXXXX")" --virtual-time-budget=5000 \
		"$@" "$url" >"$out" 2>>"$tmp/chrome.log"
}

browse "$tmp/overview.html" "$base/" --dump-dom
grep -q '<tr data-check="pop-ok">' "$tmp/overview.html" || fail "overview: no pop-ok row: $(head -c 2000 "$tmp/overview.html")"
grep -q '<tr data-check="pop-dead">' "$tmp/overview.html" || fail "overview: no pop-dead row"
grep -q '<a href="/check/pop-ok">pop-ok</a>' "$tmp/overview.html" || fail "overview: no link to pop-ok"
grep -q 'class="badge s-up">up</span>' "$tmp/overview.html" || fail "overview: no up state"
grep -q 'class="badge s-down">down</span>' "$tmp/overview.html" || fail "overview: no down state"
grep -q '2 checks: 1 up, 0 degraded, 1 down' "$tmp/overview.html" || fail "overview: no summary"

browse "$tmp/check.html" "$base/check/pop-ok" --dump-dom
grep -q '<span id="name">pop-ok</span>' "$tmp/check.html" || fail "check page: no name: $(head -c 3000 "$tmp/check.html")"
grep -q '<span id="state" class="badge s-up">up</span>' "$tmp/check.html" || fail "check page: no state"
# The greeting as text: escaped in the DOM, no element made of it.
grep -q '&lt;script&gt;document.title=' "$tmp/check.html" || fail "check page: greeting not shown as text"
grep -q '<img src="x"' "$tmp/check.html" && fail "check page: the greeting made an element"
grep -q '<title>pwned' "$tmp/check.html" && fail "check page: the greeting's script ran"
grep -q '&lt;b&gt;TOP&lt;/b&gt;' "$tmp/check.html" || fail "check page: capabilities not shown as text"
grep -q '<svg[^>]*data-mode="raw"' "$tmp/check.html" || fail "check page: no chart of raw results"
for p in dns connect tls greeting capability starttls login mailbox; do
	grep -q "<rect [^>]*data-phase=\"$p\"" "$tmp/check.html" || fail "check page: phase $p not drawn"
done
# The two failed probes of the last 6 hours, each a band at its time with its reason.
fails=$(grep -o '<g class="fail" data-ts="[0-9]*"><title>[^<]*</title>' "$tmp/check.html")
[ "$(grep -c 'down: auth_failed (-ERR \[AUTH\] invalid credentials)' <<<"$fails")" = 2 ] ||
	fail "check page: not 2 failed probes with their reason: $fails"
while read -r t; do
	[ "$t" -ge $((H - 2 * 3600000)) ] && [ "$t" -lt $((H - 3600000)) ] ||
		fail "check page: a failure band at $t, not in the hour H - 2 h"
done < <(grep -o 'data-ts="[0-9]*"' <<<"$fails" | tr -dc '0-9\n')

# ticks FILE CLASS ATTR: the tick values, one a line.
ticks() { grep -o "class=\"$2\" $3=\"[0-9.]*\"" "$1" | sed 's/.*="//; s/"//'; }
# even_ticks FILE: Y ticks from 0 in equal steps of 1, 2 or 5 x 10^k.
even_ticks() {
	ticks "$1" ytick data-v | awk '
		{ v[NR - 1] = $1 }
		END {
			if (NR < 3 || v[0] != 0) exit 1
			s = v[1]; m = s; while (m >= 10) m /= 10; while (m < 1) m *= 10
			if (m != 1 && m != 2 && m != 5) exit 1
			for (i = 1; i < NR; i++) if ((v[i] - v[i - 1]) / s < 0.9999 || (v[i] - v[i - 1]) / s > 1.0001) exit 1
		}'
}
# time_ticks FILE STEP_MS: X ticks at every whole multiple of STEP_MS.
time_ticks() {
	ticks "$1" xtick data-t | awk -v s="$2" '
		{ if ($1 % s != 0 || (NR > 1 && $1 - p != s)) exit 1; p = $1 }
		END { if (NR < 3) exit 1 }'
}
even_ticks "$tmp/check.html" || fail "check page: uneven Y ticks: $(ticks "$tmp/check.html" ytick data-v | tr '\n' ' ')"
time_ticks "$tmp/check.html" 3600000 || fail "check page: 6 h X ticks not hourly: $(ticks "$tmp/check.html" xtick data-t | tr '\n' ' ')"

# 7 days: hourly buckets from the roll-ups back to the first day, failures as bands.
browse "$tmp/check7.html" "$base/check/pop-ok?range=7d" --dump-dom
grep -q '<svg[^>]*data-mode="series"' "$tmp/check7.html" || fail "7 d: not drawn from the series"
ticks "$tmp/check7.html" bucket data-ts | awk -v old=$(($(date +%s) * 1000 - 7 * D + 2 * 3600000)) '
	$1 < old { o++ } END { if (NR < 7 * 24 - 1 || o < 1) exit 1 }' ||
	fail "7 d: not a bucket for every hour back to the first day: $(ticks "$tmp/check7.html" bucket data-ts | head -3)"
grep -q "<g class=\"fail\" data-ts=\"$((H - 5 * D))\"><title>[^<]*: 3 of 12 probes failed" "$tmp/check7.html" ||
	fail "7 d: no failure band at H - 5 d: $(grep -o '<g class="fail"[^>]*><title>[^<]*' "$tmp/check7.html")"
grep -q "<g class=\"fail\" data-ts=\"$((H - 2 * 3600000))\"><title>[^<]*: 2 of 12 probes failed (auth_failed 2)" \
	"$tmp/check7.html" || fail "7 d: no failure band at H - 2 h"
grep -q '<path [^>]*class="p95"' "$tmp/check7.html" || fail "7 d: no p95 line"
grep -q 'id="chart-note">[^<]*roll-ups[^<]*not the other phases' "$tmp/check7.html" ||
	fail "7 d: the legend does not say the roll-ups have no phases"
even_ticks "$tmp/check7.html" || fail "7 d: uneven Y ticks: $(ticks "$tmp/check7.html" ytick data-v | tr '\n' ' ')"
time_ticks "$tmp/check7.html" $D || fail "7 d: X ticks not daily: $(ticks "$tmp/check7.html" xtick data-t | tr '\n' ' ')"

# 30 days: 6-hour buckets, the failure 25 days ago included.
browse "$tmp/check30.html" "$base/check/pop-ok?range=30d" --dump-dom
[ "$(ticks "$tmp/check30.html" bucket data-ts | wc -l)" -ge 119 ] ||
	fail "30 d: fewer than 119 buckets of 6 h: $(ticks "$tmp/check30.html" bucket data-ts | wc -l)"
b25=$(((H - 25 * D) / 21600000 * 21600000))
grep -q "<g class=\"fail\" data-ts=\"$b25\"><title>[^<]*: 1 of 72 probes failed" "$tmp/check30.html" ||
	fail "30 d: no failure band at H - 25 d: $(grep -o '<g class="fail"[^>]*><title>[^<]*' "$tmp/check30.html")"

browse "$tmp/incidents.html" "$base/incidents" --dump-dom
grep -q '<a href="/check/pop-dead">pop-dead</a>' "$tmp/incidents.html" || fail "incidents page: no pop-dead"

# Without nodes: the grid has this daemon's column alone, each cell its
# check's state there; the nodes page says there are none.
browse "$tmp/locations.html" "$base/locations" --dump-dom
tr '\n' ' ' <"$tmp/locations.html" >"$tmp/locations.flat"
grep -q '<th data-location="e2e" class="loc" title="this daemon.s own location"><span>e2e</span></th></tr>' "$tmp/locations.flat" ||
	fail "locations: not one column, e2e: $(grep -o '<thead>.*</thead>' "$tmp/locations.flat")"
grep -q '<tr data-check="pop-dead">.*<td class="cell" data-location="e2e" data-state="down" title="e2e: down[^"]*Connection refused[^"]*"><span class="badge s-down">down</span><span class="reason">refused</span></td></tr>' \
	"$tmp/locations.flat" || fail "locations: pop-dead's cell is not down (refused): $(grep -o '<tbody>.*</tbody>' "$tmp/locations.flat")"
grep -q '2 checks × 1 locations: 1 down, 1 up' "$tmp/locations.flat" || fail "locations: no summary"
browse "$tmp/nodes.html" "$base/nodes" --dump-dom
grep -q '<td colspan="10" class="muted">no probing nodes are configured' "$tmp/nodes.html" ||
	fail "nodes page: does not say there are none: $(grep -o '<tbody>.*</tbody>' "$tmp/nodes.html")"
grep -q '<span id="summary" class="muted">0 nodes</span>' "$tmp/nodes.html" || fail "nodes page: no summary"

browse /dev/null "$base/" --window-size=1280,900 --screenshot="$shots/overview.png"
browse /dev/null "$base/check/pop-ok" --window-size=1280,900 --screenshot="$shots/check.png"
browse /dev/null "$base/check/pop-ok?range=7d" --window-size=1280,900 --screenshot="$shots/check-7d.png"
browse /dev/null "$base/check/pop-ok?range=30d" --window-size=1280,900 --screenshot="$shots/check-30d.png"
for f in overview check check-7d check-30d; do
	[ -s "$shots/$f.png" ] || fail "no screenshot $f.png in $shots"
done
kill -0 "$daemon_pid" || fail "the daemon died"
echo "http browser: ok; screenshots in $shots"
