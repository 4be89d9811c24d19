#!/usr/bin/env bash
# The dashboard in headless Chromium, after its JavaScript ran: the
# overview and a check page show the checks' names and states; a greeting
# made of markup shows as text (no element, no script runs); screenshots
# go to $SCREENSHOT_DIR. Skips (77) when Chromium is not installed.
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
grep -q '<svg' "$tmp/check.html" || fail "check page: no chart"
grep -q 'fill="#e8833a"' "$tmp/check.html" || fail "check page: no greeting phase in the chart"

browse "$tmp/incidents.html" "$base/incidents" --dump-dom
grep -q '<a href="/check/pop-dead">pop-dead</a>' "$tmp/incidents.html" || fail "incidents page: no pop-dead"

browse /dev/null "$base/" --window-size=1280,900 --screenshot="$shots/overview.png"
browse /dev/null "$base/check/pop-ok" --window-size=1280,900 --screenshot="$shots/check.png"
[ -s "$shots/overview.png" ] && [ -s "$shots/check.png" ] || fail "no screenshots in $shots"
kill -0 "$daemon_pid" || fail "the daemon died"
echo "http browser: ok; screenshots in $shots"
