#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# run_scenario.sh SCENARIO [MAILPULSE]
#
# Plays one hostile scenario: makes test certificates when the scenario
# needs them, starts fakesrv on an ephemeral port, runs
# `mailpulse check --json URL ARGS` against it and checks the JSON against
# the scenario's "# expect-...:" headers (see README.md).
#
# Environment: MAILPULSE, FAKESRV, CERTGEN (paths to the binaries);
# KEEP=1 keeps the temporary directory. Exit 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/jq.sh"

scn=${1:?usage: run_scenario.sh SCENARIO [MAILPULSE]}
MAILPULSE=${2:-${MAILPULSE:-}}
FAKESRV=${FAKESRV:-}
CERTGEN=${CERTGEN:-}
name=$(basename "$scn" .scn)

die() { echo "run_scenario: $name: $*" >&2; exit 1; }
[ -f "$scn" ] || die "no such scenario: $scn"
[ -x "$MAILPULSE" ] || die "MAILPULSE not set or not executable: '$MAILPULSE'"
[ -x "$FAKESRV" ] || die "FAKESRV not set or not executable: '$FAKESRV'"
command -v jq >/dev/null || die "jq is needed"

# Header values: "# key: value". header KEY prints the first, headers KEY all.
header() { sed -n "s/^# $1:[[:space:]]*//p" "$scn" | head -n 1; }
headers() { sed -n "s/^# $1:[[:space:]]*//p" "$scn"; }

url=$(header url)
args=$(header args)
want_status=$(header expect-status)
want_reason=$(header expect-reason)
want_message=$(header expect-message)
max_seconds=$(header max-seconds)
max_conns=$(header max-conns)
lifetime=$(header lifetime)
repeat=$(header repeat)
repeat=${repeat:-1}
[ -n "$url" ] || die "missing '# url:' header"
[ -n "$want_status" ] || die "missing '# expect-status:' header"
[ -n "$want_reason" ] || die "missing '# expect-reason:' header"
case $repeat in '' | *[!0-9]* | 0) die "repeat: want a positive number, got '$repeat'" ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-fault-$name.XXXXXX") || die "mktemp failed"
srv_pid=
cleanup() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "run_scenario: $name: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The standard certificate set; a scenario picks one with "cert NAME.crt".
# Offsets are seconds from now; "days_left" counts whole days, so the
# expiring leaves get an extra hour to keep them off a day boundary.
make_certs() {
	local d=$tmp/certs day=86400 year=31536000
	mkdir -p "$d"
	gen() { "$CERTGEN" "$@" >>"$tmp/certgen.log" 2>&1 || die "certgen $* failed: $(cat "$tmp/certgen.log")"; }
	local san=DNS:localhost,IP:127.0.0.1
	gen --out "$d/ca" --cn "mailpulse test CA" --ca --from -$day --to $((10 * year))
	gen --out "$d/good" --cn localhost --san $san --issuer "$d/ca" --from -$day --to $year
	gen --out "$d/selfsigned" --cn localhost --san $san --from -$day --to $year
	gen --out "$d/expired" --cn localhost --san $san --issuer "$d/ca" \
		--from -$((60 * day)) --to -$day
	gen --out "$d/notyet" --cn localhost --san $san --issuer "$d/ca" \
		--from $day --to $year
	gen --out "$d/wronghost" --cn other.example --san DNS:other.example --issuer "$d/ca" \
		--from -$day --to $year
	gen --out "$d/exp5" --cn localhost --san $san --issuer "$d/ca" \
		--from -$((60 * day)) --to $((5 * day + 3600))
	gen --out "$d/exp10" --cn localhost --san $san --issuer "$d/ca" \
		--from -$((60 * day)) --to $((10 * day + 3600))
	gen --out "$d/acme20" --cn localhost --san $san --issuer "$d/ca" \
		--from -$((70 * day)) --to $((20 * day + 3600))
	gen --out "$d/inter" --cn "mailpulse test intermediate" --ca --issuer "$d/ca" \
		--from -$day --to $((5 * year))
	# Public CAs say where their intermediates live (AIA caIssuers); that
	# is what lets mailpulse tell a missing intermediate from an unknown CA.
	gen --out "$d/leafinter" --cn localhost --san $san --issuer "$d/inter" \
		--aia http://ca.invalid/intermediate.crt --from -$day --to $year
	gen --out "$d/otherca" --cn "mailpulse unknown CA" --ca --from -$day --to $((10 * year))
	gen --out "$d/otherleaf" --cn localhost --san $san --issuer "$d/otherca" \
		--from -$day --to $year
}

certs=$tmp/certs
if grep -Eq '^[[:space:]]*(cert|chain|key)[[:space:]]|\{certs\}' "$scn"; then
	if [ -z "$CERTGEN" ] || [ ! -x "$CERTGEN" ]; then
		echo "run_scenario: $name: SKIP: needs certgen (CERTGEN not set)" >&2
		exit 77
	fi
	make_certs
fi

port_file=$tmp/port
log=$tmp/fakesrv.log
"$FAKESRV" --port-file "$port_file" --certs "$certs" \
	--max-conns $((${max_conns:-1} * repeat)) --lifetime "${lifetime:-25}" "$scn" 2>"$log" &
srv_pid=$!
for _ in $(seq 100); do
	[ -s "$port_file" ] && break
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.05
done
[ -s "$port_file" ] || { cat "$log" >&2; die "fakesrv did not start"; }
port=$(cat "$port_file")

subst() { local s=${1//\{port\}/$port}; printf '%s' "${s//\{certs\}/$certs}"; }
url=$(subst "$url")
# Words split on blanks; "a double-quoted group" is one word, quotes
# dropped (--expect-capability "SASL PLAIN"). No escapes.
split_args() {
	local s=$1 w= c i q=0 have=0
	argv=()
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		if [ $q = 1 ]; then
			if [ "$c" = '"' ]; then q=0; else w+=$c; fi
		elif [ "$c" = '"' ]; then
			q=1 have=1
		elif [[ $c == [[:blank:]] ]]; then
			[ $have = 1 ] && argv+=("$w")
			w= have=0
		else
			w+=$c have=1
		fi
	done
	[ $q = 0 ] || die "args: unbalanced double quote"
	[ $have = 1 ] && argv+=("$w")
	return 0
}
split_args "$(subst "$args")"
# "# env: NAME=VALUE" headers: the check's environment (MAILPULSE_PASSWORD).
envv=()
while IFS= read -r kv; do
	[ -n "$kv" ] || continue
	case $kv in [A-Za-z_]*=*) ;; *) die "env: want NAME=VALUE, got '$kv'" ;; esac
	envv+=("$(subst "$kv")")
done < <(headers env)

problems=()
problem() { problems+=("${run_tag}$*"); }

# One run of the check, judged; with "# repeat: N" the same judgement N
# times against one fakesrv (for behaviour that shows only in some runs).
# The first failing run is the one shown.
run_tag=
shown_run=
for run in $(seq "$repeat"); do
	[ "$repeat" -gt 1 ] && run_tag="run $run/$repeat: "
	nprob=${#problems[@]}
	out=$tmp/out.$run.json
	t0=$(date +%s%N)
	env "${envv[@]}" timeout 25 "$MAILPULSE" check --json "$url" "${argv[@]}" >"$out" 2>"$tmp/mailpulse.$run.err"
	rc=$?
	t1=$(date +%s%N)
	elapsed_ms=$(((t1 - t0) / 1000000))

	if [ $rc -ge 124 ]; then
		problem "mailpulse exited with $rc (timeout or crash)"
	fi
	json=$(tail -n 1 "$out")
	if ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$json"; then
		problem "mailpulse did not print one JSON object"
	else
		status=$(jq -r '.status' <<<"$json")
		reason=$(jq -r '.reason' <<<"$json")
		message=$(jq -r '.message // ""' <<<"$json")
		[ "$status" = "$want_status" ] || problem "status: want $want_status, got $status"
		# expect-reason may list alternatives: "protocol_error|greeting_mismatch".
		case "|$want_reason|" in
		*"|$reason|"*) ;;
		*) problem "reason: want $want_reason, got $reason" ;;
		esac
		if [ -n "$want_message" ]; then
			jq -e --arg m "$want_message" '(.message // "") | ascii_downcase | contains($m | ascii_downcase)' \
				>/dev/null <<<"$json" || problem "message: want it to contain '$want_message', got '$message'"
		fi
		while IFS= read -r expr; do
			[ -n "$expr" ] || continue
			jq -e "$expr" >/dev/null 2>&1 <<<"$json" || problem "jq: not true: $expr"
		done < <(headers expect-jq)
	fi
	if [ -n "$max_seconds" ]; then
		awk -v e="$elapsed_ms" -v m="$max_seconds" 'BEGIN { exit !(e <= m * 1000) }' ||
			problem "took ${elapsed_ms} ms, more than max-seconds $max_seconds"
	fi
	if [ ${#problems[@]} -gt "$nprob" ] && [ -z "$shown_run" ]; then
		shown_run=$run
		shown_json=$json
		shown_rc=$rc
		shown_ms=$elapsed_ms
	fi
done
run_tag=

# Give fakesrv a moment to finish its script (it may still be reading what
# the client sent last) and collect its verdict.
srv_rc=running
for _ in $(seq 40); do
	if ! kill -0 "$srv_pid" 2>/dev/null; then
		wait "$srv_pid"
		srv_rc=$?
		srv_pid=
		break
	fi
	sleep 0.05
done

if [ "$srv_rc" = 2 ] || grep -q '^fakesrv: FAIL:' "$log"; then
	problem "fakesrv: the client broke the script: $(grep -m1 '^fakesrv: FAIL:' "$log")"
elif [ "$srv_rc" = 1 ]; then
	problem "fakesrv failed (setup error)"
fi

if [ ${#problems[@]} -eq 0 ]; then
	if [ "$repeat" -gt 1 ]; then
		echo "PASS $name: $repeat runs, the last $status/$reason in ${elapsed_ms} ms: $message"
	else
		echo "PASS $name: $status/$reason in ${elapsed_ms} ms: $message"
	fi
	exit 0
fi
# The run shown: the first that failed, else the last (fakesrv's verdict).
run=${shown_run:-$repeat}
json=${shown_json:-$json}
rc=${shown_rc:-$rc}
elapsed_ms=${shown_ms:-$elapsed_ms}
{
	echo "FAIL $name ($scn)"
	for p in "${problems[@]}"; do echo "  - $p"; done
	[ "$repeat" -gt 1 ] && echo "--- run $run of $repeat:"
	echo "--- command: ${envv[*]}${envv[*]:+ }$MAILPULSE check --json $url ${argv[*]} (exit $rc, ${elapsed_ms} ms)"
	echo "--- json:"
	jq . <<<"$json" 2>/dev/null || cat "$tmp/out.$run.json"
	echo "--- mailpulse stderr:"
	head -c 4000 "$tmp/mailpulse.$run.err"
	echo "--- fakesrv log (exit $srv_rc):"
	head -c 8000 "$log"
} >&2
exit 1
