#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# `mailpulse check --format` against the fake servers: a POP3S server with a
# test CA (TLS and certificate fields), a refused port, a greeting with
# hostile bytes; one line per URL in argument order; exit codes unchanged;
# usage errors name the field and exit 3.
. "$(dirname "$0")/../daemon/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

"$CERTGEN" --out "$tmp/ca" --cn "mp test CA" --ca >/dev/null
"$CERTGEN" --out "$tmp/leaf" --cn localhost --issuer "$tmp/ca" \
	--san DNS:localhost,IP:127.0.0.1 >/dev/null
tls_port=$(free_port)
"$FAKESRV" --port "$tls_port" --certs "$tmp" --max-conns 100 --lifetime 60 \
	"$here/../daemon/pop3s_ok.scn" 2>>"$tmp/fakesrv.log" &
pids+=("$!")
wait_for 5 "TLS server on $tls_port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$tls_port"
cat >"$tmp/hostile.scn" <<'SCN'
send "+OK \x1b[31mred\x07 ready\r\n"
maybe_expect "CAPA"
send "+OK\r\nUSER\r\n.\r\n"
maybe_expect "QUIT"
send "+OK bye\r\n"
close
SCN
hostile_port=$(free_port)
"$FAKESRV" --port "$hostile_port" --max-conns 100 --lifetime 60 "$tmp/hostile.scn" \
	2>>"$tmp/fakesrv.log" &
pids+=("$!")
wait_for 5 "hostile server on $hostile_port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$hostile_port"

fmt='%{url}|%{status}|%{severity}|%{reason}|%{exit_code}|%{tls_version}|%{cert_days_left}|%{cert_not_after}|%{address}|\t100%%\n'
"$MAILPULSE" check --timeout 5 --starttls no --ca-file "$tmp/ca.crt" --format "$fmt" \
	"pop3s://127.0.0.1:$tls_port" "pop3://127.0.0.1:1" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "exit $rc with one URL refused, want 2 (stderr: $(cat "$tmp/err"))"
[ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "want one line per URL: $(cat -A "$tmp/out")"
IFS='|' read -r url st sev why code tlsv days notafter addr pct < <(sed -n 1p "$tmp/out")
[ "$url|$st|$sev|$why|$code" = "pop3s://127.0.0.1:$tls_port|up|ok|ok|0" ] ||
	fail "first line: $(sed -n 1p "$tmp/out" | cat -A)"
case $tlsv in TLSv1.[23]) ;; *) fail "tls_version '$tlsv'" ;; esac
[[ $days =~ ^[0-9]+$ ]] || fail "cert_days_left '$days'"
[[ $notafter =~ ^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]{8}Z$ ]] || fail "cert_not_after '$notafter'"
[ "$addr" = "127.0.0.1:$tls_port" ] || fail "address '$addr'"
[ "$pct" = $'\t100%' ] || fail "\\t100%% gave '$pct'"
# Same figures as the JSON of the same server. The certificate was made this
# second with a 90-day life: a second later its whole days left may be one less.
"$MAILPULSE" check --timeout 5 --ca-file "$tmp/ca.crt" --json "pop3s://127.0.0.1:$tls_port" \
	>"$tmp/json" || fail "json check exited $?"
jq -e --argjson d "$days" --arg na "$notafter" --arg v "$tlsv" \
	'(.tls.days_left - $d) as $x | ($x == 0 or $x == -1) and .tls.not_after == $na and
	 .tls.version == $v' "$tmp/json" >/dev/null ||
	fail "--format and --json disagree: $days $notafter $tlsv vs $(cat "$tmp/json")"
IFS='|' read -r url st sev why code tlsv days notafter addr pct < <(sed -n 2p "$tmp/out")
[ "$url|$st|$sev|$why|$code|$tlsv|$days|$notafter" = "pop3://127.0.0.1:1|down|critical|refused|2|||" ] ||
	fail "second line: $(sed -n 2p "$tmp/out" | cat -A)"

# Timings are numbers; a value that does not apply is empty.
"$MAILPULSE" check --timeout 5 --starttls no \
	--format '%{time_to_greeting_ms}|%{time_connect_ms}|%{time_total_ms}|%{time_tls_ms}|%{greeting}' \
	"pop3://127.0.0.1:$hostile_port" >"$tmp/out2" 2>"$tmp/err" || fail "hostile: exit $? $(cat "$tmp/err")"
IFS='|' read -r ttg conn total tlsms greet <"$tmp/out2"
for v in "$ttg" "$conn" "$total"; do
	[[ $v =~ ^[0-9]+\.[0-9]{3}$ ]] || fail "a timing is '$v': $(cat "$tmp/out2")"
done
[ -z "$tlsms" ] || fail "time_tls_ms without TLS is '$tlsms'"
[ -n "$greet" ] || fail "no greeting in: $(cat "$tmp/out2")"
# The server's escape and bell bytes never reach the output raw.
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$tmp/out2"; then
	fail "control bytes of the server in the output: $(cat -A "$tmp/out2")"
fi
grep -qF '+OK \x1b[31mred\x07 ready' "$tmp/out2" || fail "greeting not shown escaped: $(cat -A "$tmp/out2")"
[ "$(tail -c 1 "$tmp/out2" | od -An -c | tr -d ' ')" != '\n' ] || fail "a newline was added without \\n"

# Usage errors: exit 3, the field named, no probe run.
"$MAILPULSE" check --format '%{status} %{bogus_field}' "pop3://127.0.0.1:1" >"$tmp/o" 2>"$tmp/e"
rc=$?
[ $rc -eq 3 ] || fail "unknown field: exit $rc, want 3"
grep -q 'unknown field %{bogus_field}' "$tmp/e" || fail "unknown field not named: $(cat "$tmp/e")"
[ ! -s "$tmp/o" ] || fail "output despite a usage error: $(cat "$tmp/o")"
"$MAILPULSE" check --format 'x\q' "pop3://127.0.0.1:1" >/dev/null 2>"$tmp/e"
[ $? -eq 3 ] && grep -q 'unknown escape' "$tmp/e" || fail "bad escape: $(cat "$tmp/e")"
"$MAILPULSE" check --json --format '%{status}' "pop3://127.0.0.1:1" >/dev/null 2>"$tmp/e"
[ $? -eq 3 ] && grep -q -- '--format excludes --json' "$tmp/e" || fail "--json --format: $(cat "$tmp/e")"
"$MAILPULSE" check --nagios --format '%{status}' "pop3://127.0.0.1:1" >"$tmp/o" 2>"$tmp/e"
[ $? -eq 3 ] && grep -q '^MAILPULSE UNKNOWN' "$tmp/o" || fail "--nagios --format: $(cat "$tmp/o" "$tmp/e")"
echo "dist format_cli: ok"
