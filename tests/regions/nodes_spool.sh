#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Issue 12, scenario 4: a node cannot reach the controller for a while (15 s,
# five of the scaled intervals, and longer than its lost bound), and is
# restarted during the cut. Afterwards its history has no gap: the spool,
# kept across the restart, was replayed in order with the original
# timestamps, and nothing was counted twice.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nd_setup

results_eu() {
	nd_api "/api/v1/checks/$ND_CHECK/results?limit=10000" || return 1
	jq '[.results[] | select(.location == "eu") | .ts_ms] | sort' "$tmp/api.json" >"$tmp/eu.ts"
}

cut_at=$(($(date +%s%3N)))
rg_cut eu drop ctl
wait_for 15 "eu lost" nd_node_is eu lost
sleep 6
nd_stop_node eu TERM # the spool must survive a restart
grep -q "node: stopped" "$tmp/eu.log" || fail "eu did not stop cleanly"
nd_node eu
sleep 6
restore_at=$(($(date +%s%3N)))
rg_restore eu
wait_for 30 "eu ok again" nd_node_is eu ok
eu_spool_empty() {
	nd_api /api/v1/nodes && jq -e '.nodes[] | select(.name == "eu") | .spool.depth == 0' "$tmp/api.json"
}
wait_for 30 "eu's spool empty" eu_spool_empty
sleep 2
results_eu || fail "results"
n=$(jq 'length' "$tmp/eu.ts")
# Gaps between eu's consecutive results around the cut: none over two
# intervals (3 s each, plus a probe's own time).
gaps=$(jq --argjson a "$((cut_at - 10000))" --argjson b "$((restore_at + 5000))" \
	'[range(1; length) as $i | select(.[$i] > $a and .[$i - 1] < $b) | .[$i] - .[$i - 1]] | map(select(. > 7000))' \
	"$tmp/eu.ts")
[ "$gaps" = "[]" ] || fail "gaps in eu's history around the cut (ms): $gaps"
inside=$(jq --argjson a "$cut_at" --argjson b "$restore_at" '[.[] | select(. > $a and . < $b)] | length' "$tmp/eu.ts")
[ "$inside" -ge 5 ] || fail "only $inside of eu's results were taken during the 18 s cut"
dups=$(jq '[group_by(.)[] | select(length > 1)] | length' "$tmp/eu.ts")
[ "$dups" = 0 ] || fail "$dups results of eu stored twice"
nd_api /api/v1/nodes || fail "nodes API"
jq -e '.nodes[] | select(.name == "eu") | .results.late > 0' "$tmp/api.json" >/dev/null ||
	fail "the replayed results were not taken as late: $(jq -c '.nodes[] | select(.name == "eu") | .results' "$tmp/api.json")"
grep -q "holds [0-9]* results from before" "$tmp/eu.log" ||
	fail "the restarted node did not find its spool"
echo "ok: $inside results taken during the cut replayed, $n in all, no gap, no duplicate"
