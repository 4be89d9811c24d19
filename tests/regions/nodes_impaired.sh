#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Issue 12, scenario 6: a node's canary fails: its outbound path to
# everything but the controller is cut (the mail server and its canary, a
# second Dovecot in a region of its own). The node is impaired: its results
# are kept and shown, but none raises an alert, even for a check whose
# quorum is 1, which any counted location seeing down would take down.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nd_pre_nodes() {
	rg_region cn 6
	rg_node canary cn 20
	rg_dovecot canary
}
ND_NODE_ARGS="--canary pop3://10.254.6.20:110"
nd_setup "  - {name: pop3.mail, url: \"pop3://10.254.1.10:110\", starttls: \"no\", locations: [eu, us, ap], quorum: 1}"
wait_for 20 "pop3.mail up from ap" nd_loc_is pop3.mail ap up
ap_canary_up() {
	nd_api /api/v1/nodes &&
		jq -e '.nodes[] | select(.name == "ap") | .canaries | map(select(.target | test("10.254.6.20"))) | .[0].status == "up"' \
			"$tmp/api.json" >/dev/null
}
wait_for 20 "ap's canary up" ap_canary_up

rg_cut ap drop mail
rg_cut ap drop canary
wait_for 30 "ap impaired" nd_node_is ap impaired
jq -e '.nodes[] | select(.name == "ap") | .why | test("canary")' "$tmp/api.json" >/dev/null ||
	fail "ap is impaired, but not for its canary: $(jq -c '.nodes[] | select(.name == "ap")' "$tmp/api.json")"
wait_for 30 "ap's results show pop3.mail down" nd_loc_is pop3.mail ap down
# Several intervals with ap impaired and seeing both checks down.
sleep 9
for c in "$ND_CHECK" pop3.mail; do
	nd_verdict_is "$c" up || fail "$c: verdict $(nd_verdict "$c") with only the impaired ap failing"
	jq -e '.locations[] | select(.location == "ap") | .counts == false' "$tmp/check.json" >/dev/null ||
		fail "$c: the impaired ap still counts: $(jq -c '.locations' "$tmp/check.json")"
done
down=$(nd_alerts down)
[ "$down" = 0 ] || fail "$down check alerts from an impaired node: $(cat "$tmp/hook.jsonl")"
[ "$(nd_alerts node_impaired)" = 1 ] ||
	fail "$(nd_alerts node_impaired) node_impaired alerts, want 1: $(cat "$tmp/hook.jsonl")"
echo "ok: ap impaired by its canary, its down results shown and not counted, no check alert"

rg_restore ap
wait_for 30 "ap ok again" nd_node_is ap ok
wait_for 20 "a node_back alert" nd_alerts_ge node_back 1
[ "$(nd_alerts down)" = 0 ] || fail "a check alert after ap came back"
echo "ok: ap back"
