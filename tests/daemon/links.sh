#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The link in a real notification leads to the check's page: dashboard_url
# is the daemon's own listener, a real outage alerts a webhook, a Slack
# channel and a command, all three carry the same link, and fetching it
# gives the dashboard's check page (not the 404 JSON) for the check the
# API knows by the name in the link.
. "$(dirname "$0")/lib.sh"

start_http_sink
port=$(free_port)
hport=$(free_port)
start_toggle "$port"
name=pop3.toggle_1
cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hport", dashboard_url: "http://127.0.0.1:$hport/"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook", retries: 2}
  - {name: chat, type: slack, url: "http://127.0.0.1:$http_port/slack", retries: 2}
  - {name: cmd, type: command, command: [/bin/sh, -c, 'cat > "\$0"', $tmp/cmd.json]}
checks:
  - {name: $name, url: "pop3://127.0.0.1:$port", notify: [hook, chat, cmd]}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" || fail "config rejected"
start_daemon "$tmp/mp.yaml"

wait_for 10 "$name up" state_is "$name" up
stop_toggle
wait_for 15 "$name down after the server stopped" state_is "$name" down
wait_for 10 "a webhook and a Slack message" bash -c "[ \$(grep -c . '$tmp/http.jsonl') -ge 2 ]"
wait_for 10 "the command's event" test -s "$tmp/cmd.json"

hook=$(jq -rs 'map(select(.path == "/hook"))[0].body' "$tmp/http.jsonl")
jq -e '.kind == "down"' <<<"$hook" >/dev/null || fail "no down webhook: $hook"
link=$(jq -r .dashboard_url <<<"$hook")
want="http://127.0.0.1:$hport/check/$name"
[ "$link" = "$want" ] || fail "webhook link $link, want $want"
slack=$(jq -rs 'map(select(.path == "/slack"))[0].body | fromjson | .text' "$tmp/http.jsonl")
grep -qF "Dashboard: $link" <<<"$slack" || fail "the Slack message lacks $link: $slack"
cmd=$(jq -r .dashboard_url "$tmp/cmd.json")
[ "$cmd" = "$link" ] || fail "command link $cmd, want $link"

# The link answers with the check's page, served by the daemon itself.
code=$(curl -s -o "$tmp/page" -w '%{http_code} %{content_type}' "$link") || fail "curl $link"
case "$code" in
"200 text/html"*) ;;
*) fail "GET $link: $code: $(head -c 300 "$tmp/page")" ;;
esac
grep -q 'data-page="check"' "$tmp/page" || fail "GET $link is not the check page: $(head -c 300 "$tmp/page")"
# What the page asks the API for, from the name in its path, is this check.
api="http://127.0.0.1:$hport/api/v1/checks/${link##*/check/}"
curl -sf "$api" | jq -e --arg c "$name" '.name == $c' >/dev/null ||
	fail "GET $api: $(curl -s "$api" | head -c 300)"
echo "ok: webhook, Slack and command link to $link, which is the check page"
