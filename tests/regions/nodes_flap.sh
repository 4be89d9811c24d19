#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Issue 12, scenario 3: one node's link flaps, down and up every 1.5 s for
# 45 s (15 intervals of the scaled schedule). Zero false alerts: no check
# alert, and no node alert (the node is never silent for its lost bound).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nd_setup

end=$((SECONDS + 45))
flaps=0
while [ $SECONDS -lt $end ]; do
	rg_cut us link
	sleep 1.5
	rg_restore us
	sleep 1.5
	flaps=$((flaps + 1))
done
wait_for 20 "us sees it up after the flapping" nd_loc_is "$ND_CHECK" us up
sleep 3
n=$(nd_alerts)
[ "$n" = 0 ] || fail "$n alerts after $flaps flaps: $(cat "$tmp/hook.jsonl")"
nd_verdict_is "$ND_CHECK" up || fail "verdict $(nd_verdict "$ND_CHECK") after the flapping"
echo "ok: $flaps flaps of us's link, zero alerts"
