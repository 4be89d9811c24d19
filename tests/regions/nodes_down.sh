#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Issue 12, scenario 2: the mail server stops (Dovecot killed). One down
# alert within an interval plus confirmation, naming every location; one
# recovery alert when it comes back.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nd_setup

nd_mail_stop
t0=$SECONDS
# Interval 3 s, then the confirming probe 3 s later, on every node; a few
# seconds for batches and the webhook: 15 s is generous.
wait_for 15 "a down alert" nd_alerts_ge down 1
echo "ok: down alert after $((SECONDS - t0)) s"
nd_alert_json 1 >"$tmp/down.json"
for n in eu us ap; do
	jq -e --arg n "$n" '.locations | test($n)' "$tmp/down.json" >/dev/null ||
		fail "the down alert does not name $n: $(jq -c '.locations' "$tmp/down.json")"
done
jq -e '.locations | test("down from")' "$tmp/down.json" >/dev/null ||
	fail "the alert's locations do not read 'down from': $(jq -c .locations "$tmp/down.json")"
echo "ok: it names every location: $(jq -r .locations "$tmp/down.json")"

nd_mail_start
wait_for 30 "a recovery alert" nd_alerts_ge recovery 1
sleep 4 # a second alert of either kind would show up by now
[ "$(nd_alerts down)" = 1 ] || fail "$(nd_alerts down) down alerts, want 1"
[ "$(nd_alerts recovery)" = 1 ] || fail "$(nd_alerts recovery) recovery alerts, want 1"
[ "$(nd_alerts)" = 2 ] || fail "$(nd_alerts) alerts in all, want 2: $(cat "$tmp/hook.jsonl")"
echo "ok: one down and one recovery alert"
