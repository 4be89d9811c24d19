#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# http.tls_cert / tls_key as `mailpulse config check` and `mailpulse run`
# see them, with files made now (a key's mode, a key that matches, cannot
# be kept in the source tree): each bad case is a file:line:col error
# naming the file and what is wrong with it; the daemon refuses to start
# on one; a key readable by its group passes, one readable by every user
# does not; `config check -v` names the files and shows no key material.
# (The cases that need no generated file are in tests/conf/bad/tls_*.)
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "openssl not found: skipped"; exit 77; }

"$CERTGEN" --out "$tmp/ca" --cn "mp https test CA" --ca >/dev/null || fail "certgen CA"
for n in srv other; do
	"$CERTGEN" --out "$tmp/$n" --cn localhost --issuer "$tmp/ca" --san DNS:localhost \
		>/dev/null || fail "certgen $n"
done

# conf CERT KEY: a configuration with the http section on line 3.
conf() {
	cat >"$tmp/mp.yaml" <<YAML
location: e2e
store: $tmp/mp.db
http: {listen: "127.0.0.1:1", tls_cert: "$1", tls_key: "$2"}
checks:
  - {name: a, url: "pop3://127.0.0.1:1"}
YAML
}
# refused MESSAGE: config check exits 1 with exactly one error, on line 3, ending in MESSAGE.
refused() {
	"$MAILPULSE" config check "$tmp/mp.yaml" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	[ "$rc" = 1 ] || fail "config check exited $rc, want 1 (for: $1)"
	[ "$(wc -l <"$tmp/err")" = 1 ] || fail "not one error: $(cat "$tmp/err")"
	grep -qF "$tmp/mp.yaml:3:" "$tmp/err" || fail "no file:line:col on line 3: $(cat "$tmp/err")"
	grep -Eq "^$tmp/mp\.yaml:3:[0-9]+: " "$tmp/err" || fail "not file:line:col: $(cat "$tmp/err")"
	grep -qF -- "$1" "$tmp/err" || fail "want '$1', got: $(cat "$tmp/err")"
	grep -qE 'MI[A-Za-z0-9+/]{20}' "$tmp/err" && fail "PEM text in an error: $(cat "$tmp/err")"
	return 0
}

conf "$tmp/srv.crt" "$tmp/srv.key"
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "a good certificate and key refused"
"$MAILPULSE" config check -v "$tmp/mp.yaml" >"$tmp/dump" || fail "config check -v"
grep -qx "  tls_cert: $tmp/srv.crt" "$tmp/dump" || fail "-v does not show tls_cert: $(grep tls "$tmp/dump")"
grep -qx "  tls_key: $tmp/srv.key" "$tmp/dump" || fail "-v does not show tls_key"
grep -qE 'MI[A-Za-z0-9+/]{20}' "$tmp/dump" && fail "PEM text in the dump"

# The key of another certificate.
conf "$tmp/srv.crt" "$tmp/other.key"
refused "tls_key $tmp/other.key: not the key of the certificate in tls_cert $tmp/srv.crt"

# Readable by every user: refused; by the group only (Debian's ssl-cert): fine.
cp "$tmp/srv.key" "$tmp/open.key"
chmod 644 "$tmp/open.key"
conf "$tmp/srv.crt" "$tmp/open.key"
refused "tls_key $tmp/open.key: readable by every user (mode 0644): a private key must not be"
chmod 640 "$tmp/open.key"
"$MAILPULSE" config check "$tmp/mp.yaml" >/dev/null || fail "a key of mode 0640 refused"

# Missing, a directory, not PEM, encrypted, a certificate given as the key.
conf "$tmp/srv.crt" "$tmp/nope.key"
refused "tls_key $tmp/nope.key: No such file or directory"
conf "$tmp" "$tmp/srv.key"
refused "tls_cert $tmp: is a directory, not a PEM file"
conf "$tmp/mp.db-nope" "$tmp/srv.key"
refused "tls_cert $tmp/mp.db-nope: No such file or directory"
echo "just text" >"$tmp/text.crt"
conf "$tmp/text.crt" "$tmp/srv.key"
refused "tls_cert $tmp/text.crt: not a PEM certificate (no -----BEGIN CERTIFICATE----- block)"
openssl pkey -in "$tmp/srv.key" -aes256 -passout pass:secret-pass -out "$tmp/enc.key" 2>/dev/null ||
	fail "openssl pkey"
chmod 600 "$tmp/enc.key"
conf "$tmp/srv.crt" "$tmp/enc.key"
refused "tls_key $tmp/enc.key: the key is encrypted and the daemon cannot ask for a passphrase"
cp "$tmp/srv.crt" "$tmp/cert-as.key"
chmod 600 "$tmp/cert-as.key"
conf "$tmp/srv.crt" "$tmp/cert-as.key"
refused "tls_key $tmp/cert-as.key: not a PEM private key"

# A chain whose second block is broken.
{ cat "$tmp/srv.crt"; printf -- '-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n'; } \
	>"$tmp/broken-chain.crt"
conf "$tmp/broken-chain.crt" "$tmp/srv.key"
refused "tls_cert $tmp/broken-chain.crt: a certificate in it is not valid PEM"

# A certificate OpenSSL will not serve at its default security level (a 1024-bit RSA key).
openssl req -x509 -newkey rsa:1024 -nodes -subj /CN=weak -days 2 -keyout "$tmp/weak.key" \
	-out "$tmp/weak.crt" 2>/dev/null || fail "openssl req"
chmod 600 "$tmp/weak.key"
conf "$tmp/weak.crt" "$tmp/weak.key"
refused "tls_cert $tmp/weak.crt: OpenSSL will not serve this certificate: ee key too small"

# The daemon refuses to start on such a file, saying why.
conf "$tmp/srv.crt" "$tmp/other.key"
"$MAILPULSE" run -c "$tmp/mp.yaml" >"$tmp/daemon.log" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "the daemon started (or failed otherwise: $rc) with a mismatched key"
grep -q "tls_key $tmp/other.key: not the key of the certificate" "$tmp/daemon.log" ||
	fail "the daemon does not say why it refused"
echo "http tls_conf: ok"
