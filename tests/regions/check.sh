#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# check.sh - `mailpulse check` from three nodes in two regions against a
# real Dovecot in a third, over veth pairs and a router (lib.sh):
#
#   - n1, n2 (region eu) and n3 (region us) all see the server up;
#   - n2's path to the mail server cut silently (packets dropped): n2 down,
#     timeout, while n1 (same region) and n3 stay up and n2 still reaches
#     n3; restored: n2 up again;
#   - every path of n2 cut with ICMP host unreachable: n2 down, unreachable;
#   - the proxy in front of the server: without delay a check with
#     --warn-ms 200 is up; with 400 ms before the greeting it is degraded,
#     slow; the connection dropped 10 bytes into the greeting is down,
#     closed; the same with a reset is down, reset; then, changed while it
#     runs, a silent proxy is a timeout, a refusing one refused, and a
#     passing one up again.
#
# Needs root, ip netns and nft (exit 77 otherwise). Environment: MAILPULSE,
# CERTGEN.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${MAILPULSE:?}"
command -v jq >/dev/null || rg_skip "no jq"
command -v python3 >/dev/null || rg_skip "no python3"
command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || rg_skip "no dovecot"

rg_init
rg_region dc 1
rg_region eu 2
rg_region us 3
rg_node mail dc 10
rg_node n1 eu 11
rg_node n2 eu 12
rg_node n3 us 11
rg_dovecot mail
mail=$(rg_addr mail)
ca=$rg_dv_dir/ca.crt
# The slow or broken path: the proxy in front of Dovecot's plain IMAP.
rg_proxy mail front 1143 127.0.0.1:143
RG_SHOW_ON_FAIL="$tmp/proxy-front.log $rg_dv_dir/dovecot.log"

# probe NODE TAG ARGS...: one `mailpulse check --json` from NODE, output in
# $tmp/TAG.out and $tmp/TAG.err. Several may run at once (&, then wait).
probe() {
	local n=$1 tag=$2
	shift 2
	rg_exec "$n" timeout -k 2 20 "$MAILPULSE" check --json "$@" >"$tmp/$tag.out" 2>"$tmp/$tag.err"
	echo $? >"$tmp/$tag.rc"
}
imaps() { probe "$1" "$2" imaps://localhost --resolve "localhost:$mail" --ca-file "$ca" --timeout 3; }
front() {
	local n=$1 tag=$2
	shift 2
	probe "$n" "$tag" imap://localhost:1143 --resolve "localhost:$mail" --starttls no --timeout 5 "$@"
}
# expect TAG DESCRIPTION JQ: JQ is true of TAG's single JSON line.
expect() {
	local tag=$1
	[ "$(grep -c . "$tmp/$tag.out")" = 1 ] ||
		fail "$tag: want one JSON line, got: $(cat "$tmp/$tag.out") $(cat "$tmp/$tag.err")"
	jq -e "$3" "$tmp/$tag.out" >/dev/null 2>&1 ||
		fail "$tag: $2: not true: $3; got $(cat "$tmp/$tag.out"); stderr $(cat "$tmp/$tag.err")"
}
up() { expect "$1" "up through $mail" ".status == \"up\" and .reason == \"ok\" and .address == \"$mail:993\" and .tls.verified == true"; }

# Everyone sees it up.
rg_par imaps n1 a1
rg_par imaps n2 a2
rg_par imaps n3 a3
rg_join
up a1
up a2
up a3
echo "ok: n1, n2, n3 up"

# n2's path to the mail server cut silently: a timeout for n2 alone, n1 in
# the same region unharmed, and n2 still reaches n3 (refused on a closed
# port is an answer from n3's kernel).
rg_cut n2 drop mail
rg_exec n2 timeout 3 bash -c "exec 3<>/dev/tcp/$(rg_addr n3)/9" 2>"$tmp/n2n3.err"
grep -q "Connection refused" "$tmp/n2n3.err" ||
	fail "n2 cut from mail only, but n3 did not answer: $(cat "$tmp/n2n3.err")"
rg_par imaps n1 b1
rg_par imaps n2 b2
rg_par imaps n3 b3
rg_join
up b1
up b3
expect b2 "n2 cut by drop" '.status == "down" and .reason == "timeout"'
expect b2 "pending at connect" '.message | test("connect"; "i")'
[ "$(cat "$tmp/b2.rc")" = 2 ] || fail "n2 cut: exit $(cat "$tmp/b2.rc"), want 2"
echo "ok: n2 cut (drop): $(jq -c '[.status, .reason, .message]' "$tmp/b2.out"); n1, n3 up"

rg_restore n2
imaps n2 c2
up c2
echo "ok: n2 restored, up"

rg_cut n2 reject
rg_par imaps n2 d2
rg_par imaps n1 d1
rg_join
up d1
expect d2 "n2 cut by reject" '.status == "down" and .reason == "unreachable"'
rg_restore n2
echo "ok: n2 cut (reject): $(jq -c '[.status, .reason, .message]' "$tmp/d2.out")"

# Through the proxy: fast, then 400 ms before the greeting, then broken.
front n1 e1 --warn-ms 200
expect e1 "fast through the proxy" '.status == "up" and .reason == "ok" and .time_to_greeting_ms < 200'
rg_proxy_set front "delay_down=400"
front n1 f1 --warn-ms 200
expect f1 "400 ms before the greeting" '.status == "degraded" and .reason == "slow" and .severity == "warning"'
expect f1 "the greeting took the delay" '.time_to_greeting_ms >= 400'
[ "$(cat "$tmp/f1.rc")" = 1 ] || fail "slow: exit $(cat "$tmp/f1.rc"), want 1"
echo "ok: slow greeting: $(jq -c '[.status, .reason, .time_to_greeting_ms]' "$tmp/f1.out")"

rg_proxy_set front "drop_down=10"
front n1 g1
expect g1 "dropped mid-greeting (FIN)" '.status == "down" and .reason == "closed"'
grep -q "dropped after 10 bytes down (fin)" "$tmp/proxy-front.log" ||
	fail "the proxy did not drop the connection after 10 bytes"
echo "ok: dropped mid-greeting: $(jq -c '[.status, .reason, .message]' "$tmp/g1.out")"

rg_proxy_set front "drop_down=10 drop_how=rst"
front n1 h1
expect h1 "reset mid-greeting (RST)" '.status == "down" and .reason == "reset"'
echo "ok: reset mid-greeting: $(jq -c '[.status, .reason, .message]' "$tmp/h1.out")"

# The proxy's modes changed while it runs, as a flapping link will: silent,
# refusing, then passing again.
rg_proxy_set front "mode=blackhole"
front n1 i1 --timeout 2
expect i1 "blackholed" '.status == "down" and .reason == "timeout" and (.message | test("greeting"))'
rg_proxy_set front "mode=refuse"
front n1 j1
expect j1 "refused" '.status == "down" and .reason == "refused"'
rg_proxy_set front "mode=pass"
front n1 k1 --warn-ms 200
expect k1 "passing again" '.status == "up" and .reason == "ok"'
echo "ok: proxy blackhole, refuse, pass: $(jq -r .reason "$tmp/i1.out"), $(jq -r .reason "$tmp/j1.out"), $(jq -r .status "$tmp/k1.out")"

echo "PASS regions_check"
