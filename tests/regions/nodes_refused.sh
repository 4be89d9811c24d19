#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Issue 12, scenario 7: a node with a wrong token, and one pushing results
# for a check it was not given: both refused, and each refusal logged. The
# token never appears in the controller's log.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nd_setup "  - {name: us.only, url: \"imap://10.254.1.10:143\", locations: [us]}"

post() { # NODE TOKEN OP FILE: the status code into $tmp/code, the body into $tmp/reply
	rg_exec "$1" curl -s -o "$tmp/reply" -w '%{http_code}' --max-time 5 --cacert "$tmp/ca.crt" \
		-H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
		--data-binary "@$4" "https://$nd_ctl:8443/api/v1/nodes/$1/$3" >"$tmp/code"
}

# A wrong token: 401, for a real node's name and for a made-up one alike.
printf "%s" "not-the-token-Zq81" >"$tmp/bad.token"
chmod 600 "$tmp/bad.token"
echo '{}' >"$tmp/empty.json"
post eu "not-the-token-Zq81" heartbeat "$tmp/empty.json"
[ "$(cat "$tmp/code")" = 401 ] || fail "wrong token: HTTP $(cat "$tmp/code")"
rg_exec eu curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$tmp/ca.crt" \
	-H "Authorization: Bearer $(cat "$tmp/eu.token")" \
	"https://$nd_ctl:8443/api/v1/nodes/nosuch/assignments" >"$tmp/code"
[ "$(cat "$tmp/code")" = 401 ] || fail "a node not configured: HTTP $(cat "$tmp/code")"
wait_for 5 "the refusal logged" grep -q 'nodes: POST heartbeat for node "eu" from 10.254.3.11 refused' "$tmp/ctl.log"
# A whole node with a wrong token: it keeps trying, is refused each time.
rg_exec eu "$MAILPULSE" probe --controller "https://$nd_ctl:8443" --name eu \
	--token-file "$tmp/bad.token" --ca-file "$tmp/ca.crt" >"$tmp/badnode.log" 2>&1 &
badpid=$!
wait_for 10 "the bad node told it is refused" grep -q "HTTP 401" "$tmp/badnode.log"
kill "$badpid"
wait "$badpid" 2>/dev/null
echo "ok: wrong tokens refused (401) and logged"

# eu's token, a result for us.only, which names only us; then one for the
# check eu has, claiming to be from us.
rg_exec eu "$MAILPULSE" check --json --timeout 2 "imap://10.254.1.10:143" >"$tmp/one.json"
digest=$(nd_api "/api/v1/checks/us.only" && jq -r '.last.check_digest // ""' "$tmp/api.json")
now=$(date +%s%3N)
jq -c --arg d "${digest:-}" '.check = "us.only" | .location = "eu" | .seq = 5 | .check_digest = (if $d == "" then null else $d end)' \
	"$tmp/one.json" >"$tmp/r1.json" || fail "jq r1"
jq -c '.check = "'"$ND_CHECK"'" | .location = "us" | .seq = 6' "$tmp/one.json" >"$tmp/r2.json"
jq -nc --argjson now "$now" --slurpfile a "$tmp/r1.json" --slurpfile b "$tmp/r2.json" \
	'{v: 1, node: "eu", batch: "forged-1", sent_ms: $now, floor: 0, results: ($a + $b)}' >"$tmp/batch.json"
post eu "$(cat "$tmp/eu.token")" results "$tmp/batch.json"
[ "$(cat "$tmp/code")" = 200 ] || fail "the forged batch: HTTP $(cat "$tmp/code"): $(cat "$tmp/reply")"
jq -e '.accepted == 0 and .refused == 2 and (.refusals | length) == 2' "$tmp/reply" >/dev/null ||
	fail "the forged results were not both refused: $(cat "$tmp/reply")"
jq -e '.refusals[0].check == "us.only" and (.refusals[0].error | test("not_assigned")) and (.refusals[1].error | test("bad_meta"))' "$tmp/reply" >/dev/null ||
	fail "the first refusal does not say not assigned: $(cat "$tmp/reply")"
wait_for 5 "the refusal logged" grep -q "eu batch forged-1: 2 of 2 results refused" "$tmp/ctl.log"
nd_api "/api/v1/checks/us.only/results?limit=1000" || fail "results API"
jq -e '[.results[] | select(.location == "eu")] | length == 0' "$tmp/api.json" >/dev/null ||
	fail "a refused result was stored: $(cat "$tmp/api.json")"
for n in eu us ap; do
	if grep -qF "$(cat "$tmp/$n.token")" "$tmp/ctl.log" "$tmp/$n.log"; then
		fail "node $n's token appears in a log"
	fi
done
echo "ok: results for a check not assigned refused, logged, not stored; no token in any log"
