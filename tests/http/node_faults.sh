#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A probing node (issue 12) facing a controller that answers its batches
# badly: a real `mailpulse run`, a real `mailpulse probe`, and between them
# ctl_faults.py, which answers the node's first batches by a plan:
# unavailable (503) until results pile up, too large (413), a 200 that is
# not JSON, one refused as malformed (400), and a batch stored by the
# controller whose reply is lost; then everything passes. The node must halve
# its batches on 413 and say so, keep what was not acknowledged and send
# it again, drop the malformed batch and say how many results went, and go
# on; the controller must take the lost batch sent again as duplicates, so
# no probe of the node is stored twice, and its check must end up up.
. "$(dirname "$0")/lib.sh"

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
pp=$(free_port)
printf 'eu-node-token-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$tmp/eu.token"
chmod 600 "$tmp/eu.token"
{
	cat <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hp"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 1, recover_after: 1, starttls: "no"}
nodes:
  - {name: eu, token_file: $tmp/eu.token}
checks:
YAML
	for i in 1 2 3 4 5 6; do
		echo "  - {name: pop-$i, url: \"pop3://127.0.0.1:$pop3_port\", locations: [eu]}"
	done
} >"$tmp/mp.yaml"
"$MAILPULSE" config check "$tmp/mp.yaml" >"$tmp/config.out" 2>&1 || fail "config rejected: $(cat "$tmp/config.out")"
# A tenth of real time: each check every 3 s, the node's waits a tenth.
SCALE=0.1 start_http_daemon "$tmp/mp.yaml" "$hp"

# The 400 comes before the lost reply: a batch sent again after it must
# reach the controller (were it the one refused, it would be dropped, and
# nothing would come twice).
plan="503,503,503,503,503,503,503,503,413,garbage,400,lost"
python3 "$here/ctl_faults.py" --port "$pp" --upstream "$hp" --plan "$plan" \
	--log "$tmp/faults.log" >"$tmp/proxy.out" 2>"$tmp/proxy.err" &
pids+=("$!")
wait_for 5 "the faulty controller on $pp" grep -q ready "$tmp/proxy.out"

MAILPULSE_TIME_SCALE=0.1 "$MAILPULSE" probe --controller "http://127.0.0.1:$pp" --name eu \
	--token-file "$tmp/eu.token" --spool "$tmp/eu.spool" -v >>"$tmp/node.log" 2>&1 &
node_pid=$!
pids+=("$node_pid")

steps=$(($(tr ',' '\n' <<<"$plan" | wc -l)))
wait_for 60 "the node through the plan's $steps answers and one more batch" \
	bash -c "[ \$(grep -c '^batch' '$tmp/faults.log' 2>/dev/null || echo 0) -gt $steps ]"
kill -0 "$node_pid" 2>/dev/null || fail "the node died: $(tail -5 "$tmp/node.log")"

# 413: the batch that had piled up, halved.
grep -E 'refused a batch of [0-9]+ results as too large: at most [0-9]+ a batch from now on' \
	"$tmp/node.log" >"$tmp/413.line" || fail "no word of the 413: $(grep -i 'HTTP 413' "$tmp/node.log" | head -3)"
n413=$(sed -E 's/.*batch of ([0-9]+) results.*/\1/' "$tmp/413.line")
half=$(sed -E 's/.*at most ([0-9]+) a batch.*/\1/' "$tmp/413.line")
[ "$n413" -gt 1 ] && [ "$half" -eq $((n413 / 2)) ] || fail "413 on $n413 results gave batches of $half"
echo "ok: 413 on a batch of $n413 results: batches of at most $half from then on"
# The proxy saw no batch over that bound after the 413.
awk -v h="$half" '$3 != "503" && $3 != "413" && prev413 && $4 > h {bad = $0} $3 == "413" {prev413 = 1} END {if (bad) {print bad; exit 1}}' \
	"$tmp/faults.log" || fail "a batch over $half results after the 413: $(cat "$tmp/faults.log")"

# A 200 that is not JSON, twice (garbage, and the lost reply): the node says so and keeps the results.
[ "$(grep -c 'node: reply to a batch:' "$tmp/node.log")" -ge 2 ] ||
	fail "the undecodable replies were not logged: $(grep -n 'batch' "$tmp/node.log" | tail -5)"
echo "ok: replies that are not JSON logged, the results kept"

# 400: dropped, with the count.
grep -qE 'batch of [0-9]+ results refused as malformed, dropped: HTTP 400' "$tmp/node.log" ||
	fail "the 400 was not logged as a drop: $(grep -n '400' "$tmp/node.log" | head -3)"
dropped=$(grep -oE 'batch of [0-9]+ results refused as malformed' "$tmp/node.log" | grep -oE '[0-9]+' | head -1)
echo "ok: the malformed batch dropped and counted ($dropped results)"

# The lost batch came again: the controller knew it.
wait_for 20 "the controller counting the lost batch's results as duplicates" \
	bash -c "curl -sf '$base/api/v1/nodes' | jq -e '.nodes[] | select(.name == \"eu\") | .results.duplicate >= 1' >/dev/null"
# No probe of the node stored twice, and rows keep coming.
dups=$(sqlite3 "file:$tmp/mp.db?mode=ro" "SELECT count(*) FROM (SELECT check_id, ts_ms FROM results WHERE location = 'eu' GROUP BY check_id, ts_ms HAVING count(*) > 1)")
[ "$dups" = 0 ] || fail "$dups probes of eu stored twice"
before=$(sqlite3 "file:$tmp/mp.db?mode=ro" "SELECT count(*) FROM results WHERE location = 'eu'")
wait_for 30 "more rows from eu after the plan" \
	bash -c "[ \$(sqlite3 'file:$tmp/mp.db?mode=ro' \"SELECT count(*) FROM results WHERE location = 'eu'\") -gt $((before + 6)) ]"
echo "ok: the lost batch taken as duplicates, no probe stored twice, rows still coming"

# The node goes on probing and its checks are judged up.
for i in 1 2 3 4 5 6; do
	wait_for 20 "pop-$i up from eu" api_state_is "pop-$i" up
done
! grep -qF "$(cat "$tmp/eu.token")" "$tmp/node.log" "$tmp/daemon.log" "$tmp/faults.log" ||
	fail "the node's token in a log"
echo "ok: the node through every fault, its checks up"
