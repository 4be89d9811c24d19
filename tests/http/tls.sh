#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The HTTP listener over TLS (http.tls_cert / tls_key), with certificates
# made now by certgen. curl trusting the test CA reads the API, /metrics
# and the dashboard; curl trusting another CA fails verification; TLS 1.1
# and a TLS 1.2 renegotiation are refused; a plain HTTP request on the TLS
# port is closed, logged at debug level, and the daemon goes on serving.
# 200 connections that never finish the handshake (half silent, half
# stopped inside the ClientHello) are closed by the request deadline,
# while probes go on being stored and /healthz answers. A reload serves a
# renewed certificate found under the same file names; a reload with a key
# that does not match, or a certificate that is not PEM, is refused and
# the old certificate stays. The daemon then stops cleanly.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "openssl not found: skipped"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }

"$CERTGEN" --out "$tmp/ca" --cn "mp https test CA" --ca >/dev/null || fail "certgen CA"
"$CERTGEN" --out "$tmp/other-ca" --cn "some other CA" --ca >/dev/null || fail "certgen other CA"
mkcert() { # mkcert PREFIX: a server certificate for localhost and 127.0.0.1
	"$CERTGEN" --out "$1" --cn localhost --issuer "$tmp/ca" --san DNS:localhost,IP:127.0.0.1 \
		>/dev/null || fail "certgen $1"
}
mkcert "$tmp/srv"
mkcert "$tmp/srv2"
mkcert "$tmp/stranger"
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
# The fingerprint of the certificate the daemon serves now.
served_fp() {
	openssl s_client -connect "127.0.0.1:$hp" -servername localhost </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'
}
fp1=$(fp_of "$tmp/srv.crt")
fp2=$(fp_of "$tmp/srv2.crt")
[ -n "$fp1" ] && [ "$fp1" != "$fp2" ] || fail "test certificates unusable ($fp1 / $fp2)"

# The files the configuration names; a reload reads them again.
cp "$tmp/srv.crt" "$tmp/http.crt"
cp "$tmp/srv.key" "$tmp/http.key"
chmod 600 "$tmp/http.key"

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
write_conf "$tmp/mp.yaml" "{listen: \"127.0.0.1:$hp\", tls_cert: $tmp/http.crt, tls_key: $tmp/http.key}"
start_daemon "$tmp/mp.yaml"
base=https://127.0.0.1:$hp
tcurl() { curl -s --cacert "$tmp/ca.crt" "$@"; }
wait_for 10 "daemon serving /healthz over TLS" tcurl -f "$base/healthz"
grep -q "http: listening on 127.0.0.1:$hp (TLS)" "$tmp/daemon.log" || fail "TLS listener not logged"
grep -q "http: TLS certificate CN=localhost, SHA-256 $fp1, valid until " "$tmp/daemon.log" ||
	fail "the certificate served is not logged with its fingerprint"

# The API and /metrics over verified TLS, by IP and by name.
tcurl -f -o "$tmp/checks.json" "$base/api/v1/checks" || fail "GET /api/v1/checks over TLS failed"
jq -e '.checks | length == 2' "$tmp/checks.json" >/dev/null || fail "not 2 checks: $(head -c 300 "$tmp/checks.json")"
tcurl -f --resolve "localhost:$hp:127.0.0.1" -o "$tmp/metrics" "https://localhost:$hp/metrics" ||
	fail "GET /metrics over TLS failed"
grep -q '^mailpulse_http_connections ' "$tmp/metrics" || fail "/metrics over TLS has no figures"
[ "$(served_fp)" = "$fp1" ] || fail "s_client sees another certificate than srv.crt"
# The dashboard over HTTPS, and its POST run from its own https:// origin.
[ "$(tcurl -o "$tmp/page" -w '%{http_code} %{content_type}' "$base/")" = "200 text/html; charset=utf-8" ] ||
	fail "the dashboard over TLS: $(head -c 200 "$tmp/page")"
[ "$(tcurl -o /dev/null -w '%{http_code}' "$base/static/app.js")" = 200 ] || fail "app.js over TLS"
[ "$(tcurl -o "$tmp/run" -w '%{http_code}' -X POST -H "Origin: $base" "$base/api/v1/checks/pop-ok/run")" = 202 ] ||
	fail "POST run from the https:// origin: $(head -c 300 "$tmp/run")"
[ "$(tcurl -o /dev/null -w '%{http_code}' -X POST -H "Origin: https://evil.example" "$base/api/v1/checks/pop-ok/run")" = 403 ] ||
	fail "POST run from another origin over TLS not refused"

# Another CA: verification fails (curl exit 60), nothing is served.
curl -s --cacert "$tmp/other-ca.crt" -o /dev/null "$base/healthz"
rc=$?
[ "$rc" = 60 ] || fail "curl trusting another CA exited $rc, want 60 (certificate verification failed)"

# TLS 1.1 is refused; 1.2 and 1.3 are served.
echo | openssl s_client -connect "127.0.0.1:$hp" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
	>"$tmp/tls11.out" 2>&1 && fail "a TLS 1.1 handshake succeeded"
for v in 1.2 1.3; do
	tcurl -f -o /dev/null --tlsv$v --tls-max $v "$base/healthz" || fail "TLS $v refused"
done

# A TLS 1.2 client asking to renegotiate is refused.
out=$( (printf 'R\n'; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$hp" -tls1_2 \
	-CAfile "$tmp/ca.crt" 2>&1)
grep -q RENEGOTIATING <<<"$out" || fail "s_client did not ask to renegotiate: $out"
grep -q 'no renegotiation' <<<"$out" || fail "a TLS 1.2 renegotiation was not refused: $out"

# Plain HTTP on the TLS port: closed without a reply, a debug line, and the daemon serves on.
out=$(curl -s -m 5 "http://127.0.0.1:$hp/healthz")
rc=$?
[ "$rc" != 0 ] && [ -z "$out" ] || fail "plain HTTP on the TLS port got an answer (rc $rc): $out"
wait_for 5 "the plain request logged" grep -q \
	'debug: http: TLS connection from 127\.0\.0\.1 closed: plain HTTP sent to the TLS port' \
	"$tmp/daemon.log"
[ "$(tcurl "$base/healthz")" = ok ] || fail "/healthz over TLS after a plain request"
kill -0 "$daemon_pid" || fail "the daemon died"

# 200 connections that never finish the handshake: probes and /healthz go on; the deadline closes them.
wait_for 15 "pop-ok up" bash -c "curl -s --cacert '$tmp/ca.crt' '$base/api/v1/checks/pop-ok' | jq -e '.state == \"up\"'"
probed() { tcurl "$base/api/v1/checks/pop-ok" | jq '.probes'; }
probes0=$(probed)
stall_from=$(date +%s%3N)
python3 "$here/tls_stall.py" --port "$hp" --from 127.0.0.2:50 --from 127.0.0.3:50 \
	--from 127.0.0.4:50 --from 127.0.0.5:50 --seconds 20 >"$tmp/stall.json" 2>"$tmp/stall.err" &
stall=$!
pids+=("$stall")
sleep 2
open_now=$(tcurl "$base/metrics" | sed -n 's/^mailpulse_http_connections \([0-9]*\)$/\1/p')
[ -n "$open_now" ] && [ "$open_now" -ge 200 ] ||
	fail "the stalled handshakes do not count as open connections (${open_now:-none})"
asked=0 answered=0
while [ $asked -lt 5 ]; do
	asked=$((asked + 1))
	[ "$(tcurl -m 5 "$base/healthz")" = ok ] && answered=$((answered + 1))
	sleep 1
done
[ "$answered" -eq "$asked" ] || fail "/healthz answered $answered of $asked requests during the stall"
wait "$stall" || fail "tls_stall.py failed: $(cat "$tmp/stall.err")"
stall_to=$(date +%s%3N)
echo "stall: $(cat "$tmp/stall.json")"
jq -e '.opened == 200 and .closed == 200 and .silent_closed == 100 and .partial_closed == 100' \
	"$tmp/stall.json" >/dev/null || fail "not every stalled handshake was closed: $(cat "$tmp/stall.json")"
jq -e '.first_close_s >= 8 and .last_close_s <= 14' "$tmp/stall.json" >/dev/null ||
	fail "stalled handshakes not closed by the 10 s deadline: $(cat "$tmp/stall.json")"
probes1=$(probed)
[ "$probes1" -ge $((probes0 + 4)) ] || fail "probes stalled during the handshake stall ($probes0 -> $probes1)"
[ "$(tcurl "$base/api/v1/checks/pop-ok" | jq -r '.last.status')" = up ] || fail "pop-ok's last probe is not up"
# ... and stored: results of the stall's window are in the store, every one up.
sleep 2 # the store's write queue flushes every second
"$MAILPULSE" history pop-ok --store "$tmp/mp.db" --json --limit 10000 >"$tmp/hist.json" ||
	fail "history unreadable"
jq -e --argjson a "$stall_from" --argjson b "$stall_to" \
	'[.results[] | select(.ts_ms >= $a and .ts_ms <= $b)] | length >= 4 and all(.status == "up")' \
	"$tmp/hist.json" >/dev/null ||
	fail "results of the stall's window not stored, or not up: $(jq -c --argjson a "$stall_from" '[.results[] | select(.ts_ms >= $a) | .status]' "$tmp/hist.json")"
grep -q 'http: connection from 127\.0\.0\.[2-5] closed: no TLS handshake completed within 10 s' \
	"$tmp/daemon.log" || fail "the stalled handshakes are not logged"
tcurl "$base/metrics" | grep -Eq '^mailpulse_http_connections_limited_total\{limit="deadline"\} [1-9]' ||
	fail "the stalled handshakes are not counted under the deadline"

# A reload with a renewed certificate under the same names serves it.
cp "$tmp/srv2.crt" "$tmp/http.crt"
cp "$tmp/srv2.key" "$tmp/http.key"
lines=$(wc -l <"$tmp/daemon.log")
kill -HUP "$daemon_pid"
wait_for 10 "the new certificate logged" grep -q "http: TLS certificate CN=localhost, SHA-256 $fp2" "$tmp/daemon.log"
[ "$(served_fp)" = "$fp2" ] || fail "after the reload, s_client does not see the new certificate"
[ "$(tcurl "$base/healthz")" = ok ] || fail "/healthz over TLS after the reload"

# A key that is not the certificate's: refused whole, the served certificate stays.
cp "$tmp/stranger.key" "$tmp/http.key"
lines=$(wc -l <"$tmp/daemon.log")
kill -HUP "$daemon_pid"
wait_for 10 "the reload refused" bash -c "tail -n +$((lines + 1)) '$tmp/daemon.log' | grep -q 'reload refused'"
tail -n +"$((lines + 1))" "$tmp/daemon.log" >"$tmp/reload2.log"
grep -q "tls_key $tmp/http.key: not the key of the certificate in tls_cert $tmp/http.crt" "$tmp/reload2.log" ||
	fail "the refused reload does not say why: $(cat "$tmp/reload2.log")"
grep -q 'reload refused: the running configuration stays' "$tmp/reload2.log" ||
	fail "the refusal does not say the running configuration stays"
[ "$(served_fp)" = "$fp2" ] || fail "a refused reload changed the certificate served"
[ "$(tcurl "$base/healthz")" = ok ] || fail "/healthz over TLS after a refused reload"

# A certificate file that is not PEM: refused the same way.
cp "$tmp/srv2.key" "$tmp/http.key"
echo "not a certificate" >"$tmp/http.crt"
lines=$(wc -l <"$tmp/daemon.log")
kill -HUP "$daemon_pid"
wait_for 10 "the reload refused" bash -c "tail -n +$((lines + 1)) '$tmp/daemon.log' | grep -q 'reload refused'"
tail -n +"$((lines + 1))" "$tmp/daemon.log" | grep -q "tls_cert $tmp/http.crt: not a PEM certificate" ||
	fail "the refused reload does not name the certificate"
[ "$(served_fp)" = "$fp2" ] || fail "a refused reload changed the certificate served"

grep -qF "$(sed -n 2p "$tmp/srv.key")" "$tmp/daemon.log" && fail "key material in the log"
kill -0 "$daemon_pid" || fail "the daemon died"
# A clean stop with connections made under three certificates (under ASan: no leak, no error).
kill "$daemon_pid"
wait "$daemon_pid"
rc=$?
[ "$rc" = 0 ] || fail "the daemon exited $rc on SIGTERM"
grep -Eq 'Sanitizer|runtime error' "$tmp/daemon.log" && fail "a sanitizer reported something"
echo "http tls: ok"
