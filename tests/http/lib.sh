# SPDX-License-Identifier: ISC
# lib.sh - shared by the HTTP tests: the daemon's helpers (tests/daemon/lib.sh)
# plus a POP3 server, a daemon with its HTTP port, and curl wrappers.
# Needs MAILPULSE and FAKESRV in the environment.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../daemon/lib.sh"

# start_pop3 SCENARIO: sets $pop3_port.
start_pop3() {
	pop3_port=$(free_port)
	"$FAKESRV" --port "$pop3_port" --max-conns 100000 --lifetime 120 "$1" \
		2>>"$tmp/pop3.log" &
	pids+=("$!")
	wait_for 5 "POP3 server on $pop3_port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$pop3_port"
}

# write_conf FILE HTTP_MAPPING: two checks, one healthy and one refused.
write_conf() {
	cat >"$1" <<YAML
location: e2e
store: $tmp/mp.db
http: $2
defaults: {interval: 30s, timeout: 5s, retry: 10s, fail_after: 2, starttls: "no"}
checks:
  - {name: pop-ok, url: "pop3://127.0.0.1:$pop3_port", labels: [env=test, tier=gold]}
  - {name: pop-dead, url: "pop3://127.0.0.1:1", labels: [env=test]}
YAML
	"$MAILPULSE" config check "$1" >/dev/null || fail "config $1 rejected"
}

# start_http_daemon CONFIG PORT: waits until /healthz answers.
start_http_daemon() {
	start_daemon "$1"
	hport=$2
	base=http://127.0.0.1:$hport
	wait_for 10 "daemon serving /healthz on $hport" curl -sf "$base/healthz"
}

# code METHOD PATH [curl args]: the HTTP status code.
code() {
	local m=$1 p=$2
	shift 2
	if [ "$m" = HEAD ]; then
		curl -s -o "$tmp/body" -w '%{http_code}' --head "$@" "$base$p"
	else
		curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" "$@" "$base$p"
	fi
}

# expect_code WANT METHOD PATH [curl args]
expect_code() {
	local want=$1 got
	shift
	got=$(code "$@")
	[ "$got" = "$want" ] || fail "$1 $2: HTTP $got, want $want: $(head -c 300 "$tmp/body")"
}

# expect_error WANT METHOD PATH [curl args]: the code and a JSON {error, detail}.
expect_error() {
	expect_code "$@"
	jq -e '(.error | type == "string") and (.detail | type == "string")' "$tmp/body" \
		>/dev/null || fail "$2 $3: not a JSON error: $(head -c 300 "$tmp/body")"
}

api_state_is() { curl -sf "$base/api/v1/checks/$1" | jq -e --arg s "$2" '.state == $s'; }
