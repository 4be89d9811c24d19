#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# addr_certs.sh: one name, two backends (fakesrv on 127.0.0.1 and 127.0.0.2,
# the same port), each serving its own certificate. `check --all-addresses`
# must give every address its certificate's fingerprint and expiry, and warn
# that the addresses serve different certificates; with the same certificate
# on both, no such warning. And an address left out is still told.
#
# Environment: MAILPULSE, FAKESRV, CERTGEN. Exit 0 pass, 1 fail.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/jq.sh"

die() { echo "addr_certs: FAIL: $*" >&2; exit 1; }
for b in MAILPULSE FAKESRV CERTGEN; do
	[ -x "${!b:-}" ] || die "$b not set or not executable: '${!b:-}'"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-addr-certs.XXXXXX") || die "mktemp failed"
pids=()
stop() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	pids=()
}
trap 'stop; rm -rf "$tmp"' EXIT

"$CERTGEN" --out "$tmp/ca" --cn "addr test CA" --ca >/dev/null || die "certgen ca"
# b is the renewed-on-one-backend-only case: another key, 20 days left.
"$CERTGEN" --out "$tmp/a" --cn mail.test --san DNS:mail.test --issuer "$tmp/ca" \
	--from -86400 --to $((90 * 86400 + 3600)) >/dev/null || die "certgen a"
"$CERTGEN" --out "$tmp/b" --cn mail.test --san DNS:mail.test --issuer "$tmp/ca" \
	--from -86400 --to $((20 * 86400 + 3600)) >/dev/null || die "certgen b"
for c in a b; do
	cat >"$tmp/$c.scn" <<EOF
implicit_tls
cert $c.crt
send "* OK fakesrv ready\r\n"
maybe_expect "CAPABILITY"
send "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
reply "OK CAPABILITY completed"
maybe_expect "LOGOUT"
send "* BYE logging out\r\n"
reply "OK LOGOUT completed"
close
EOF
done
fp() { openssl x509 -in "$tmp/$1.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
fp_a=$(fp a)
fp_b=$(fp b)
[ ${#fp_a} = 64 ] && [ "$fp_a" != "$fp_b" ] || die "fingerprints: '$fp_a' '$fp_b'"

# serve CERT1 CERT2: fakesrv with CERT1 on 127.0.0.1, CERT2 on 127.0.0.2, one port.
serve() {
	rm -f "$tmp/port" "$tmp/port2"
	"$FAKESRV" --port-file "$tmp/port" --certs "$tmp" --lifetime 20 "$tmp/$1.scn" \
		2>>"$tmp/srv.log" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
	port=$(cat "$tmp/port" 2>/dev/null) || die "fakesrv wrote no port"
	"$FAKESRV" --bind 127.0.0.2 --port "$port" --port-file "$tmp/port2" --certs "$tmp" \
		--lifetime 20 "$tmp/$2.scn" 2>>"$tmp/srv.log" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$tmp/port2" ] && break; sleep 0.05; done
	[ -s "$tmp/port2" ] || { cat "$tmp/srv.log" >&2; die "no fakesrv on 127.0.0.2:$port"; }
}

check() {
	"$MAILPULSE" check --json --all-addresses --timeout 5 --ca-file "$tmp/ca.crt" \
		--resolve "mail.test:127.0.0.1,127.0.0.2" "imaps://mail.test:$port" >"$tmp/out" \
		2>"$tmp/err"
	echo "$?" >"$tmp/rc"
	stop
}

want() { jq -e "$1" "$tmp/out" >/dev/null || { cat "$tmp/out" "$tmp/err" >&2; die "$2: $1"; }; }

# Different certificates: every address says which, and the result warns.
serve a b
check
want '.status == "up" and (.addresses | length) == 2' "both addresses up"
jq -e --arg fa "$fp_a" '.addresses[0].cert_sha256 == $fa' "$tmp/out" >/dev/null ||
	die "127.0.0.1 does not say it serves a"
want '.addresses[0].cert_days_left == 90 and .addresses[1].cert_days_left == 20' "days left"
want '.addresses[1].cert_not_after == .addresses[1].leaf_not_after' "a leaf that expires first"
want '.addresses[0].cert_not_after > .addresses[1].cert_not_after' "b expires first"
w="addresses serve different certificates: 127.0.0.1:$port sha256 ${fp_a:0:8}.., 127.0.0.2:$port sha256 ${fp_b:0:8}.."
jq -e --arg fb "$fp_b" '.addresses[1].cert_sha256 == $fb' "$tmp/out" >/dev/null ||
	die "127.0.0.2 does not say it serves b"
jq -e --arg w "$w" '.warnings | index($w) != null' "$tmp/out" >/dev/null ||
	{ cat "$tmp/out" >&2; die "no warning \"$w\""; }

# The same certificate on both: facts, and no warning.
serve a a
check
want '.status == "up" and (.addresses | length) == 2' "both addresses up (same cert)"
want '.addresses[0].cert_sha256 == .addresses[1].cert_sha256' "the same fingerprint"
want '[.warnings[] | select(startswith("addresses serve different"))] | length == 0' \
	"no warning for one certificate"
# A finding of the probe itself (an address left out) is not lost when the
# worst address's result becomes the check's.
"$MAILPULSE" check --json --all-addresses --timeout 2 \
	--resolve 'mail.test:127.0.0.1,fe80::1%nosuchif0' imap://mail.test:1 >"$tmp/out" 2>"$tmp/err"
want '.addresses | length == 1' "one address probed"
want '.warnings | any(startswith("--resolve: no network interface"))' "the skipped address is told"
echo "addr_certs: ok"
