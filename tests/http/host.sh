#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The DNS-rebinding guard: without a token, a loopback listener answers
# only a Host that is exactly localhost, 127.0.0.0/8 as a dotted quad or
# [::1] (each with an optional port). Names that merely begin like one
# (127.evil.com, [::1].evil.com) are refused for reading and for running
# probes, and a request with two Host headers is a 400.
. "$(dirname "$0")/lib.sh"

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
write_conf "$tmp/mp.yaml" "{listen: \"127.0.0.1:$hp\"}"
start_http_daemon "$tmp/mp.yaml" "$hp"

for h in localhost "localhost:$hp" LOCALHOST 127.0.0.1 "127.0.0.1:$hp" 127.1.2.3 \
	"[::1]" "[::1]:$hp"; do
	expect_code 200 GET /api/v1/checks -H "Host: $h"
done
expect_code 202 POST /api/v1/checks/pop-ok/run -H "Host: 127.0.0.1:$hp"

for h in 127.evil.com "127.evil.com:$hp" 127.0.0.1.evil.com "127.0.0.1.evil.com:$hp" \
	"[::1].evil.com" "[::1]x" "[::1]evil.com:$hp" localhost.evil.com "localhost.evil.com:$hp" \
	127.0.0.256 0x7f.0.0.1 0177.0.0.1 2130706433 127.1 "127.0.0.1:" "127.0.0.1:99999" \
	"127.0.0.1:$hp.evil.com" "[::2]" evil.example; do
	expect_error 403 GET /api/v1/checks -H "Host: $h"
	expect_error 403 GET /metrics -H "Host: $h"
	expect_error 403 POST /api/v1/checks/pop-ok/run -H "Host: $h"
done
# An empty Host (curl's "Host;" sends the header with no value).
expect_error 403 GET /api/v1/checks -H "Host;"

# Two Host headers, in either order: 400, not whichever comes first.
raw() { # raw BYTES: send, print the status line (or nothing when closed)
	timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$hp"'; printf "%b" "$1" >&3; head -c 200 <&3 | head -n 1' _ "$1" 2>/dev/null | tr -d '\r'
}
line=$(raw 'GET /api/v1/checks HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n')
[[ $line == "HTTP/1.1 400"* ]] || fail "two Host headers (loopback first): '$line'"
line=$(raw 'GET /api/v1/checks HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
[[ $line == "HTTP/1.1 400"* ]] || fail "two Host headers (evil first): '$line'"
line=$(raw 'GET /api/v1/checks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
[[ $line == "HTTP/1.1 200"* ]] || fail "one Host header: '$line'"
# libevent takes "HTTP/1.12" (and 1.-5, 0.9) and echoed it in the status
# line ("HTTP/1.12 200 OK"): found by fuzz/fuzz_http.c. Now 1.2-1.9 are
# answered as 1.1, a malformed minor is a 400, another major a 505.
line=$(raw 'GET /healthz HTTP/1.12\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
[[ $line == "HTTP/1.1 400"* ]] || fail "HTTP/1.12: '$line'"
line=$(raw 'GET /healthz HTTP/1.-5\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
[[ $line == "HTTP/1.1 400"* ]] || fail "HTTP/1.-5: '$line'"
line=$(raw 'GET /healthz HTTP/0.9\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
[[ $line == "HTTP/1.1 505"* ]] || fail "HTTP/0.9: '$line'"
line=$(raw 'GET /healthz HTTP/1.2\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
[[ $line == "HTTP/1.1 200"* ]] || fail "HTTP/1.2: '$line'"
kill -0 "$daemon_pid" || fail "the daemon died"
echo "http host: ok"
