#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A result is stamped with the probe's own start, not with when it came
# back: against a server that takes a second to greet, the result in the
# store, the state's start and the alert's since_ms are all the probe's
# start, a second or more before the alert was sent (now_ms).
. "$(dirname "$0")/lib.sh"

start_http_sink
port=$(free_port)
cat >"$tmp/slow.scn" <<'SCN'
# Greets after a second: degraded, critical (crit_ms).
sleep 1000
send "+OK slow\r\n"
maybe_expect "CAPA"
send "+OK Capability list follows\r\nUSER\r\n.\r\n"
maybe_expect "QUIT"
send "+OK bye\r\n"
close
SCN
"$FAKESRV" --port "$port" --max-conns 100000 --lifetime 120 "$tmp/slow.scn" 2>>"$tmp/slow.log" &
pids+=("$!")
wait_for 5 "slow server listening" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
cat >"$tmp/mp.yaml" <<YAML
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 60s, timeout: 5s, fail_after: 1, starttls: "no"}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$http_port/hook"}
checks:
  - {name: slow, url: "pop3://127.0.0.1:$port", crit_ms: 200, notify: [hook]}
YAML
start_daemon "$tmp/mp.yaml"
wait_for 15 "the degraded notification" test -s "$tmp/http.jsonl"
alert=$(jq -c '.body | fromjson | {kind, since_ms, now_ms}' "$tmp/http.jsonl" | head -1)
jq -e '.kind == "degraded" and .now_ms - .since_ms >= 1000' <<<"$alert" >/dev/null ||
	fail "the alert's since_ms is not the probe's start, a second before now_ms: $alert"
since=$(jq '.since_ms' <<<"$alert")
# Written once a second: wait for the first result to be in the store.
wait_for 5 "the result stored" bash -c "'$MAILPULSE' history slow --store '$tmp/mp.db' --json | jq -e '.results | length >= 1'"
first=$("$MAILPULSE" history slow --store "$tmp/mp.db" --json | jq '[.results[].ts_ms] | min')
[ "$first" = "$since" ] || fail "the stored result is stamped $first, the probe started at $since"
wait_for 5 "the state stored" state_is slow degraded
status_json | jq -e --argjson s "$since" '.checks[] | select(.check == "slow") | .state_since_ms == $s' >/dev/null ||
	fail "the state does not start at the probe's start: $(status_json | jq -c '.checks')"
echo "ok: result, state and alert stamped with the probe's start ($since), the alert $(jq '.now_ms - .since_ms' <<<"$alert") ms later"
