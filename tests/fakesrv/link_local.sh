#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# link_local.sh - a real probe of a link-local IPv6 server, named with its
# zone: two network namespaces joined by a veth pair, fe80::1 on the
# client's end, fe80::2 on the server's, a small IMAP server there.
#
#   - the URL with RFC 6874's "%25" and with a plain "%": up, one
#     canonical target, the address shown with its zone;
#   - --resolve with a zoned address: up;
#   - the same address without a zone, or with an interface the client
#     lacks: down, unreachable, saying why.
#
# Needs root and `ip netns` (exit 77 otherwise); the namespaces have names
# of their own and are removed at exit. Environment: MAILPULSE.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/jq.sh"
: "${MAILPULSE:?}"

skip() {
	echo "link_local: SKIP: $*" >&2
	exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v ip >/dev/null || skip "no ip(8)"
command -v python3 >/dev/null || skip "no python3"
command -v jq >/dev/null || skip "no jq"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-linklocal.XXXXXX")
id=$$-$RANDOM
ns_cli=mp-ll-cli-$id
ns_srv=mp-ll-srv-$id
srv_pid=
cleanup() {
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	# Deleting a namespace deletes its end of the veth pair, and so the pair.
	ip netns del "$ns_cli" 2>/dev/null
	ip netns del "$ns_srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$ns_cli" 2>"$tmp/err" || skip "ip netns add: $(cat "$tmp/err")"
ip netns add "$ns_srv" 2>"$tmp/err" || skip "ip netns add: $(cat "$tmp/err")"
ip link add mpll0 netns "$ns_cli" type veth peer name mpll1 netns "$ns_srv" 2>"$tmp/err" ||
	skip "no veth pair: $(cat "$tmp/err")"
for ns in "$ns_cli" "$ns_srv"; do
	ip -n "$ns" link set lo up
done
ip -n "$ns_cli" link set mpll0 up
ip -n "$ns_srv" link set mpll1 up
# nodad: usable at once, no duplicate address detection to wait for.
ip -n "$ns_cli" -6 addr add fe80::1/64 dev mpll0 nodad 2>"$tmp/err" ||
	skip "no IPv6 here: $(cat "$tmp/err")"
ip -n "$ns_srv" -6 addr add fe80::2/64 dev mpll1 nodad 2>"$tmp/err" ||
	skip "no IPv6 here: $(cat "$tmp/err")"

FAIL_WHAT=link_local
. "$(dirname "${BASH_SOURCE[0]}")/../lib/assert.sh"

# A minimal IMAP server on [fe80::2%mpll1]: a greeting with its
# capabilities, then CAPABILITY and LOGOUT answered, anything else BAD.
cat >"$tmp/srv.py" <<'EOF'
import socket, sys
port_file = sys.argv[1]
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("fe80::2", 0, 0, socket.if_nametoindex("mpll1")))
s.listen(8)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
s.settimeout(25)
while True:
    try:
        c, peer = s.accept()
    except socket.timeout:
        break
    print("connection from", peer, flush=True)
    c.settimeout(5)
    f = c.makefile("rwb")
    f.write(b"* OK [CAPABILITY IMAP4rev1] link-local test server ready\r\n")
    f.flush()
    try:
        for line in f:
            words = line.decode("ascii", "replace").split()
            if not words:
                continue
            tag, cmd = words[0], (words[1].upper() if len(words) > 1 else "")
            if cmd == "CAPABILITY":
                f.write(b"* CAPABILITY IMAP4rev1\r\n" + tag.encode() + b" OK done\r\n")
            elif cmd == "LOGOUT":
                f.write(b"* BYE bye\r\n" + tag.encode() + b" OK done\r\n")
                f.flush()
                break
            else:
                f.write(tag.encode() + b" BAD what\r\n")
            f.flush()
    except (OSError, socket.timeout):
        pass
    c.close()
EOF
ip netns exec "$ns_srv" python3 "$tmp/srv.py" "$tmp/port" >"$tmp/srv.log" 2>&1 &
srv_pid=$!
for _ in $(seq 100); do
	[ -s "$tmp/port" ] && break
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.05
done
[ -s "$tmp/port" ] || fail "the server did not start: $(cat "$tmp/srv.log")"
port=$(cat "$tmp/port")

# check WHAT ARGS...: one probe from the client's namespace, JSON in $tmp/out.
check() {
	FAIL_WHAT=$1
	shift
	ip netns exec "$ns_cli" timeout 20 "$MAILPULSE" check --json --timeout 5 --starttls no \
		"$@" >"$tmp/out" 2>"$tmp/err"
}
expect() { jq -e "$2" "$tmp/out" >/dev/null 2>&1 || fail "$1: not true: $2"; }

check "RFC 6874 URL" "imap://[fe80::2%25mpll0]:$port"
expect "up" '.status == "up"'
expect "canonical target" ".target == \"imap://[fe80::2%25mpll0]:$port\""
expect "address with its zone" ".address == \"[fe80::2%mpll0]:$port\""

check "plain % URL" "imap://[FE80::2%mpll0]:$port/"
expect "up" '.status == "up"'
expect "canonical target" ".target == \"imap://[fe80::2%25mpll0]:$port\""

check "--resolve" "imap://mail.test:$port" --resolve "mail.test:[fe80::2%mpll0]"
expect "up" '.status == "up"'
expect "address with its zone" ".address == \"[fe80::2%mpll0]:$port\""

# Without its zone a link-local address names no link: the kernel refuses.
check "no zone" "imap://[fe80::2]:$port"
expect "down" '.status == "down" and .reason == "unreachable"'

check "unknown interface" "imap://[fe80::2%25nosuch0]:$port"
expect "down, unreachable" '.status == "down" and .reason == "unreachable"'
expect "says why" '.message | contains("no network interface \"nosuch0\"")'

check "unknown interface in --resolve" "imap://mail.test:$port" --resolve \
	"mail.test:fe80::2%nosuch0,[fe80::2%mpll0]"
expect "up through the other address" '.status == "up"'
expect "the skipped one said" '.warnings | any(contains("no network interface \"nosuch0\""))'

grep -q "connection from ('fe80::1'" "$tmp/srv.log" || fail "the server saw no connection from fe80::1"
echo "PASS link_local: probes over [fe80::2%mpll0] (namespaces $ns_cli, $ns_srv)"
