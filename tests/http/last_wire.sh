#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The API's last result is the one encoder's (docs/json.md), so it cannot
# drift from `mailpulse check --json` again: a daemon and the CLI probe the
# same POP3S server, whose intermediate expires before its leaf, and every
# key of the API's `last` that the CLI's object also has holds the same
# value (times and timings aside: two probes, two clocks; their types must
# agree). The TLS keys of `last` and of the check's `tls` are the
# encoder's tls keys under their documented names: cert_not_after is the
# intermediate's date, leaf_not_after the leaf's, and tls.not_after keeps
# the first to expire (docs/api.md). The history (the store) says the same.
# check, location, check_digest and seq are the daemon's: seq grows from
# one result to the next and across a restart.
. "$(dirname "$0")/lib.sh"

"$CERTGEN" --out "$tmp/ca" --cn "mp test CA" --ca >/dev/null
# Half a day past a whole day count: both probes, seconds apart, count the same days_left.
"$CERTGEN" --out "$tmp/inter" --cn "mp test intermediate" --ca --issuer "$tmp/ca" \
	--to $((30 * 86400 + 43200)) >/dev/null
"$CERTGEN" --out "$tmp/leaf" --cn localhost --issuer "$tmp/inter" \
	--san DNS:localhost,IP:127.0.0.1 >/dev/null
cat >"$tmp/chain.scn" <<'SCN'
implicit_tls
cert leaf.crt
chain inter.crt
send "+OK fakesrv ready\r\n"
maybe_expect "CAPA"
send "+OK Capability list follows\r\nUSER\r\nUIDL\r\n.\r\n"
maybe_expect "QUIT"
send "+OK bye\r\n"
close
SCN
port=$(free_port)
"$FAKESRV" --port "$port" --certs "$tmp" --max-conns 100000 --lifetime 120 "$tmp/chain.scn" \
	2>>"$tmp/fakesrv.log" &
pids+=("$!")
wait_for 5 "TLS server listening on $port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"

hp=$(free_port)
cat >"$tmp/mp.yaml" <<YAML
location: wire1
store: $tmp/mp.db
http: {listen: "127.0.0.1:$hp"}
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 1, starttls: "no"}
checks:
  - {name: tls, url: "pop3s://127.0.0.1:$port", ca_file: "$tmp/ca.crt"}
YAML
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "config rejected"
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 15 "tls up" api_state_is tls up

cli=$("$MAILPULSE" check --json --ca-file "$tmp/ca.crt" "pop3s://127.0.0.1:$port") ||
	fail "mailpulse check: exit $?: $cli"
expect_code 200 GET /api/v1/checks/tls
cp "$tmp/body" "$tmp/detail.json"
api=$(jq -c .last "$tmp/detail.json")
jq -e '.tls.cert_not_after != .tls.leaf_not_after and .status == "up"' <<<"$cli" >/dev/null ||
	fail "the CLI does not see an intermediate expiring first: $cli"

# Every shared key: the same value, but for what two probes cannot share
# and the daemon's own (null from the CLI, checked below).
diff=$(jq -n -c --argjson a "$api" --argjson c "$cli" '
	["time", "ts_ms", "timings_ms", "time_to_greeting_ms"] as $vary
	| ["check", "location", "check_digest", "seq"] as $own
	| [$a | keys[] | select(. as $k | $c | has($k))] as $shared
	| {shared: $shared,
	   cli_own: [$own[] | $c[.] | select(. != null)],
	   differ: [$shared[] | select(. as $k | $vary + $own | index($k) | not)
	            | select($a[.] != $c[.]) | {key: ., api: $a[.], cli: $c[.]}],
	   types: [$vary[] | select(($a[.] | type) != ($c[.] | type))],
	   phases: (($a.timings_ms | map_values(type)) == ($c.timings_ms | map_values(type)))}')
jq -e '.differ == [] and .types == [] and .phases and .cli_own == []' <<<"$diff" >/dev/null ||
	fail "the API's last and check --json differ: $diff"
# Asserting over no keys would prove nothing: these must be among them.
jq -e '.shared | contains(["status", "severity", "reason", "message", "warnings", "address",
	"path", "time_to_greeting_ms", "timings_ms", "check", "location", "check_digest", "seq"])' \
	<<<"$diff" >/dev/null || fail "too few shared keys: $diff"
echo "ok: $(jq '.shared | length' <<<"$diff") keys of last shared with check --json, equal"

# The certificate keys: the encoder's tls keys under the documented names.
jq -n -e --argjson a "$api" --argjson c "$cli" '
	$a.cert_not_after == $c.tls.cert_not_after and $a.leaf_not_after == $c.tls.leaf_not_after
	and $a.cert_days_left == $c.tls.days_left and $a.cert_subject == $c.tls.subject
	and $a.tls_version == $c.tls.version and $a.cert_not_after != $a.leaf_not_after' \
	>/dev/null || fail "last's certificate keys differ from check --json's tls: $api"
tls=$(jq -c .tls "$tmp/detail.json")
diff=$(jq -n -c --argjson t "$tls" --argjson c "$cli" '
	[$t | keys[] | select(. != "not_after" and (. as $k | $c.tls | has($k)))] as $shared
	| {shared: $shared, differ: [$shared[] | select($t[.] != $c.tls[.])]}')
jq -e '.differ == [] and (.shared | contains(["cert_not_after", "leaf_not_after", "days_left",
	"subject", "issuer", "sans", "version", "cipher", "verified", "sha256"]))' <<<"$diff" \
	>/dev/null || fail "the API's tls differs from check --json's: $diff"
jq -n -e --argjson t "$tls" --argjson c "$cli" '$t.not_after == $c.tls.cert_not_after' \
	>/dev/null || fail "the API's tls.not_after is not the first to expire: $tls"

# The daemon's own: its check, location, digest and sequence.
jq -e '.check == "tls" and .location == "wire1" and
	(.check_digest | test("^[0-9a-f]{64}$")) and .seq >= .ts_ms and
	(.path | startswith("dns>connect>tls>greeting"))' <<<"$api" >/dev/null ||
	fail "last lacks the daemon's meta: $api"

# The history keeps the same meanings and the path.
wait_for 5 "a result stored" bash -c \
	"'$MAILPULSE' history tls --store '$tmp/mp.db' --json | jq -e '.results | length >= 1'"
hist=$("$MAILPULSE" history tls --store "$tmp/mp.db" --json | jq -c '.results[0]')
jq -n -e --argjson h "$hist" --argjson c "$cli" '
	$h.tls.cert_not_after == $c.tls.cert_not_after and
	$h.tls.leaf_not_after == $c.tls.leaf_not_after and $h.tls.not_after == $c.tls.not_after and
	$h.tls.days_left == $c.tls.days_left and $h.path == $c.path' >/dev/null ||
	fail "the history differs from check --json: $hist"

# seq: larger with each result, and after a restart.
seq1=$(jq .seq <<<"$api")
wait_for 10 "a later result" bash -c \
	"curl -sf '$base/api/v1/checks/tls' | jq -e '.last.seq > $seq1'"
seq2=$(curl -sf "$base/api/v1/checks/tls" | jq .last.seq)
kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 15 "a result after the restart" bash -c \
	"curl -sf '$base/api/v1/checks/tls' | jq -e '.last != null'"
seq3=$(curl -sf "$base/api/v1/checks/tls" | jq .last.seq)
[ "$seq3" -gt "$seq2" ] || fail "seq after the restart $seq3 is not above $seq2"
echo "ok: seq $seq1 < $seq2 < $seq3 (restart)"
