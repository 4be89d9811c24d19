#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Access control: with http.token_file the API, /metrics and POST run need
# "Authorization: Bearer TOKEN" (401 otherwise, WWW-Authenticate: Bearer);
# /healthz, the dashboard's data-free pages and the public /status page
# stay open, and /status shows only the selected checks, only name, state
# and uptime.
. "$(dirname "$0")/lib.sh"

# The http section as config check reads it (tests/conf/good/http.yaml).
"$MAILPULSE" config check -v "$here/../conf/good/http.yaml" >"$tmp/dump" || fail "good/http.yaml rejected"
grep -qx '  token: (set)' "$tmp/dump" || fail "token not in the dump: $(cat "$tmp/dump")"
grep -q 'mp-dashboard-Token' "$tmp/dump" && fail "the token is printed"
grep -qx '    checks: \[imap-main, tier=public\]' "$tmp/dump" || fail "public checks not in the dump"

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
tok=mp-test-Token-0123456789abcdef
printf '%s\n' "$tok" >"$tmp/http.token"
chmod 600 "$tmp/http.token"
write_conf "$tmp/mp.yaml" "{listen: \"127.0.0.1:$hp\", token_file: $tmp/http.token,
  public_status: {enabled: true, title: \"Mail <b>&</b> status\", checks: [tier=gold]}}"
start_http_daemon "$tmp/mp.yaml" "$hp"
auth=(-H "Authorization: Bearer $tok")
wait_for 15 "pop-ok up" bash -c "curl -sf -H 'Authorization: Bearer $tok' '$base/api/v1/checks/pop-ok' | jq -e '.state == \"up\"'"

for p in /api/v1/checks /api/v1/checks/pop-ok /api/v1/checks/pop-ok/results \
	/api/v1/checks/pop-ok/uptime /api/v1/incidents /api/v1/health /metrics; do
	expect_error 401 GET "$p"
	expect_error 401 GET "$p" -H "Authorization: Bearer wrong-$tok"
	expect_error 401 GET "$p" -H "Authorization: Bearer ${tok%?}"
	expect_error 401 GET "$p" -H "Authorization: Basic $tok"
	expect_code 200 GET "$p" "${auth[@]}"
done
www=$(curl -s -D - -o /dev/null "$base/api/v1/checks" | tr -d '\r' | grep -i '^www-authenticate:')
[[ $www == *Bearer* ]] || fail "401 without WWW-Authenticate: Bearer ($www)"
# Unknown checks are 401 too without the token: names do not leak.
expect_error 401 GET /api/v1/checks/nope
expect_error 404 GET /api/v1/checks/nope "${auth[@]}"

expect_error 401 POST /api/v1/checks/pop-ok/run
expect_code 202 POST /api/v1/checks/pop-ok/run "${auth[@]}"
expect_error 403 POST /api/v1/checks/pop-ok/run "${auth[@]}" -H 'Origin: https://evil.example'

# Open without the token.
[ "$(curl -s "$base/healthz")" = ok ] || fail "/healthz needs a token"
for p in / /check/pop-ok /incidents /certificates /static/app.js; do
	expect_code 200 GET "$p"
done

# The public page: pop-ok (tier=gold) only; escaped title; nothing else.
expect_code 200 GET /status
grep -q 'Mail &lt;b&gt;&amp;&lt;/b&gt; status' "$tmp/body" || fail "title not escaped: $(cat "$tmp/body")"
grep -q '>pop-ok<' "$tmp/body" || fail "pop-ok not on /status"
grep -q 'pop-dead' "$tmp/body" && fail "pop-dead is on /status"
grep -q "$pop3_port\|fakesrv\|refused\|127.0.0.1" "$tmp/body" && fail "/status shows more than name, state, uptime"
grep -q 'badge s-up">operational<' "$tmp/body" || fail "no state on /status"
grep -q '<script' "$tmp/body" && fail "/status has a script"
kill -0 "$daemon_pid" || fail "the daemon died"
echo "http auth: ok"
