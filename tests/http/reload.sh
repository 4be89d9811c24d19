#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A reload applies the whole file or none of it. SIGHUP with a token added,
# a check added and the listener moved to a port another process holds:
# refused, said so with the reason, and the running configuration goes on
# as it was (old address, no token, old checks), not "reloaded" with the
# token silently missing. A later valid reload then applies it all.
. "$(dirname "$0")/lib.sh"

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
busy=$(free_port)
"$FAKESRV" --port "$busy" --max-conns 100000 --lifetime 120 /dev/null 2>>"$tmp/busy.log" &
pids+=("$!")
wait_for 5 "another process holding $busy" bash -c "exec 3<>/dev/tcp/127.0.0.1/$busy"

write_conf "$tmp/mp.yaml" "{listen: \"127.0.0.1:$hp\"}"
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 15 "pop-ok up" api_state_is pop-ok up
expect_code 200 GET /api/v1/checks
[ "$(jq '.checks | length' "$tmp/body")" = 2 ] || fail "not 2 checks at start"

tok=mp-reload-Token-0123456789abcdef
printf '%s\n' "$tok" >"$tmp/http.token"
chmod 600 "$tmp/http.token"
new_conf() { # new_conf LISTEN: a token and a third check
	write_conf "$tmp/mp.yaml" "{listen: \"$1\", token_file: $tmp/http.token}"
	echo "  - {name: pop-new, url: \"pop3://127.0.0.1:$pop3_port\"}" >>"$tmp/mp.yaml"
	"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config $1 rejected"
}

new_conf "127.0.0.1:$busy"
lines=$(wc -l <"$tmp/daemon.log")
kill -HUP "$daemon_pid"
wait_for 10 "the reload refused" grep -q 'reload refused' "$tmp/daemon.log"
tail -n +"$((lines + 1))" "$tmp/daemon.log" >"$tmp/reload1.log"
grep -q "reload refused: http.listen 127.0.0.1:$busy: cannot listen: Address already in use; the running configuration stays" \
	"$tmp/reload1.log" || fail "the refusal does not give the reason: $(grep refused "$tmp/reload1.log")"
grep -q 'reloaded' "$tmp/reload1.log" && fail "a refused reload still says reloaded"
# Consistently the old configuration: same address, no token, two checks.
expect_code 200 GET /api/v1/checks
[ "$(jq '.checks | length' "$tmp/body")" = 2 ] || fail "the refused reload added a check"
expect_code 200 GET /metrics
sleep 2
curl -sf "$base/api/v1/checks/pop-new" >/dev/null && fail "pop-new exists after a refused reload"
kill -0 "$daemon_pid" || fail "the daemon died"

# The port is free elsewhere: the next reload applies listener, token and check together.
hp2=$(free_port)
new_conf "127.0.0.1:$hp2"
kill -HUP "$daemon_pid"
wait_for 10 "reloaded" grep -q 'reloaded: 3 checks (1 added, 0 changed, 0 removed)' "$tmp/daemon.log"
base=http://127.0.0.1:$hp2
expect_error 401 GET /api/v1/checks
expect_code 200 GET /api/v1/checks -H "Authorization: Bearer $tok"
[ "$(jq '.checks | length' "$tmp/body")" = 3 ] || fail "not 3 checks after the reload"
curl -s -o /dev/null "http://127.0.0.1:$hp/healthz" && fail "still serving on the old address"
echo "http reload: ok"
