#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# run.sh - `mailpulse run` in node n1 (region eu) watching a real Dovecot in
# region dc, its scheduler 20 times faster (MAILPULSE_TIME_SCALE):
#
#   - the check goes up, as its API (/api/v1/checks, asked from inside n1)
#     shows;
#   - n1's path cut silently: the state goes down with reason timeout, and
#     an incident opens;
#   - the path restored: the state goes up again and the incident closes,
#     "recovered".
#
# Every state the API showed is kept in order and must read up, down, up.
# Needs root, ip netns and nft (exit 77 otherwise). Environment: MAILPULSE,
# CERTGEN.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${MAILPULSE:?}"
command -v jq >/dev/null || rg_skip "no jq"
command -v curl >/dev/null || rg_skip "no curl"
command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || rg_skip "no dovecot"

rg_init
rg_region dc 1
rg_region eu 2
rg_node mail dc 10
rg_node n1 eu 11
rg_dovecot mail
mail=$(rg_addr mail)
name=imaps.mail

# 30 s interval, 1.5 s once scaled; probe timeouts are never scaled.
cat >"$tmp/mp.yaml" <<YAML
location: eu
store: $tmp/mp.db
http: {listen: "127.0.0.1:8080"}
defaults: {interval: 30s, timeout: 2s, retry: 30s, fail_after: 2, recover_after: 2}
checks:
  - {name: $name, url: "imaps://localhost", resolve: ["$mail"], ca_file: "$rg_dv_dir/ca.crt"}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >"$tmp/config.out" 2>&1 ||
	fail "config rejected: $(cat "$tmp/config.out")"
# The daemon's port is n1's own 127.0.0.1:8080: nothing else lives there.
rg_bg n1 env MAILPULSE_TIME_SCALE=0.05 "$MAILPULSE" run -c "$tmp/mp.yaml" -v >"$tmp/daemon.log" 2>&1
RG_SHOW_ON_FAIL="$tmp/daemon.log $tmp/states"

# The check as the API shows it, from inside n1; every state seen is
# appended to $tmp/states when it differs from the last one.
: >"$tmp/states"
api_check() {
	rg_exec n1 curl -sf --max-time 2 http://127.0.0.1:8080/api/v1/checks >"$tmp/api.json" ||
		return 1
	jq -e --arg c "$name" '.checks[] | select(.name == $c)' "$tmp/api.json" >"$tmp/check.json" ||
		return 1
	local s
	s=$(jq -r '"\(.state) \(.reason)"' "$tmp/check.json")
	[ "$s" = "$(tail -n 1 "$tmp/states")" ] || echo "$s" >>"$tmp/states"
}
state_is() { api_check && jq -e --arg s "$1" '.state == $s' "$tmp/check.json" >/dev/null; }

wait_for 20 "$name up in the API" state_is up
jq -e '.last.address == "'"$mail"':993"' "$tmp/check.json" >/dev/null ||
	fail "the last probe did not go to $mail:993: $(cat "$tmp/check.json")"
echo "ok: up ($(jq -c '[.state, .last.address]' "$tmp/check.json"))"

rg_cut n1 drop
wait_for 30 "$name down after n1's path was cut" state_is down
jq -e '.reason == "timeout" and .incident_open == true' "$tmp/check.json" >/dev/null ||
	fail "down, but not for a timeout with an open incident: $(cat "$tmp/check.json")"
echo "ok: down ($(jq -c '[.state, .reason, .message]' "$tmp/check.json"))"

rg_restore n1
wait_for 30 "$name up after n1's path was restored" state_is up
jq -e '.incident_open == false' "$tmp/check.json" >/dev/null ||
	fail "up, but the incident is still open: $(cat "$tmp/check.json")"

# What the API showed, in order: up, down (timeout), up; pending first.
seen=$(grep -v '^pending ' "$tmp/states" | awk '{print $1}' | paste -sd' ')
[ "$seen" = "up down up" ] || fail "states seen in the API: '$seen', want 'up down up'"
grep -q '^down timeout$' "$tmp/states" || fail "the down state's reason was not timeout"
rg_exec n1 curl -sf --max-time 2 "http://127.0.0.1:8080/api/v1/incidents?check=$name" >"$tmp/inc.json" ||
	fail "GET /api/v1/incidents"
jq -e '.incidents | length == 1 and (.[0] | .open == false and .reason == "timeout" and .close_reason == "recovered")' \
	"$tmp/inc.json" >/dev/null || fail "want one closed timeout incident: $(cat "$tmp/inc.json")"
echo "ok: states seen: $(paste -sd, "$tmp/states"); incident $(jq -c '.incidents[0] | [.reason, .close_reason, .duration_ms]' "$tmp/inc.json")"
echo "PASS regions_run"
