#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Issue 12, scenario 1: one node's path to the mail server is cut for
# several intervals. Zero check alerts; the check shows partial, and that
# location shows its reason (timeout: the path drops silently). Restored,
# it is up everywhere again, still without an alert.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nd_setup

rg_cut eu drop mail
wait_for 30 "eu sees $ND_CHECK down" nd_loc_is "$ND_CHECK" eu down
[ "$(nd_loc "$ND_CHECK" eu)" = "down timeout" ] ||
	fail "eu's reason is not timeout: $(nd_loc "$ND_CHECK" eu)"
wait_for 10 "the verdict partial" nd_verdict_is "$ND_CHECK" partial
# Several more intervals (3 s each): the verdict stays partial, never down.
end=$((SECONDS + 12))
while [ $SECONDS -lt $end ]; do
	v=$(nd_verdict "$ND_CHECK") || fail "API"
	[ "$v" = partial ] || fail "verdict $v while only eu is cut"
	jq -e '.state == "up"' "$tmp/check.json" >/dev/null ||
		fail "the check's state moved: $(jq -c '[.state, .reason]' "$tmp/check.json")"
	sleep 1
done
for n in us ap; do
	nd_loc_is "$ND_CHECK" "$n" up || fail "$n does not see it up: $(nd_loc "$ND_CHECK" "$n")"
done
jq -e '.locations[] | select(.location == "eu") | .message | test("within")' "$tmp/check.json" \
	>/dev/null || fail "eu's message does not say why: $(jq -c '.locations' "$tmp/check.json")"
echo "ok: partial for 4 intervals, eu down (timeout), us and ap up"

rg_restore eu
wait_for 30 "eu sees it up again" nd_loc_is "$ND_CHECK" eu up
wait_for 10 "the verdict up" nd_verdict_is "$ND_CHECK" up
n=$(nd_alerts)
[ "$n" = 0 ] || fail "$n alerts were sent: $(cat "$tmp/hook.jsonl")"
echo "ok: zero alerts"
