#!/usr/bin/env bash
# bench/run.sh - the probe engine's figures, its floors and its peers.
#
#   bench/run.sh engine    engine per mode, floors (bare C, OpenSSL, raw crypto)
#   bench/run.sh peers     blackbox_exporter, monitoring-plugins, one-shot check
#   bench/run.sh all       both (about 2-3 minutes on 2 cores)
#   bench/run.sh profile   perf (or callgrind) of the engine and the TLS floor
#
# Environment: N (probes per run, 2000), C (in flight, 100), REPS (repeats
# of each engine/floor run whose ratio is a goal, 3: the median is shown), BBN (blackbox
# probes, 1000), PN (one-shot processes per peer, 200), PORT (first port
# of the target, 24100; uses PORT..PORT+39), BUILD (build dir, build-i).
#
# Everything talks to 127.0.0.1 only. With 2+ CPUs and taskset, the target
# server runs on CPU 1 and the client under test on CPU 0. A benchmark,
# not a test: it prints figures and ratios, it never fails on a speed.
# The figures come last, after the versions they were measured against.
set -euo pipefail

WHAT=${1:-all}
case $WHAT in engine | peers | all | profile) ;; *)
	echo "usage: bench/run.sh engine|peers|all|profile" >&2
	exit 2
	;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-i}
N=${N:-2000}
C=${C:-100}
REPS=${REPS:-3}
BBN=${BBN:-1000}
PN=${PN:-200}
PORT=${PORT:-24100}
BBPORT=$((PORT + 20))
NTPORT=$((PORT + 30)) # a second target that sends no TLS session tickets

say() { printf '%s\n' "$*" >&2; }

# ---- build --------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target targetsrv enginebench certgen checkshot >/dev/null
# The real binary links the daemon part too; it may not build while that is in progress.
MAILPULSE=
if cmake --build "$BUILD" -j"$(nproc)" --target mailpulse >/dev/null 2>&1; then
	MAILPULSE=$BUILD/mailpulse
fi
EB=$BUILD/bench/enginebench
TS=$BUILD/bench/targetsrv
CG=$BUILD/tests/certgen/certgen
CHECKSHOT=$BUILD/bench/checkshot

WORK=$(mktemp -d /tmp/mailpulse-bench.XXXXXX)
RES=$WORK/results.txt
: >"$RES"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT

CLI=()
SRV=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	CLI=(taskset -c 0)
	SRV=(taskset -c 1)
fi

# ---- certificates: root -> intermediate -> leaf, ECDSA P-256 and RSA-2048 --
CERTS=$WORK/certs
mkdir -p "$CERTS"
for kt in ec:p256 rsa:rsa2048; do
	n=${kt%%:*} t=${kt##*:}
	"$CG" --out "$CERTS/root-$n" --cn "bench root $n" --ca --key "$t" --to 315360000
	"$CG" --out "$CERTS/int-$n" --cn "bench intermediate $n" --ca --issuer "$CERTS/root-$n" \
		--key "$t" --to 31536000
	"$CG" --out "$CERTS/leaf-$n" --cn mail.bench.test --issuer "$CERTS/int-$n" \
		--san DNS:mail.bench.test --key "$t"
	cat "$CERTS/leaf-$n.crt" "$CERTS/int-$n.crt" >"$CERTS/chain-$n.pem"
done
cat "$CERTS/root-ec.crt" "$CERTS/root-rsa.crt" >"$CERTS/ca.pem"
CA=$CERTS/ca.pem

# Wait (bounded) until a TCP port accepts.
wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	say "nothing listens on 127.0.0.1:$1"
	return 1
}

start_target() { # base-port tickets ready-file
	"${SRV[@]}" "$TS" --port-base "$1" --tickets "$2" --ready "$3" \
		--ec-chain "$CERTS/chain-ec.pem" --ec-key "$CERTS/leaf-ec.key" \
		--rsa-chain "$CERTS/chain-rsa.pem" --rsa-key "$CERTS/leaf-rsa.key" \
		2>>"$WORK/targetsrv.log" &
	PIDS+=($!)
	wait_port "$1"
}
start_target "$PORT" 2 "$WORK/ts.ready"
SPID=$(cat "$WORK/ts.ready")

MODES=(imap imap+starttls imaps pop3 pop3+stls pop3s)
port_of() { # mode [rsa]
	local i
	case $1 in imap) i=0 ;; imap+starttls) i=1 ;; imaps) i=2 ;; pop3) i=3 ;; pop3+stls) i=4 ;; pop3s) i=5 ;; esac
	if [ "${2:-}" = rsa ]; then
		case $1 in imap+starttls) i=6 ;; imaps) i=7 ;; pop3+stls) i=8 ;; pop3s) i=9 ;; esac
	fi
	echo $((PORT + i))
}

run() { # label, then enginebench arguments; R (default 1) repeats it
	local label=$1 i
	shift
	say "  $label x${R:-1}: $*"
	for i in $(seq "${R:-1}"); do
		if ! "${CLI[@]}" "$EB" "$@" --label "$label" >>"$RES" 2>>"$WORK/stderr.log"; then
			say "    (failures: see below)"
			tail -n 2 "$WORK/stderr.log" >&2
		fi
	done
}

# ---- engine and floors --------------------------------------------------
bench_engine() {
	say "crypto floor"
	"${CLI[@]}" "$EB" crypto --iters 3000 >>"$RES"
	say "floors and engine, N=$N C=$C"
	R=$REPS run ec floor --mode imap --port "$(port_of imap)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	R=$REPS run ec floor --mode imaps --port "$(port_of imaps)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	R=$REPS run rsa floor --mode imaps --port "$(port_of imaps rsa)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	for m in "${MODES[@]}"; do
		R=$REPS run ec floor --dialogue --mode "$m" --port "$(port_of "$m")" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
		R=$REPS run ec engine --mode "$m" --port "$(port_of "$m")" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	done
	# What a cache of chain verdicts could save: the TLS floor without X509_verify_cert.
	R=$REPS run ec floor --no-chain-verify --mode imaps --port "$(port_of imaps)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	# A loop flag the engine's callers could set: fewer epoll_ctl calls.
	for m in imap imaps; do
		R=$REPS run changelist engine --changelist --mode "$m" --port "$(port_of "$m")" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	done
	for m in imap+starttls imaps pop3+stls pop3s; do
		run rsa engine --mode "$m" --port "$(port_of "$m" rsa)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	done
	# The same target without TLS 1.3 session tickets: what processing them costs a client.
	start_target "$NTPORT" 0 "$WORK/ts-nt.ready"
	local nt
	nt=$(cat "$WORK/ts-nt.ready")
	run noticket floor --mode imaps --port $((NTPORT + 2)) --ca "$CA" --n "$N" -c "$C" --server-pid "$nt"
	run noticket engine --mode imaps --port $((NTPORT + 2)) --ca "$CA" --n "$N" -c "$C" --server-pid "$nt"
	# One probe in flight: latency without queueing, RSS of a single probe.
	run c1 engine --mode imaps --port "$(port_of imaps)" --ca "$CA" --n 300 -c 1 --server-pid "$SPID"
}

# ---- peers --------------------------------------------------------------
BB=/usr/bin/prometheus-blackbox-exporter
PLUG=/usr/lib/nagios/plugins
PEERS_NOTE=$WORK/peers-note.txt
: >"$PEERS_NOTE"

bb_config() {
	local tls="      tls_config:
        ca_file: $CA
        server_name: mail.bench.test"
	cat <<EOF
modules:
  imap:
    prober: tcp
    timeout: 10s
    tcp:
      query_response:
        - expect: "^\\\\* OK"
        - send: "A1 CAPABILITY"
        - expect: "^A1 OK"
        - send: "A2 LOGOUT"
        - expect: "^A2 OK"
  imap_starttls:
    prober: tcp
    timeout: 10s
    tcp:
$tls
      query_response:
        - expect: "^\\\\* OK"
        - send: "A1 CAPABILITY"
        - expect: "^A1 OK"
        - send: "A2 STARTTLS"
        - expect: "^A2 OK"
        - starttls: true
        - send: "A3 CAPABILITY"
        - expect: "^A3 OK"
        - send: "A4 LOGOUT"
        - expect: "^A4 OK"
  imaps:
    prober: tcp
    timeout: 10s
    tcp:
      tls: true
$tls
      query_response:
        - expect: "^\\\\* OK"
        - send: "A1 CAPABILITY"
        - expect: "^A1 OK"
        - send: "A2 LOGOUT"
        - expect: "^A2 OK"
  pop3:
    prober: tcp
    timeout: 10s
    tcp:
      query_response:
        - expect: "^\\\\+OK"
        - send: "CAPA"
        - expect: "^\\\\.\$"
        - send: "QUIT"
        - expect: "^\\\\+OK"
  pop3_stls:
    prober: tcp
    timeout: 10s
    tcp:
$tls
      query_response:
        - expect: "^\\\\+OK"
        - send: "CAPA"
        - expect: "^\\\\.\$"
        - send: "STLS"
        - expect: "^\\\\+OK"
        - starttls: true
        - send: "CAPA"
        - expect: "^\\\\.\$"
        - send: "QUIT"
        - expect: "^\\\\+OK"
  pop3s:
    prober: tcp
    timeout: 10s
    tcp:
      tls: true
$tls
      query_response:
        - expect: "^\\\\+OK"
        - send: "CAPA"
        - expect: "^\\\\.\$"
        - send: "QUIT"
        - expect: "^\\\\+OK"
EOF
}

bench_peers() {
	say "peers"
	if [ -x "$BB" ]; then
		bb_config >"$WORK/blackbox.yml"
		# On the client's CPU, like the engine; GOMAXPROCS=1 keeps it there honestly.
		GOMAXPROCS=1 "${CLI[@]}" "$BB" --config.file="$WORK/blackbox.yml" \
			--web.listen-address="127.0.0.1:$BBPORT" --log.level=warn \
			>>"$WORK/blackbox.log" 2>&1 &
		local bbpid=$!
		PIDS+=("$bbpid")
		if wait_port "$BBPORT"; then
			for m in "${MODES[@]}"; do
				# The HTTP driver shares the target's CPU: the exporter's CPU is what counts.
				say "  blackbox $m"
				"${SRV[@]}" "$EB" blackbox --http-port "$BBPORT" --module "${m/+/_}" \
					--target "127.0.0.1:$(port_of "$m")" --bb-pid "$bbpid" \
					--server-pid "$SPID" --n "$BBN" -c "$C" --warmup 10 --mode "$m" \
					--label blackbox >>"$RES" 2>>"$WORK/stderr.log" ||
					tail -n 2 "$WORK/stderr.log" >&2
			done
		else
			echo "blackbox_exporter: did not start (see $WORK/blackbox.log)" >>"$PEERS_NOTE"
		fi
	else
		echo "blackbox_exporter: not installed (apt-get install prometheus-blackbox-exporter)" >>"$PEERS_NOTE"
	fi

	spawn() { # label, then the command
		local label=$1
		shift
		if [ ! -x "$1" ]; then
			echo "$label: $1 not installed" >>"$PEERS_NOTE"
			return
		fi
		say "  $label x$PN"
		"${CLI[@]}" "$EB" spawn --n "$PN" --label "$label" -- "$@" >>"$RES" 2>>"$WORK/stderr.log" ||
			tail -n 1 "$WORK/stderr.log" >&2
	}
	spawn check_imap:imap "$PLUG/check_imap" -H 127.0.0.1 -p "$(port_of imap)"
	spawn check_simap:imaps "$PLUG/check_simap" -H 127.0.0.1 -p "$(port_of imaps)"
	spawn check_pop:pop3 "$PLUG/check_pop" -H 127.0.0.1 -p "$(port_of pop3)"
	spawn check_spop:pop3s "$PLUG/check_spop" -H 127.0.0.1 -p "$(port_of pop3s)"
	for m in imap imaps pop3s imap+starttls; do
		local scheme=${m%%+*} extra=()
		[ "$m" = imap+starttls ] && extra=(--starttls=require)
		local url="$scheme://mail.bench.test:$(port_of "$m")"
		if [ -n "$MAILPULSE" ]; then
			spawn "mailpulse-check:$m" "$MAILPULSE" check --resolve mail.bench.test:127.0.0.1 \
				--ca-file "$CA" "${extra[@]}" "$url"
		fi
		spawn "checkshot:$m" "$CHECKSHOT" --resolve mail.bench.test:127.0.0.1 \
			--ca-file "$CA" "${extra[@]}" "$url"
	done
	[ -n "$MAILPULSE" ] || echo "mailpulse: the binary did not build in $BUILD (daemon part in progress); checkshot (the same check_main, engine only) stands in" >>"$PEERS_NOTE"
}

# ---- profile ------------------------------------------------------------
bench_profile() {
	local out=$WORK/profile
	mkdir -p "$out"
	if perf record -e cpu-clock -o "$out/probe.data" true >/dev/null 2>&1; then
		for what in engine floor; do
			say "perf: $what imaps"
			"${CLI[@]}" perf record -q -e cpu-clock --call-graph dwarf,16384 -o "$out/$what.data" -- \
				"$EB" "$what" --mode imaps --port "$(port_of imaps)" --ca "$CA" --n 600 -c 20 \
				>/dev/null 2>&1
			echo "== $what imaps: CPU by library (self) =="
			perf report -i "$out/$what.data" --no-children --sort dso 2>/dev/null |
				grep -E '^ +[0-9.]+%' | head -8 || true
			echo "== $what imaps: inclusive time of named functions (dwarf unwinding; approximate) =="
			perf report -i "$out/$what.data" --children --sort symbol -g none 2>/dev/null |
				grep -E '^ +[0-9.]+%' | grep -v ' 0x0000' | head -45 || true
		done
	else
		say "perf cannot sample here; callgrind on a small N"
		for what in engine floor; do
			"${CLI[@]}" valgrind --tool=callgrind --callgrind-out-file="$out/$what.cg" \
				"$EB" "$what" --mode imaps --port "$(port_of imaps)" --ca "$CA" --n 100 -c 10 \
				>/dev/null 2>&1
			echo "== $what imaps (callgrind, inclusive) =="
			callgrind_annotate --inclusive=yes "$out/$what.cg" 2>/dev/null | head -60 || true
		done
	fi
}

case $WHAT in
engine) bench_engine ;;
peers) bench_peers ;;
all)
	bench_engine
	bench_peers
	;;
profile)
	bench_profile
	exit 0
	;;
esac

# ---- report -------------------------------------------------------------
cp "$RES" "$BUILD/bench-results.txt"
[ -s "$WORK/stderr.log" ] && {
	echo "== stderr of the runs (first lines) =="
	sort "$WORK/stderr.log" | uniq -c | head -20
}
echo "== target server =="
cat "$WORK/targetsrv.log"

echo
echo "== versions =="
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ]; then rev="$rev+dirty"; fi
"$EB" versions | sed "s/^mailpulse=\(.*\)/mailpulse=\1 (git $rev)/"
echo "kernel=$(uname -r)"
echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "pinning=${CLI[*]:-none} (client) / ${SRV[*]:-none} (server)"
[ -x "$BB" ] && echo "blackbox_exporter=$("$BB" --version 2>&1 | head -1)"
[ -x "$PLUG/check_imap" ] && echo "monitoring-plugins=$("$PLUG/check_imap" -V 2>&1 | head -1)"
echo "raw results: $BUILD/bench-results.txt"

echo
echo "== figures (N=$N, C=$C in flight, median of $REPS runs where repeated; CPU is the client's user+sys per probe) =="
awk -v OFS='' '
function kv(line, key,   i, n, a, f) {
	n = split(line, a, " ")
	for (i = 1; i <= n; i++) {
		if (index(a[i], key "=") == 1)
			return substr(a[i], length(key) + 2)
	}
	return ""
}
function r2(x) { return sprintf("%.2f", x) }
function mark(ratio, goal) { return ratio <= goal ? "" : " MISS" }
/^RESULT/ {
	b = kv($0, "bench"); m = kv($0, "mode"); l = kv($0, "label")
	if (b == "crypto") { crypto = $0; next }
	key = b "|" m "|" l
	if (!(key in cnt) && b == "spawn") spawnkeys[++ns] = l
	cnt[key]++
	all[key, cnt[key]] = $0
	next
}
END {
	# Repeated runs: keep the one with the median CPU per probe.
	for (key in cnt) {
		n = cnt[key]
		for (i = 1; i <= n; i++) { v[i] = kv(all[key, i], "cpu_ms") + 0; ix[i] = i }
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && v[ix[j - 1]] > v[ix[j]]; j--) { t = ix[j]; ix[j] = ix[j - 1]; ix[j - 1] = t }
		line[key] = all[key, ix[int((n + 1) / 2)]]
		reps[key] = n
	}
	hs_ec = kv(crypto, "hs_ec_us") / 1000; hs_rsa = kv(crypto, "hs_rsa_us") / 1000
	fp = kv(line["floor|imap|ec"], "cpu_ms"); ft = kv(line["floor|imaps|ec"], "cpu_ms")
	ftr = kv(line["floor|imaps|rsa"], "cpu_ms")
	printf "floors: plain connect+greeting %.4f ms | TLS handshake+greeting ECDSA %.4f ms, RSA %.4f ms\n", fp, ft, ftr
	printf "raw crypto of one handshake (X25519 + 3 verifies): ECDSA %.4f ms, RSA %.4f ms\n", hs_ec, hs_rsa
	printf "  (X25519 %s us, P-256 verify %s us, RSA-2048 PSS verify %s us, PKCS#1 verify %s us)\n",
		kv(crypto, "x25519_us"), kv(crypto, "ecdsa_p256_verify_us"), kv(crypto, "rsa2048_pss_verify_us"),
		kv(crypto, "rsa2048_pkcs1_verify_us")
	print ""
	print "engine        key      probes/s  CPU ms  x floor  x dialog  x bbox  peakRSS MB  KB/inflight  total p50/p99/max ms     greeting p50/p99/max ms  fail  srv%"
	split("imap imap+starttls imaps pop3 pop3+stls pop3s", ms, " ")
	for (k = 1; k <= 8 + 2; k++) {
		if (k <= 6) { m = ms[k]; l = "ec" }
		else if (k <= 10) { split("imap+starttls imaps pop3+stls pop3s", rs, " "); m = rs[k - 6]; l = "rsa" }
		e = line["engine|" m "|" l]
		if (e == "") continue
		tls = (m != "imap" && m != "pop3")
		cpu = kv(e, "cpu_ms")
		fl = tls ? (l == "rsa" ? ftr : ft) : fp
		goal = tls ? 1.1 : 1.5
		rf = fl > 0 ? cpu / fl : 0
		d = kv(line["floor-dialogue|" m "|ec"], "cpu_ms")
		bb = kv(line["blackbox|" m "|blackbox"], "peer_cpu_ms")
		bgoal = tls ? 0.6 : 0.3
		rb = (bb > 0 && l == "ec") ? r2(cpu / bb) mark(cpu / bb, bgoal) : "-"
		moon = (tls && cpu > 0.4) ? " (moonshot 0.4 MISS)" : ""
		rd = (d > 0 && l == "ec") ? r2(cpu / d) : "-"
		printf "%-13s %-5s %10.0f  %6.3f  %5s%-5s %6s  %-12s %6.1f  %10.1f    %s/%s/%s   %s/%s/%s  %4s  %4s%s\n",
			m, l, kv(e, "rate"), cpu, r2(rf), mark(rf, goal), rd,
			rb, kv(e, "rss_peak_kb") / 1024, kv(e, "rss_per_inflight_kb"),
			kv(e, "tot_p50_ms"), kv(e, "tot_p99_ms"), kv(e, "tot_max_ms"),
			kv(e, "ttg_p50_ms"), kv(e, "ttg_p99_ms"), kv(e, "ttg_max_ms"),
			kv(e, "fail"), kv(e, "srv_cpu_pct"), moon
	}
	print ""
	print "bare-C dialogue floor (same exchange as the engine, epoll + OpenSSL):"
	for (k = 1; k <= 6; k++) {
		d = line["floor-dialogue|" ms[k] "|ec"]
		if (d != "") printf "  %-13s %.4f ms/probe, %s probes/s, total p50 %s ms, fail %s\n", ms[k], kv(d, "cpu_ms"), kv(d, "rate"), kv(d, "tot_p50_ms"), kv(d, "fail")
	}
	nc = line["floor-nochain|imaps|ec"]
	if (nc != "")
		printf "imaps TLS floor without chain verification (X509_verify_cert skipped): %.4f ms (with: %.4f)\n", kv(nc, "cpu_ms"), ft
	for (k = 1; k <= 6; k++) {
		cl = line["engine|" ms[k] "|changelist"]
		if (cl != "") printf "%s engine with EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST: %.4f ms (without: %.4f)\n", ms[k], kv(cl, "cpu_ms"), kv(line["engine|" ms[k] "|ec"], "cpu_ms")
	}
	nt = line["engine|imaps|noticket"]; ntf = line["floor|imaps|noticket"]
	if (nt != "")
		printf "imaps, target sends no session tickets: engine %.4f ms (tickets: %.4f), TLS floor %.4f ms (tickets: %.4f)\n", kv(nt, "cpu_ms"), kv(line["engine|imaps|ec"], "cpu_ms"), kv(ntf, "cpu_ms"), ft
	c1 = line["engine|imaps|c1"]
	if (c1 != "")
		printf "imaps, 1 in flight: %.4f ms CPU, total p50 %s ms, greeting p50 %s ms, peak RSS %.1f MB\n", kv(c1, "cpu_ms"), kv(c1, "tot_p50_ms"), kv(c1, "ttg_p50_ms"), kv(c1, "rss_peak_kb") / 1024
	hdr = 0
	for (k = 1; k <= 6; k++) {
		b = line["blackbox|" ms[k] "|blackbox"]
		if (b == "") continue
		if (!hdr) { print ""; print "blackbox_exporter (tcp prober, query_response; its CPU from /proc/PID/stat; GOMAXPROCS=1)"; hdr = 1 }
		printf "  %-13s %.4f ms/probe, %s probes/s, probe p50/p99 %s/%s ms, fail %s, exporter CPU %s%%\n",
			ms[k], kv(b, "peer_cpu_ms"), kv(b, "rate"), kv(b, "tot_p50_ms"), kv(b, "tot_p99_ms"), kv(b, "fail"), kv(b, "srv_cpu_pct")
	}
	if (ns) { print ""; print "one-shot processes, sequential (CPU = user+sys of each child, from wait4)" }
	for (k = 1; k <= ns; k++) {
		s = line["spawn|-|" spawnkeys[k]]
		printf "  %-28s %.3f ms CPU/process, wall p50/p99 %s/%s ms, peak RSS %.1f MB, fail %s\n",
			spawnkeys[k], kv(s, "cpu_ms"), kv(s, "wall_p50_ms"), kv(s, "wall_p99_ms"), kv(s, "rss_peak_kb") / 1024, kv(s, "fail")
	}
	simap = kv(line["spawn|-|check_simap:imaps"], "cpu_ms")
	for (k = 1; k <= ns; k++) {
		if (spawnkeys[k] ~ /:imaps$/ && spawnkeys[k] !~ /^check_/ && simap > 0) {
			r = kv(line["spawn|-|" spawnkeys[k]], "cpu_ms") / simap
			printf "  %s / check_simap CPU: %.2f (goal <= 0.7)%s\n", spawnkeys[k], r, mark(r, 0.7)
		}
	}
}' "$RES"
if [ -s "$PEERS_NOTE" ]; then
	echo
	echo "peers not measured:"
	sed 's/^/  /' "$PEERS_NOTE"
fi
