#!/bin/bash
# SPDX-License-Identifier: ISC
# verify.sh - chain verification against the private Dovecot: verdicts
# reused between probes of one process, and the system trust store read
# lazily (hashed directory first, bundle file only when the directory has
# no anchor).
#
#   verify.sh reuse|store CA_FILE
#
# MAILPULSE is the binary (CTest sets it); MP_IMAPS_PORT and MP_IMAP_PORT
# are the Dovecot fixture's ports.

set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/jq.sh"

: "${MAILPULSE:?set MAILPULSE}"
ca=${2:?usage: verify.sh reuse|store CA_FILE}
imaps=${MP_IMAPS_PORT:-11993}
imap=${MP_IMAP_PORT:-11143}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

FAIL_WHAT=$1
. "$(dirname "${BASH_SOURCE[0]}")/../lib/assert.sh"

run() { # mailpulse check arguments; JSON lines in $tmp/out
	timeout -k 5 45 "$MAILPULSE" check --json "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	[ "$rc" -lt 124 ] || fail "mailpulse check did not finish or died (exit $rc)"
}

expect() { # description, jq filter over the array of results (jq -s)
	jq -s -e "$2" "$tmp/out" >/dev/null 2>&1 || fail "$1: $(jq -s -c \
		'[.[] | {target, status, reason, verified: .tls.verified, reused: .tls.verify_reused}]' \
		"$tmp/out" 2>/dev/null)"
}

case $1 in
reuse)
	# One process, three probes of the same server and certificate chain,
	# run concurrently: whichever of the two good ones verifies first does
	# it in full, the other reuses its verdict (same chain, same address,
	# over implicit TLS or STARTTLS). Another host name never reuses it:
	# it is verified anew and fails.
	for i in 1 2 3; do
		run --ca-file "$ca" --starttls require --resolve other.test:127.0.0.1 \
			"imaps://127.0.0.1:$imaps" "imap://127.0.0.1:$imap" "imap://other.test:$imap"
		expect "run $i: three results" 'length == 3'
		expect "run $i: both probes of 127.0.0.1 up and verified" \
			'all(.[0:2][]; .status == "up" and .tls.verified == true)'
		expect "run $i: one verified in full, the other reused its verdict" \
			'[.[0:2][].tls.verify_reused] | sort == [false, true]'
		expect "run $i: another host name is verified anew, and fails" \
			'.[2].status == "down" and .[2].reason == "cert_hostname" and .[2].tls.verify_reused == false'
	done
	# Failures are never reused: both untrusted probes are verified in full.
	empty=$tmp/other-ca
	mkdir -p "$empty"
	SSL_CERT_DIR=$empty SSL_CERT_FILE=$tmp/none run \
		"imaps://127.0.0.1:$imaps" "imaps://127.0.0.1:$imaps"
	expect "untrusted twice: both down, neither reused" \
		'length == 2 and all(.[]; .status == "down" and .reason == "cert_untrusted" and .tls.verify_reused == false)'
	;;
store)
	# The system store is SSL_CERT_DIR (hashed) and SSL_CERT_FILE (bundle).
	command -v openssl >/dev/null || fail "the openssl command is required"
	dir=$tmp/certs
	mkdir -p "$dir"
	cp "$ca" "$dir/mailpulse-test-ca.pem"
	openssl rehash "$dir" 2>"$tmp/err" || fail "openssl rehash failed"
	ls "$dir" | grep -Eq '^[0-9a-f]{8}\.0$' || fail "openssl rehash made no hash link"
	empty=$tmp/empty
	mkdir -p "$empty"

	SSL_CERT_DIR=$dir SSL_CERT_FILE=$tmp/none run "imaps://127.0.0.1:$imaps"
	expect "anchor in the hashed directory, no bundle: verified" \
		'.[0].status == "up" and .[0].tls.verified == true'

	SSL_CERT_DIR=$empty SSL_CERT_FILE=$ca run "imaps://127.0.0.1:$imaps"
	expect "anchor only in the bundle: read lazily, verified" \
		'.[0].status == "up" and .[0].tls.verified == true'

	SSL_CERT_DIR=$empty SSL_CERT_FILE=$tmp/none run "imaps://127.0.0.1:$imaps"
	expect "anchor nowhere: untrusted, with advice" \
		'.[0].status == "down" and .[0].reason == "cert_untrusted" and (.[0].message | test("not trusted"))'

	# The bundle may be a mix: other CAs first, ours last.
	cat /etc/ssl/certs/ca-certificates.crt "$ca" >"$tmp/bundle.pem" 2>/dev/null ||
		cp "$ca" "$tmp/bundle.pem"
	SSL_CERT_DIR=$empty SSL_CERT_FILE=$tmp/bundle.pem run \
		"imaps://127.0.0.1:$imaps" "imaps://127.0.0.1:$imaps"
	expect "a full bundle, read once, both verified" \
		'length == 2 and all(.[]; .status == "up" and .tls.verified == true)'
	;;
*)
	echo "usage: verify.sh reuse|store CA_FILE" >&2
	exit 2
	;;
esac
echo "ok: verify.sh $1"
