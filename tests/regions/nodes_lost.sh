#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Issue 12, scenario 5: a node is killed. One node-lost alert, no check
# alert; the check is still judged by the other two: when the mail server
# then stops, the down alert comes from eu and ap.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nd_setup

nd_stop_node us KILL
wait_for 15 "us lost" nd_node_is us lost
wait_for 10 "a node_lost alert" nd_alerts_ge node_lost 1
nd_alert_json 1 | jq -e '.node == "us"' >/dev/null || fail "the alert is not about us: $(nd_alert_json 1)"
sleep 4
[ "$(nd_alerts)" = 1 ] || fail "$(nd_alerts) alerts, want only the node_lost one: $(cat "$tmp/hook.jsonl")"
nd_verdict_is "$ND_CHECK" up || fail "verdict $(nd_verdict "$ND_CHECK") with us lost"
echo "ok: us lost, one node alert, the check still up"

nd_mail_stop
wait_for 20 "a down alert judged by eu and ap" nd_alerts_ge down 1
down=$(jq -sc '[.[] | .body | fromjson | select(.kind == "down")][0]' "$tmp/hook.jsonl")
echo "$down" | jq -e '(.locations | test("eu")) and (.locations | test("ap"))' >/dev/null ||
	fail "the down alert does not name eu and ap: $down"
echo "ok: down from eu and ap while us is lost: $(echo "$down" | jq -r .locations)"
