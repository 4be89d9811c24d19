#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/run.sh - the probe engine's figures, its floors and its peers.
#
#   bench/run.sh engine    engine per mode, floors (bare C, OpenSSL, raw crypto)
#   bench/run.sh peers     blackbox_exporter, monitoring-plugins, one-shot check
#   bench/run.sh all       both (about 5 minutes on 2 cores)
#   bench/run.sh profile   perf (or callgrind) of the engine and the TLS floor
#   bench/run.sh sched     the real scheduler: lag at 10k checks/30 s (real time,
#                          ~75 s), the scale steps (~2 min), 100k/60 s for 70 s; also: lag, scale
#   bench/run.sh memory    RSS of 100k idle checks; RSS per in-flight probe (~40 s)
#   bench/run.sh timing    time-to-greeting error against a 200 ms delay, idle and
#                          with the loop at ~80 % CPU; connect and greeting phases
#                          under load; one-shot tls phase by trust store (~2 min)
#   bench/run.sh tlsfloor  the imaps TLS handshake floor with OpenSSL, GnuTLS and
#                          wolfSSL (those found by pkg-config at build time), ECDSA
#                          and RSA (~1 min)
#   bench/run.sh http      the daemon's probes (200 imaps checks, 30 days of history)
#                          while clients poll /status, /api/v1/checks, a check and
#                          /metrics, with and without the API's cache (~9 min)
#   bench/run.sh spool     the probing node's spool: SPN results (100000) of SPSIZE
#                          bytes (1500) spooled, then replayed with live results (~5 s)
#   bench/run.sh nodes     issue 12 end to end against the real binaries (~10 min):
#                          nodes-ingest (10 nodes x 10 000 checks / 30 s into one
#                          controller, HTTP and HTTPS), nodes-probe (CPU per probe of
#                          `mailpulse probe` against `mailpulse run`), nodes-replay
#                          (100 000 spooled results replayed, live results meanwhile)
#   bench/run.sh store     the history store, SQLite and PostgreSQL side by side (issue 14,
#                          ~13 min): the daemon's writes at 3 333 results/s, 10 000 checks
#                          x 30 days seeded, uptime and history read before and after
#                          retention (see the store section below)
#
# Environment: BENCH_KEEP (set: keep the work directory, its logs and stores),
# N (probes per run, 2000), C (in flight, 100), REPS (repeats
# of each engine/floor run whose ratio is a goal, 3: the median is shown), BBN (blackbox
# probes, 1000), PN (one-shot processes per peer, 200), PORT (first port
# of the target, 24100; uses PORT..PORT+70), BUILD (build dir, build-i);
# for http: HN, HDAYS, HSCALE, HPHASE_S, HC, HVARIANTS, BASE_MAILPULSE.
#
# Everything talks to 127.0.0.1 only. With 2+ CPUs and taskset, the target
# server runs on CPU 1 and the client under test on CPU 0. A benchmark,
# not a test: it prints figures and ratios, it never fails on a speed.
# The figures come last, after the versions they were measured against.
set -euo pipefail

WHAT=${1:-all}
# The awk function every report reads RESULT lines with: kv(line, key),
# the value of key=... in line, "" when absent.
AWK_KV='
function kv(line, key,   i, n, a) {
	n = split(line, a, " ")
	for (i = 1; i <= n; i++)
		if (index(a[i], key "=") == 1)
			return substr(a[i], length(key) + 2)
	return ""
}

'
case $WHAT in engine | peers | all | profile | sched | lag | scale | memory | timing | tlsfloor | http | spool | nodes | nodes-ingest | nodes-probe | nodes-replay | store) ;; *)
	echo "usage: bench/run.sh engine|peers|all|profile|sched|lag|scale|memory|timing|tlsfloor|http|spool|nodes|nodes-ingest|nodes-probe|nodes-replay|store" >&2
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
DLPORT=$((PORT + 40)) # a target that holds the greeting back 200 ms (timing)
SPPORT=$((PORT + 60)) # the same, polling instead of sleeping (timing, idle)
PKPORT=$((PORT + 50)) # a target that holds it back 3 s (probes parked in flight)
LAG_S=${LAG_S:-72}
STEP_S=${STEP_S:-6}
MEMN=${MEMN:-100000}

say() { printf '%s\n' "$*" >&2; }

# ---- spool: no target, certificates or engine; the file goes in BUILD (a disk) ----
if [ "$WHAT" = spool ]; then
	[ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$BUILD" -j"$(nproc)" --target spoolbench >/dev/null
	out=$("$BUILD/bench/spoolbench" --dir "$BUILD" --n "${SPN:-100000}" --size "${SPSIZE:-1500}")
	echo "== versions =="
	grep '^sqlite=' <<<"$out"
	echo "kernel=$(uname -r)"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
	echo "disk=$(df -T "$BUILD" | awk 'NR == 2 {print $2 " " $1}')"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "== figures (goal: 100,000 spooled results replayed in under 60 s) =="
	grep -v '^sqlite=' <<<"$out"
	exit 0
fi

# ---- store (issue 14): the history store, SQLite and PostgreSQL side by side ----
# bench/storebench.c, through store.h only, so both backends run the same code:
#   write  STRATE results/s (3 333: 10 nodes x 10 000 checks every 30 s) over
#          STCHECKS checks from the loop, flushed once a second, STWIN_S s
#          measured after STWARM_S; the writer on CPU 0 (taskset), PostgreSQL
#          where the kernel puts it (the same 2 cores); the server's CPU from
#          /proc (the postmaster and all its children).
#   seed   STCHECKS checks x STDAYS days, one result an hour (7.2 M rows), timed;
#          read (all of it raw, as under the default retention.raw_days: 30),
#          folded by store_retention(raw_days STRAW, 1: the configuration's
#          least), read again (roll-ups and the last day raw). Reads: STN
#          random checks blocking, and STLOOP more through the loop (attached).
# PostgreSQL is tests/lib/pg.sh's private cluster (initdb as nobody, a Unix
# socket only), restarted with the stock settings (fsync on: pg.sh turns it
# off for tests) plus STPGOPTS. storebench and the server's session run with
# the scheduler autogroup at STNICE (-19), as the nodes figures do.
# Environment: STPHASES (write seed), STBACKENDS (sqlite postgresql), STRATE,
# STCHECKS, STWARM_S, STWIN_S, STDAYS, STRAW, STN, STLOOP, STPORT, STPGOPTS.
if [ "$WHAT" = store ]; then
	STPHASES=${STPHASES:-write seed}
	STBACKENDS=${STBACKENDS:-sqlite postgresql}
	STRATE=${STRATE:-3333}
	STCHECKS=${STCHECKS:-10000}
	STWARM_S=${STWARM_S:-10}
	STWIN_S=${STWIN_S:-60}
	STDAYS=${STDAYS:-30}
	STRAW=${STRAW:-1}
	STN=${STN:-500}
	STLOOP=${STLOOP:-100}
	STPORT=${STPORT:-$((PORT + 90))}
	STPGOPTS=${STPGOPTS:-}
	STNICE=${STNICE:--19}
	STP=(setsid -w sh -c 'echo "$0" >/proc/self/autogroup 2>/dev/null; exec "$@"' "$STNICE")
	CPU0=()
	[ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null && CPU0=(taskset -c 0)
	[ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$BUILD" -j"$(nproc)" --target storebench >/dev/null
	STB=$BUILD/bench/storebench
	# The server's user must reach its directory: /tmp, not a TMPDIR under /root.
	WORK=$(mktemp -d /tmp/mailpulse-store.XXXXXX)
	chmod 755 "$WORK"
	RES=$WORK/results.txt
	: >"$RES"
	# shellcheck source=tests/lib/pg.sh
	. "$ROOT/tests/lib/pg.sh"
	st_cleanup() {
		pg_stop
		if [ -n "${BENCH_KEEP:-}" ]; then
			say "work files kept in $WORK (BENCH_KEEP)"
		else
			rm -rf "$WORK"
		fi
	}
	trap st_cleanup EXIT
	st_psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
	st_url() { echo "postgresql://mp@/$1?host=$WORK/pg&port=$STPORT"; }
	st_run() { # storebench's arguments: on CPU 0, its figures to stderr and RESULT lines to RES
		local out
		out=$("${STP[@]}" "${CPU0[@]}" "$STB" "$@") || say "  storebench $1 failed"
		grep -v '^RESULT' <<<"$out" | sed 's/^/  /' >&2
		grep '^RESULT' <<<"$out" >>"$RES" || true
	}
	if [[ " $STBACKENDS " == *" postgresql "* ]]; then
		say "store: a private PostgreSQL cluster in $WORK/pg, port $STPORT (Unix socket)"
		pg_start "$WORK/pg" "$STPORT" || exit 1
		# pg.sh's test settings (fsync off) out: the stock configuration, durable.
		pg_stop
		pg_opts="-k $WORK/pg -c listen_addresses='' -p $STPORT $STPGOPTS"
		pg_restart "$WORK/pg" || {
			cat "$WORK/pg/server.log" >&2
			exit 1
		}
		PGDATA_DIR=$WORK/pg/data
		# The server's session gets the writer's share of the CPU (sched_autogroup).
		echo "$STNICE" >"/proc/$(head -1 "$PGDATA_DIR/postmaster.pid")/autogroup" 2>/dev/null ||
			say "store: cannot set the server's autogroup nice"
	fi
	st_analyze() { # the query store, analyzed, timed
		local t0
		t0=$(date +%s%3N)
		st_psql -d mpquery -c "VACUUM (ANALYZE)"
		say "  VACUUM (ANALYZE) in $((($(date +%s%3N) - t0) / 1000)) s"
	}
	st_size() { # backend store: its size on disk
		if [ "$1" = sqlite ]; then
			du -cb "$2"* | awk 'END { printf "%.0f MB", $1 / 1e6 }'
		else
			st_psql -c "SELECT (pg_database_size('$2') / 1000000)::text || ' MB'"
		fi
	}
	for b in $STBACKENDS; do
		if [[ " $STPHASES " == *" write "* ]]; then
			say "store write $b: $STRATE results/s over $STCHECKS checks, ${STWIN_S} s after ${STWARM_S} s"
			if [ "$b" = sqlite ]; then
				st_run write --store "$WORK/write.db" --rate "$STRATE" --checks "$STCHECKS" \
					--warmup-s "$STWARM_S" --window-s "$STWIN_S" --label write
				rm -f "$WORK"/write.db*
			else
				st_psql -c "CREATE DATABASE mpwrite"
				st_run write --store "$(st_url mpwrite)" --rate "$STRATE" --checks "$STCHECKS" \
					--warmup-s "$STWARM_S" --window-s "$STWIN_S" --pgdata "$PGDATA_DIR" --label write
				st_psql -c "DROP DATABASE mpwrite"
			fi
		fi
		if [[ " $STPHASES " == *" seed "* ]]; then
			if [ "$b" = sqlite ]; then
				spec=$WORK/query.db name=$spec
			else
				st_psql -c "CREATE DATABASE mpquery"
				spec=$(st_url mpquery) name=mpquery
			fi
			say "store seed $b: $STCHECKS checks x $STDAYS days, one result an hour"
			st_run seed --store "$spec" --checks "$STCHECKS" --days "$STDAYS"
			# A store that has run for a month has been analyzed by autovacuum.
			[ "$b" = postgresql ] && st_analyze
			say "  size: $(st_size "$b" "$name")"
			say "store query $b: all raw ($STN blocking${STLOOP:+, $STLOOP through the loop})"
			loopfl=()
			[ "$b" = postgresql ] && [ "$STLOOP" -gt 0 ] && loopfl=(--loop "$STLOOP")
			st_run query --store "$spec" --checks "$STCHECKS" --n "$STN" "${loopfl[@]}" --label raw
			say "store retention $b: raw_days $STRAW"
			st_run retain --store "$spec" --raw-days "$STRAW"
			[ "$b" = postgresql ] && st_analyze
			say "  size: $(st_size "$b" "$name")"
			say "store query $b: roll-ups (the last $STRAW day(s) raw)"
			st_run query --store "$spec" --checks "$STCHECKS" --n "$STN" "${loopfl[@]}" --label rollups
			if [ "$b" = sqlite ]; then
				rm -f "$WORK"/query.db*
			else
				st_psql -c "DROP DATABASE mpquery"
			fi
		fi
	done
	cp "$RES" "$BUILD/bench-results.txt"
	echo "== versions =="
	rev=${REV:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}
	if [ -z "${REV:-}" ] && [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ]; then rev="$rev+dirty"; fi
	echo "mailpulse git $rev"
	"$STB" versions
	if [ -n "${PGDATA_DIR:-}" ]; then
		echo "postgres=$("$PG_BIN/postgres" --version)"
		echo "server=$(st_psql -c 'SELECT version()')"
		echo "server settings=$(st_psql -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size', 'wal_level', 'full_page_writes')")"
	fi
	echo "kernel=$(uname -r)"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
	echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "disk=$(df -T "$WORK" | awk 'NR == 2 {print $2 " " $1}')"
	echo "load average at the end=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "pinning=storebench ${CPU0[*]:-unpinned}, PostgreSQL unpinned; autogroup nice $STNICE for both"
	echo "raw results: $BUILD/bench-results.txt"
	echo
	echo "== figures =="
	awk "$AWK_KV"'
/^RESULT bench=store-write / {
	if (!w++) {
		print "writes from the loop, flushed once a second (goal: 3 333 results/s; CPU per row: writer = storebench user+sys, server = postmaster + children):"
		print "  backend      offered/s  written/s  flushes  flush p50/p99/max ms  loop held p50/max ms  queue high  timer late p99/max ms  writer CPU%  writer ms/row  server CPU%  server ms/row  refused"
	}
	printf "  %-11s %10s %10s %8s  %20s %21s %11s %22s %12s %14s %11s %14s %8s\n", kv($0, "backend"), kv($0, "offered"), kv($0, "rate"), kv($0, "flushes"),
		kv($0, "flush_p50_ms") "/" kv($0, "flush_p99_ms") "/" kv($0, "flush_max_ms"), kv($0, "call_p50_ms") "/" kv($0, "call_max_ms"), kv($0, "queue_high"), kv($0, "late_p99_ms") "/" kv($0, "late_max_ms"),
		kv($0, "cpu_pct"), kv($0, "cpu_per_row_ms"), kv($0, "srv_cpu_pct") + 0 < 0 ? "-" : kv($0, "srv_cpu_pct"), kv($0, "srv_per_row_ms") + 0 < 0 ? "-" : kv($0, "srv_per_row_ms"), kv($0, "refused")
}
/^RESULT bench=store-seed / { seed[++ns] = sprintf("  %-11s %s rows in %s s: %s rows/s (storebench CPU %s s)", kv($0, "backend"), kv($0, "rows"), kv($0, "seconds"), kv($0, "rate"), kv($0, "cpu_s")) }
/^RESULT bench=store-retain / { ret[++nr] = sprintf("  %-11s %s raw rows folded in %s s (raw_days %s)", kv($0, "backend"), kv($0, "folded"), kv($0, "seconds"), kv($0, "raw_days")) }
/^RESULT bench=store-query / { q[++nq] = sprintf("  %-11s %-8s %-6s %-11s %5s  %8s %8s %8s  %s", kv($0, "backend"), kv($0, "label"), kv($0, "mode"), kv($0, "query"), kv($0, "n"), kv($0, "p50_ms"), kv($0, "p99_ms"), kv($0, "max_ms"), kv($0, "mean_probes") != "" ? "probes " kv($0, "mean_probes") : "rows " kv($0, "mean_rows")) }
END {
	if (ns) { print ""; print "seeding (one result per check per hour, store_add_result + store_flush in batches):"; for (i = 1; i <= ns; i++) print seed[i] }
	if (nr) { print ""; print "retention (store_retention until it returns 0):"; for (i = 1; i <= nr; i++) print ret[i] }
	if (nq) {
		print ""; print "reads of random checks over the last 30 days (raw: before retention; rollups: after it):"
		print "  backend     store    mode   query           n   p50 ms   p99 ms   max ms  mean"
		for (i = 1; i <= nq; i++) print q[i]
	}
}' "$RES"
	exit 0
fi

# ---- build --------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target targetsrv enginebench certgen checkshot schedbench storeseed >/dev/null
# The real binary links the daemon part too; it may not build while that is in progress.
MAILPULSE=
if cmake --build "$BUILD" -j"$(nproc)" --target mailpulse >/dev/null 2>&1; then
	MAILPULSE=$BUILD/mailpulse
fi
EB=$BUILD/bench/enginebench
TS=$BUILD/bench/targetsrv
CG=$BUILD/tests/certgen/certgen
CHECKSHOT=$BUILD/bench/checkshot
SB=$BUILD/bench/schedbench
# The other TLS libraries' floors exist only where pkg-config found the library.
TLSLIBS=()
for l in gnutls wolfssl; do
	if cmake --build "$BUILD" -j"$(nproc)" --target "tlsfloor-$l" >/dev/null 2>&1 &&
		[ -x "$BUILD/bench/tlsfloor-$l" ]; then
		TLSLIBS+=("$l")
	fi
done

WORK=$(mktemp -d /tmp/mailpulse-bench.XXXXXX)
RES=$WORK/results.txt
: >"$RES"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	# The figures are copied out (raw results: BUILD/bench-results.txt); the
	# logs, stores and spools (~14 MB a run) stay only when asked for.
	if [ -n "${BENCH_KEEP:-}" ]; then
		say "work files kept in $WORK (BENCH_KEEP)"
	else
		rm -rf "$WORK"
	fi
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

start_target() { # base-port tickets ready-file [delay-ms [spin]]
	"${SRV[@]}" "$TS" --port-base "$1" --tickets "$2" --ready "$3" --delay-ms "${4:-0}" --spin "${5:-0}" \
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
		# Every chain verified in full, as if each probe met a new server.
		case $m in imap | pop3) ;; *)
			R=$REPS run full engine --no-reuse --mode "$m" --port "$(port_of "$m")" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
			;;
		esac
	done
	# What a cache of chain verdicts could save: the TLS floor without X509_verify_cert.
	R=$REPS run ec floor --no-chain-verify --mode imaps --port "$(port_of imaps)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	# A loop flag the engine's callers could set: fewer epoll_ctl calls.
	for m in imap imaps; do
		R=$REPS run changelist engine --changelist --mode "$m" --port "$(port_of "$m")" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	done
	for m in imap+starttls imaps pop3+stls pop3s; do
		R=$REPS run rsa engine --mode "$m" --port "$(port_of "$m" rsa)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
		R=$REPS run rsa-full engine --no-reuse --mode "$m" --port "$(port_of "$m" rsa)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
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
				say "  blackbox $m x$REPS"
				for _ in $(seq "$REPS"); do
					"${SRV[@]}" "$EB" blackbox --http-port "$BBPORT" --module "${m/+/_}" \
						--target "127.0.0.1:$(port_of "$m")" --bb-pid "$bbpid" \
						--server-pid "$SPID" --n "$BBN" -c "$C" --warmup 10 --mode "$m" \
						--label blackbox >>"$RES" 2>>"$WORK/stderr.log" ||
						tail -n 2 "$WORK/stderr.log" >&2
				done
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
	# The system trust store instead of --ca-file, at its real size: a copy
	# of /etc/ssl/certs plus the bench roots. Hashed directory (what
	# mailpulse reads by default, one anchor at a time) or the bundle file
	# only (read whole: the fallback, and what reading the system store
	# eagerly costs).
	if [ -n "$MAILPULSE" ] && make_sysstore; then
		local st=$WORK/sysstore
		echo "system store copy: $(ls "$st/dir" | grep -c '\.pem$') certificates, bundle $(grep -c 'BEGIN CERT' "$st/bundle.pem") certificates" >>"$PEERS_NOTE"
		local url="imaps://mail.bench.test:$(port_of imaps)"
		SSL_CERT_DIR=$st/dir SSL_CERT_FILE=$st/none spawn "mailpulse-check:imaps-system-dir" \
			"$MAILPULSE" check --resolve mail.bench.test:127.0.0.1 "$url"
		SSL_CERT_DIR=$st/empty SSL_CERT_FILE=$st/bundle.pem spawn "mailpulse-check:imaps-system-bundle" \
			"$MAILPULSE" check --resolve mail.bench.test:127.0.0.1 "$url"
	fi
	[ -n "$MAILPULSE" ] || echo "mailpulse: the binary did not build in $BUILD (daemon part in progress); checkshot (the same check_main, engine only) stands in" >>"$PEERS_NOTE"
}

# A copy of the system trust store plus the bench roots in $WORK/sysstore:
# dir/ hashed (openssl rehash), empty/, bundle.pem. 1 without the tools.
make_sysstore() {
	local st=$WORK/sysstore
	[ -f "$st/bundle.pem" ] && return 0
	command -v openssl >/dev/null && [ -d /etc/ssl/certs ] || return 1
	mkdir -p "$st/dir" "$st/empty"
	cp -P /etc/ssl/certs/*.pem "$st/dir/" 2>/dev/null
	cp "$CERTS/root-ec.crt" "$st/dir/bench-root-ec.pem"
	cp "$CERTS/root-rsa.crt" "$st/dir/bench-root-rsa.pem"
	openssl rehash "$st/dir" 2>/dev/null
	cat /etc/ssl/certs/ca-certificates.crt "$CA" >"$st/bundle.pem" 2>/dev/null
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

# ---- scheduler, memory, timing (schedbench) -------------------------------
SBDIR=$WORK/sched
mkdir -p "$SBDIR"
sbrun() { # label, then schedbench arguments
	local label=$1
	shift
	say "  $label: $*"
	"${CLI[@]}" "$SB" "$@" --label "$label" >>"$RES" 2>>"$WORK/stderr.log" ||
		{
			say "    (failed: see below)"
			tail -n 2 "$WORK/stderr.log" >&2
		}
}

# 10 000 checks, 30 s interval, 10 s timeout, plain POP3, real time, the
# daemon's configuration file format and its default in-flight cap (256).
bench_lag() {
	say "scheduler lag: 10000 checks every 30 s for ${LAG_S} s (real time)"
	sbrun lag sched --port "$PORT" --ca "$CA" --dir "$SBDIR" --mode pop3 --n 10000 \
		--interval 30 --timeout 10 --duration "$LAG_S"
}

# One core, a steady rate: N checks on a 1 s grid (interval N x 10 ms in the
# checks, time scale to 1 s; first runs spread over the whole 1 s), N stepped up
# until a step breaks (a failure, a deadline, a skipped slot, lag p99 over
# 50 ms, or fewer starts than due). Then the shape the goal names as the
# scheduler really runs it: 100 000 checks every 60 s, the first 12 s.
step_holds() { # label n: 0 when the last RESULT of label held
	grep " label=$1 " "$RES" | grep " n=$2 " | tail -1 | awk '
	function kv(k,   i, a, n) { n = split($0, a, " "); for (i = 1; i <= n; i++) if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
	{ ok = kv("fail") + 0 == 0 && kv("late") + 0 == 0 && kv("skipped") + 0 == 0 && kv("lag_p99_ms") + 0 < 50 && kv("rate_win") + 0 >= 0.98 * kv("target_rate") }
	END { exit ok ? 0 : 1 }'
}
bench_scale() {
	local m n win iv
	win="1.5,$(awk -v s="$STEP_S" 'BEGIN { print 1.5 + s }')"
	for m in pop3:1000,2000,4000,6000,8000,10000,12000,14000 pop3s:200,400,600,800,1000,1200,1400; do
		say "scale steps, ${m%%:*}"
		for n in $(echo "${m#*:}" | tr , ' '); do
			# interval n x 10 ms (at most 10 s), scaled to 1 s: the scheduler spreads
			# first runs over n x 10 ms, so the whole grid is evenly covered.
			iv=$((n * 10 > 10000 ? 10000 : n * 10))
			sbrun "scale-${m%%:*}" sched --port "$PORT" --ca "$CA" --dir "$SBDIR" --mode "${m%%:*}" \
				--n "$n" --interval 30 --interval-ms "$iv" --scale "$(awk -v i="$iv" 'BEGIN { print 1000 / i }')" \
				--timeout 10 --window "$win"
			step_holds "scale-${m%%:*}" "$n" || break
		done
	done
	say "the goal's shape: 100000 checks every 60 s (pop3), first 70 s"
	sbrun shape100k sched --port "$PORT" --ca "$CA" --dir "$SBDIR" --mode pop3 --n 100000 \
		--interval 60 --timeout 10 --duration 70
}

bench_memory() {
	say "memory: $MEMN idle checks"
	sbrun idle memory --port "$PORT" --ca "$CA" --dir "$SBDIR" --mode pop3 --n "$MEMN" --interval 60
	start_target "$PKPORT" 2 "$WORK/ts-pk.ready" 3000
	for m in imaps pop3s imap+starttls imap; do
		sbrun parked inflight --port "$PKPORT" --warm-port "$PORT" --ca "$CA" --mode "$m" -c 200 --park-ms 3000
	done
}

bench_timing() {
	start_target "$DLPORT" 2 "$WORK/ts-dl.ready" 200
	say "timing: time to greeting against a 200 ms delay"
	sbrun idle timing --port "$DLPORT" --ca "$CA" --mode imap --delay-ms 200 --n 500 --rate 100
	sbrun idle timing --port "$DLPORT" --ca "$CA" --mode pop3 --delay-ms 200 --n 500 --rate 100
	# The same against a target that never sleeps: what remains is the engine's error.
	start_target "$SPPORT" 2 "$WORK/ts-sp.ready" 200 1
	sbrun idle-spin timing --port "$SPPORT" --ca "$CA" --mode imap --delay-ms 200 --n 500 --rate 100
	sbrun idle-spin timing --port "$SPPORT" --ca "$CA" --mode pop3 --delay-ms 200 --n 500 --rate 100
	kill "$(cat "$WORK/ts-sp.ready")" 2>/dev/null
	sbrun load-tls timing --port "$DLPORT" --load-port "$PORT" --ca "$CA" --mode imap --delay-ms 200 \
		--n 500 --rate 100 --load-mode imaps --load-cpu 0.8
	sbrun load-plain timing --port "$DLPORT" --load-port "$PORT" --ca "$CA" --mode imap --delay-ms 200 \
		--n 500 --rate 100 --load-mode pop3 --load-cpu 0.8
	# A greeting sent at once, the loop at ~80 %: it is waiting before the connect
	# callback runs. connect must stay the kernel's RTT, greeting the server's time.
	sbrun load-plain0 timing --port "$PORT" --load-port "$PORT" --ca "$CA" --mode imap --delay-ms 0 \
		--n 500 --rate 100 --load-mode pop3 --load-cpu 0.8
	bench_trust
}

# One-shot `mailpulse check imaps://` (TN runs of each, interleaved): the tls
# phase and the time to greeting with --ca-file, with the system store found
# in its hashed directory, and with the directory lacking the anchor (the
# bundle file is read, ~150 certificates). The trust store is the monitor's
# work: it must not show in the server's phases.
TN=${TN:-100}
bench_trust() {
	if [ -z "$MAILPULSE" ]; then
		say "trust: the mailpulse binary did not build in $BUILD: skipped"
		return
	fi
	make_sysstore || {
		say "trust: no /etc/ssl/certs or openssl: skipped"
		return
	}
	local st=$WORK/sysstore url="imaps://mail.bench.test:$(port_of imaps)" i c
	say "trust: one-shot imaps x $TN per trust store"
	for i in $(seq "$TN"); do
		for c in ca-file sys-dir sys-bundle; do
			case $c in
			ca-file) "${CLI[@]}" "$MAILPULSE" check --json --resolve mail.bench.test:127.0.0.1 --ca-file "$CA" "$url" ;;
			sys-dir) SSL_CERT_DIR=$st/dir SSL_CERT_FILE=$st/none "${CLI[@]}" "$MAILPULSE" check --json \
				--resolve mail.bench.test:127.0.0.1 "$url" ;;
			sys-bundle) SSL_CERT_DIR=$st/empty SSL_CERT_FILE=$st/bundle.pem "${CLI[@]}" "$MAILPULSE" check \
				--json --resolve mail.bench.test:127.0.0.1 "$url" ;;
			esac | jq -r --arg c "$c" '[$c, .status, .timings_ms.connect, .timings_ms.tls, .time_to_greeting_ms, .timings_ms.total] | @tsv' \
				>>"$WORK/trust.tsv" || true
		done
	done
	for c in ca-file sys-dir sys-bundle; do
		awk -F '\t' -v c="$c" '
		function p(a, n, q,   i) { i = int(n * q + 0.5); if (i < 1) i = 1; if (i > n) i = n; return a[i] }
		function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t } }
		$1 == c && $2 == "up" { n++; tls[n] = $4; ttg[n] = $5; tot[n] = $6; own[n] = $6 - $5 }
		$1 == c && $2 != "up" { bad++ }
		END {
			sort(tls, n); sort(ttg, n); sort(tot, n); sort(own, n)
			printf "RESULT bench=trust label=%s n=%d notup=%d tls_p50_ms=%.3f tls_p90_ms=%.3f tls_max_ms=%.3f ttg_p50_ms=%.3f ttg_p90_ms=%.3f total_p50_ms=%.3f total_p90_ms=%.3f rest_p50_ms=%.3f\n",
				c, n, bad, p(tls, n, .5), p(tls, n, .9), p(tls, n, 1), p(ttg, n, .5), p(ttg, n, .9), p(tot, n, .5), p(tot, n, .9), p(own, n, .5)
		}' "$WORK/trust.tsv" >>"$RES"
	done
}

report_sched() { # the schedbench RESULT lines, as tables
	awk "$AWK_KV"'
function verdict(ok) { return ok ? "met" : "MISS" }
/^RESULT bench=sched / {
	l = kv($0, "label")
	if (l == "lag") {
		print "scheduler lag, real time: " kv($0, "n") " checks, interval " kv($0, "interval_ms") / 1000 " s, timeout " kv($0, "timeout_ms") / 1000 " s, " kv($0, "mode") ", cap " kv($0, "cap") ", " kv($0, "dur_s") " s"
		printf "  lag (start - due) p50/p99/p99.9/max %s/%s/%s/%s ms, min %s ms (p99 goal < 50 ms: %s)\n", kv($0, "lag_p50_ms"), kv($0, "lag_p99_ms"), kv($0, "lag_p999_ms"), kv($0, "lag_max_ms"), kv($0, "lag_min_ms"), verdict(kv($0, "lag_p99_ms") + 0 < 50)
		printf "  starts %s, results %s (up %s, not up %s, over deadline %s), skipped slots %s\n", kv($0, "started"), kv($0, "finished"), kv($0, "ok"), kv($0, "fail"), kv($0, "late"), kv($0, "skipped")
		printf "  starts before their due time %s; second starts in one slot %s\n", kv($0, "early"), kv($0, "dup")
		printf "  first runs: %s of %s, from %s s to %s s after the checks were added; busiest second %s starts\n", kv($0, "first_n"), kv($0, "n"), kv($0, "first_min_s"), kv($0, "first_max_s"), kv($0, "burst_per_s")
		printf "  in flight max %s, held back by the cap max %s; CPU %s %%; probe total p50/p99 %s/%s ms\n", kv($0, "inflight_max"), kv($0, "waiting_max"), kv($0, "cpu_pct_win"), kv($0, "tot_p50_ms"), kv($0, "tot_p99_ms")
		printf "  starts per second: %s\n", kv($0, "per_sec")
		printf "  conf_load of %s checks: %s ms\n\n", kv($0, "n"), kv($0, "load_ms")
	} else if (l ~ /^scale-/) {
		if (!hs) { print "scale steps (1 s grid: interval N x 10 ms scaled to 1 s; lag/rate/CPU over the window):"; print "  mode   checks  due/s   started/s  CPU%  lag p50/p99/max ms   total p99 ms  fail late skip dup  inflight  holds"; hs = 1 }
		ok = kv($0, "fail") + 0 == 0 && kv($0, "late") + 0 == 0 && kv($0, "skipped") + 0 == 0 && kv($0, "lag_p99_ms") + 0 < 50 && kv($0, "rate_win") + 0 >= 0.98 * kv($0, "target_rate")
		m = kv($0, "mode")
		printf "  %-6s %6s %7.0f %9.0f %6.1f  %s/%s/%s  %10s  %4s %4s %4s %4s %6s  %s\n", m, kv($0, "n"), kv($0, "target_rate"), kv($0, "rate_win"), kv($0, "cpu_pct_win"), kv($0, "lag_p50_ms"), kv($0, "lag_p99_ms"), kv($0, "lag_max_ms"), kv($0, "tot_p99_ms"), kv($0, "fail"), kv($0, "late"), kv($0, "skipped"), kv($0, "dup"), kv($0, "inflight_max"), ok ? "yes" : "NO"
		if (ok && kv($0, "target_rate") + 0 > best[m]) best[m] = kv($0, "target_rate") + 0
	} else if (l == "shape100k") {
		print ""
		print "100 000 checks every 60 s (pop3), the first " kv($0, "dur_s") " s as the scheduler runs them:"
		printf "  first runs %s, from %s s to %s s; busiest second %s starts; started/s %s\n", kv($0, "first_n"), kv($0, "first_min_s"), kv($0, "first_max_s"), kv($0, "burst_per_s"), kv($0, "rate_win")
		printf "  lag p50/p99/max %s/%s/%s ms; held back by the cap max %s; fail %s, over deadline %s; CPU %s %%\n", kv($0, "lag_p50_ms"), kv($0, "lag_p99_ms"), kv($0, "lag_max_ms"), kv($0, "waiting_max"), kv($0, "fail"), kv($0, "late"), kv($0, "cpu_pct_win")
		printf "  starts per second: %s\n", kv($0, "per_sec")
		printf "  conf_load of 100 000 checks: %s ms\n", kv($0, "load_ms")
		shape = 1
	}
}
/^RESULT bench=memory / {
	print "idle checks: " kv($0, "n") " (conf_load + sched_add, every timer armed, none started: " kv($0, "started") ")"
	printf "  RSS per check %s B (goal <= 4096: %s): configuration %s B (%s B after malloc_trim), scheduler %s B\n", kv($0, "per_check_b"), verdict(kv($0, "per_check_b") + 0 <= 4096), kv($0, "conf_per_check_b"), kv($0, "conf_trim_per_check_b"), kv($0, "sched_per_check_b")
	printf "  heap per check %s B (conf %s, sched %s); sizeof(struct conf_check) %s, of which struct check %s and routes 16 x %s\n", kv($0, "heap_per_check_b"), kv($0, "heap_conf_per_check_b"), kv($0, "heap_sched_per_check_b"), kv($0, "sizeof_conf_check"), kv($0, "sizeof_check"), kv($0, "sizeof_conf_route")
	printf "  peak RSS while loading: %s B per check; conf_load %s ms, sched_add %s ms, placing %s ms; RSS total %.1f MB\n\n", kv($0, "peak_per_check_b"), kv($0, "load_ms"), kv($0, "add_ms"), kv($0, "place_ms"), kv($0, "rss_all_kb") / 1024
}
/^RESULT bench=inflight / {
	if (!hi) { print "probes parked in flight (" kv($0, "c") " at once, greeting held back " kv($0, "park_ms") " ms; sizeof(struct result) " kv($0, "sizeof_result") ", two per probe):"; print "  mode            RSS KB/probe  heap KB/probe  peak RSS KB/probe  ok/fail"; hi = 1 }
	printf "  %-14s %12s %14s %18s  %s/%s\n", kv($0, "mode"), kv($0, "rss_per_probe_kb"), kv($0, "heap_per_probe_kb"), kv($0, "peak_per_probe_kb"), kv($0, "ok"), kv($0, "fail")
}
/^RESULT bench=trust / {
	if (!hr) { print ""; print "one-shot imaps, tls phase and time to greeting by trust store (rest = total - ttg: our own verification, LOGOUT and the rest):"; print "  trust store   n    not up  tls p50/p90/max ms         ttg p50/p90 ms     total p50/p90 ms   rest p50 ms"; hr = 1 }
	printf "  %-12s %4s  %4s    %s/%s/%s    %s/%s    %s/%s    %s\n", kv($0, "label"), kv($0, "n"), kv($0, "notup"), kv($0, "tls_p50_ms"), kv($0, "tls_p90_ms"), kv($0, "tls_max_ms"), kv($0, "ttg_p50_ms"), kv($0, "ttg_p90_ms"), kv($0, "total_p50_ms"), kv($0, "total_p90_ms"), kv($0, "rest_p50_ms")
}
/^RESULT bench=timing / {
	ph[++nph] = $0
	if (!ht) { print ""; print "time to greeting vs a 200 ms greeting delay (err = ttg - 200 ms; ref = kernel receive timestamp of a bare connection opened at the same instant, - 200 ms; diff = ttg - ref, paired):"; print "  case        mode  load            CPU%   err p50/p99/max ms     ref p50/p99/max ms     diff p50/p99/max ms   loop delay p50/p99/max ms   ok/fail  goal"; ht = 1 }
	l = kv($0, "label"); goal = (l ~ /^idle/) ? 2 : 5
	ld = kv($0, "load_mode") == "-" ? "none" : kv($0, "load_mode") " " kv($0, "load_rate") "/s"
	printf "  %-11s %-5s %-15s %5s   %s/%s/%s   %s/%s/%s   %s/%s/%s   %s/%s/%s   %s/%s  p99<%d ms: %s\n", l, kv($0, "mode"), ld, kv($0, "cpu_pct"), kv($0, "err_p50_ms"), kv($0, "err_p99_ms"), kv($0, "err_max_ms"), kv($0, "ref_p50_ms"), kv($0, "ref_p99_ms"), kv($0, "ref_max_ms"), kv($0, "diff_p50_ms"), kv($0, "diff_p99_ms"), kv($0, "diff_max_ms"), kv($0, "loopdelay_p50_ms"), kv($0, "loopdelay_p99_ms"), kv($0, "loopdelay_max_ms"), kv($0, "ok"), kv($0, "fail"), goal, verdict(kv($0, "err_p99_ms") + 0 < goal)
}
END {
	if (nph) { print ""; print "phases of the measured probes (connect: ours; refconn: tcpi_rtt of the bare reference socket; sum off: plain probes whose connect + greeting != ttg):"; print "  case        mode  delay  connect p50/p99/max ms   refconn p50/p99 ms   greeting min/p50/p99 ms   sum off" }
	for (i = 1; i <= nph; i++) { $0 = ph[i]; printf "  %-11s %-5s %5s  %s/%s/%s   %s/%s   %s/%s/%s   %s\n", kv($0, "label"), kv($0, "mode"), kv($0, "delay_ms"), kv($0, "connect_p50_ms"), kv($0, "connect_p99_ms"), kv($0, "connect_max_ms"), kv($0, "refconn_p50_ms"), kv($0, "refconn_p99_ms"), kv($0, "greeting_min_ms"), kv($0, "greeting_p50_ms"), kv($0, "greeting_p99_ms"), kv($0, "sum_off") }
	for (m in best) printf "\nhighest steady rate that held, %s: %d probes/s on one core (goal 1667/s: %s)\n", m, best[m], verdict(best[m] >= 1667)
}' "$1"
}

# ---- HTTP load against the daemon (bench/run.sh http) ----------------------
# The real daemon with HN imaps checks every 30 s (the schedule run 1/HSCALE
# times faster, for samples: MAILPULSE_TIME_SCALE) against the target, on a
# store seeded with HDAYS days of their history (storeseed; kept in
# $BUILD/bench-http and made again when older than 6 h). Per variant
# (HVARIANTS: "cache" as built, "nocache" with MAILPULSE_API_CACHE=off, which
# is the code before the cache; "tls": as built, the listener on HTTPS
# (http.tls_cert, ECDSA P-256), every request a new TLS handshake on the
# probes' loop; a BASE_MAILPULSE binary as "base"): HPHASE_S
# seconds idle, then HPHASE_S seconds while HC clients fetch /status,
# /api/v1/checks, /api/v1/checks/NAME and /metrics in turn as fast as they are
# answered, a new connection each (wrk; curl loops without it: kept-alive
# connections wait ~40 ms per reply for delayed ACKs, which is no load at
# all). Time to greeting of the healthy
# probes of each phase comes from the daemon's own results; the daemon's CPU
# from /proc. The daemon runs on CPU 0, the target and the clients on CPU 1;
# the daemon and the target at nice HNICE (-10: other work on a shared
# machine does not decide the figures), the clients at 19 (they do not
# delay the target's replies).
HN=${HN:-200}
HDAYS=${HDAYS:-30}
HSCALE=${HSCALE:-0.2}
HPHASE_S=${HPHASE_S:-60}
HC=${HC:-4}
HVARIANTS=${HVARIANTS:-cache nocache}
HTTPPORT=$((PORT + 70))
HSCHEME=http # https for the tls variant
# The daemon and its target run at this nice level: the figures are about
# the daemon's own loop, not about other work on a shared machine.
HNICE=${HNICE:--10}

http_conf() { # file store
	{
		cat <<YAML
location: bench
store: $2
http:
  listen: "127.0.0.1:$HTTPPORT"
  public_status: {enabled: true, title: "bench", checks: [tier=public]}
YAML
		[ "$HSCHEME" = https ] && printf '  tls_cert: %s\n  tls_key: %s\n' "$CERTS/https.pem" "$CERTS/https.key"
		cat <<YAML
defaults: {interval: 30s, timeout: 10s}
checks:
YAML
		for i in $(seq 0 $((HN - 1))); do
			printf '  - {name: chk-%07d, url: "imaps://mail.bench.test:%d", resolve: [127.0.0.1], ca_file: %s, labels: [tier=public]}\n' \
				"$i" "$(port_of imaps)" "$CA"
		done
	} >"$1"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# The time to greeting (ms) of up results of every check in [from, to).
http_ttg() { # from_ms to_ms out
	local i
	: >"$3"
	for i in $(seq 0 $((HN - 1))); do
		curl -s --cacert "$CA" --max-time 300 "$HSCHEME://127.0.0.1:$HTTPPORT/api/v1/checks/$(printf 'chk-%07d' "$i")/results?from=$1&to=$2&limit=10000" |
			jq -r '.check as $c | .results[] | "\(.status) \(.time_to_greeting_ms) \(.ts_ms) \($c)"' >>"$3"
	done
}

http_load() { # seconds
	local paths=(/status /api/v1/checks "/api/v1/checks/chk-0000042" /metrics)
	if command -v wrk >/dev/null; then
		cat >"$WORK/paths.lua" <<'LUA'
local paths = {"/status", "/api/v1/checks", "/api/v1/checks/chk-0000042", "/metrics"}
local i = 0
request = function()
	i = i % #paths + 1
	return wrk.format("GET", paths[i], {["Connection"] = "close"})
end
LUA
		"${SRV[@]}" nice -n 19 wrk -t "$(((HC + 1) / 2))" -c "$HC" -d "${1}s" --timeout 300s -s "$WORK/paths.lua" \
			"$HSCHEME://127.0.0.1:$HTTPPORT" >"$WORK/wrk.out" 2>&1 || true
		awk '/Requests\/sec/ { print "req_s=" $2 } / requests in / { print "requests=" $1 }
			/^    Latency/ { print "lat_avg=" $2 " lat_max=" $4 }' "$WORK/wrk.out" | tr '\n' ' '
	else
		local end=$((SECONDS + $1)) k n=0
		for k in $(seq "$HC"); do
			(
				j=$k
				while [ $SECONDS -lt $end ]; do
					nice -n 19 curl -s --cacert "$CA" -o /dev/null --max-time 300 "$HSCHEME://127.0.0.1:$HTTPPORT${paths[$((j % 4))]}"
					j=$((j + 1))
					echo x
				done
			) >"$WORK/curl-$k.out" &
		done
		sleep "$1"
		sleep 1
		n=$(cat "$WORK"/curl-*.out 2>/dev/null | wc -l)
		echo "requests=$n req_s=$(awk -v n="$n" -v s="$1" 'BEGIN { printf "%.1f", n / s }') client=curl"
	fi
}

http_phase_result() { # variant phase from to cpu_ticks seconds extra
	local f=$WORK/ttg-$1-$2.txt
	http_ttg "$3" "$4" "$f"
	# Up results sorted by time to greeting, then the others.
	{ awk '$1 == "up"' "$f" | sort -g -k2; awk '$1 != "up"' "$f"; } |
	awk -v v="$1" -v ph="$2" -v cpu="$5" -v s="$6" -v hz="$(getconf CLK_TCK)" -v extra="$7" \
		-v n="$HN" -v days="$HDAYS" -v scale="$HSCALE" '
		$1 == "up" { t[++u] = $2 + 0; next } { bad++ }
		END {
			p50 = u ? t[int(u * 0.50) + 1 > u ? u : int(u * 0.50) + 1] : -1
			p99 = u ? t[int(u * 0.99) + 1 > u ? u : int(u * 0.99) + 1] : -1
			printf "RESULT bench=http variant=%s phase=%s checks=%d store_days=%s scale=%s up=%d notup=%d ttg_p50_ms=%.3f ttg_p99_ms=%.3f ttg_max_ms=%.3f cpu_pct=%.1f %s\n",
				v, ph, n, days, scale, u, bad + 0, p50, p99, u ? t[u] : -1, 100 * cpu / hz / s, extra
		}' >>"$RES"
}

bench_http() {
	local dir=$BUILD/bench-http seed v bin pid t0 t1 t2 t3 c0 c1 c2 c3 load health
	if [ -z "$MAILPULSE" ]; then
		say "http: the mailpulse binary did not build in $BUILD"
		return 1
	fi
	command -v wrk >/dev/null || say "http: wrk not installed (apt-get install wrk): curl loops instead"
	renice -n "$HNICE" -p "$SPID" >/dev/null 2>&1 || say "http: cannot renice the target to $HNICE"
	mkdir -p "$dir"
	seed=$dir/seed-$HN-$HDAYS.db
	if [ ! -f "$seed" ] || [ -n "$(find "$seed" -mmin +360)" ]; then
		rm -f "$seed" "$seed-wal" "$seed-shm"
		say "http: seeding $HN checks x $HDAYS days every 30 s (~$((HN * HDAYS / 100)) s)"
		"$BUILD/bench/storeseed" --db "$seed" --n "$HN" --days "$HDAYS" >&2
	fi
	for v in $HVARIANTS; do
		bin=$MAILPULSE
		local env=(MAILPULSE_TIME_SCALE="$HSCALE")
		HSCHEME=http
		case $v in
		nocache) env+=(MAILPULSE_API_CACHE=off) ;;
		tls)
			HSCHEME=https
			"$CG" --out "$CERTS/https" --cn 127.0.0.1 --issuer "$CERTS/int-ec" --san IP:127.0.0.1 \
				--key p256 >/dev/null
			cat "$CERTS/https.crt" "$CERTS/int-ec.crt" >"$CERTS/https.pem"
			;;
		base)
			bin=${BASE_MAILPULSE:?base needs BASE_MAILPULSE}
			;;
		esac
		say "http: $v: copying the store, starting the daemon"
		rm -f "$WORK/h.db" "$WORK/h.db-wal" "$WORK/h.db-shm"
		cp "$seed" "$WORK/h.db"
		http_conf "$WORK/h.yaml" "$WORK/h.db"
		env "${env[@]}" "${CLI[@]}" nice -n "$HNICE" "$bin" run -c "$WORK/h.yaml" 2>"$WORK/daemon-$v.log" &
		pid=$!
		PIDS+=("$pid")
		wait_port "$HTTPPORT"
		# First runs spread over an interval; then the cache's first build.
		sleep 10
		for _ in $(seq 120); do
			health=$(curl -s --cacert "$CA" --max-time 5 "$HSCHEME://127.0.0.1:$HTTPPORT/api/v1/health")
			jq -e '(.api_cache.enabled | not) or .api_cache.age_ms != null' <<<"$health" >/dev/null 2>&1 && break
			sleep 1
		done
		say "  idle ${HPHASE_S} s"
		t0=$(($(date +%s%3N))) c0=$(cpu_ticks "$pid")
		sleep "$HPHASE_S"
		t1=$(($(date +%s%3N))) c1=$(cpu_ticks "$pid")
		say "  $HC clients ${HPHASE_S} s"
		t2=$(($(date +%s%3N))) c2=$(cpu_ticks "$pid")
		load=$(http_load "$HPHASE_S")
		t3=$(($(date +%s%3N))) c3=$(cpu_ticks "$pid")
		say "  collecting results ($load)"
		# Without the cache the loop may still be busy with requests the clients left.
		for _ in $(seq 600); do
			health=$(curl -s --cacert "$CA" --max-time 5 "$HSCHEME://127.0.0.1:$HTTPPORT/api/v1/health") && break
			sleep 1
		done
		http_phase_result "$v" idle "$t0" "$t1" $((c1 - c0)) "$(((t1 - t0) / 1000))" ""
		http_phase_result "$v" load "$t2" "$t3" $((c3 - c2)) "$(((t3 - t2) / 1000))" \
			"clients=$HC $load slots_skipped=$(jq -r '.slots_skipped' <<<"$health") cache=$(jq -c '.api_cache // {}' <<<"$health" | tr -d ' ')"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || true
		rm -f "$WORK/h.db" "$WORK/h.db-wal" "$WORK/h.db-shm" # up to 1.6 GB each
	done
}

report_http() {
	awk "$AWK_KV"'
/^RESULT bench=http / {
	if (!h) {
		print "time to greeting of healthy imaps probes, idle and while clients poll the dashboard endpoints:"
		print "  variant  phase  checks  store  up/not up   ttg p50/p99/max ms        added p99 ms  daemon CPU%  HTTP req/s  goal (added p99 <= 5 ms)"
		h = 1
	}
	v = kv($0, "variant"); ph = kv($0, "phase")
	if (ph == "idle") { idle[v] = kv($0, "ttg_p99_ms"); nidle[v] = kv($0, "up") }
	add = ph == "load" ? sprintf("%.2f", kv($0, "ttg_p99_ms") - idle[v]) : "-"
	# Probes that never ran or never finished are no sample: fewer results than idle is a miss.
	starved = ph == "load" && kv($0, "up") + 0 < 0.9 * nidle[v]
	verdict = ph != "load" ? "" : starved ? "MISS (" kv($0, "up") " of " nidle[v] " probes)" : (add + 0 <= 5) ? "met" : "MISS"
	printf "  %-8s %-5s %6s  %4sd   %5s/%-5s  %8s/%8s/%8s  %12s  %11s  %10s  %s\n", v, ph, kv($0, "checks"), kv($0, "store_days"), kv($0, "up"), kv($0, "notup"), kv($0, "ttg_p50_ms"), kv($0, "ttg_p99_ms"), kv($0, "ttg_max_ms"), add, kv($0, "cpu_pct"), ph == "load" ? kv($0, "req_s") : "-", verdict
	if (ph == "load") lines[++nl] = "  " v ": " kv($0, "requests") " requests, latency avg " kv($0, "lat_avg") " max " kv($0, "lat_max") ", slots skipped " kv($0, "slots_skipped") ", cache " kv($0, "cache")
}
END { for (i = 1; i <= nl; i++) print lines[i] }' "$1"
}

# ---- TLS library floors ----------------------------------------------------
# The imaps handshake + greeting floor, same loop, CA, SNI, host check and
# groups, with OpenSSL (enginebench floor) and each other library found.
# Interleaved per repeat, so drift on the VM hits every library alike.
bench_tlsfloor() {
	local kt i l port
	say "TLS library floors, N=$N C=$C, x$REPS each; then C=1, N=$((N / 4)); libraries: openssl ${TLSLIBS[*]}"
	for kt in ec rsa; do
		if [ $kt = ec ]; then port=$(port_of imaps); else port=$(port_of imaps rsa); fi
		for i in $(seq "$REPS"); do
			run $kt floor --mode imaps --port "$port" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
			for l in "${TLSLIBS[@]}"; do
				say "  $kt tlsfloor-$l"
				"${CLI[@]}" "$BUILD/bench/tlsfloor-$l" --port "$port" --ca "$CA" --n "$N" -c "$C" \
					--server-pid "$SPID" --label $kt >>"$RES" 2>>"$WORK/stderr.log" ||
					tail -n 2 "$WORK/stderr.log" >&2
			done
		done
		run "$kt-c1" floor --mode imaps --port "$port" --ca "$CA" --n $((N / 4)) -c 1 --server-pid "$SPID"
		for l in "${TLSLIBS[@]}"; do
			"${CLI[@]}" "$BUILD/bench/tlsfloor-$l" --port "$port" --ca "$CA" --n $((N / 4)) -c 1 \
				--server-pid "$SPID" --label "$kt-c1" >>"$RES" 2>>"$WORK/stderr.log" ||
				tail -n 2 "$WORK/stderr.log" >&2
		done
	done
}

# ---- probing nodes (issue 12): nodebench and the real binaries -------------
# Three figures of issue 12, against the real `mailpulse run` (controller) and
# `mailpulse probe` (node), each with its own store or spool in $WORK/nodes:
#
#  nodes-ingest  NDNODES nodes x NDCHECKS checks every 30 s (3 333 results/s):
#                nodebench load plays the nodes (results: one real `mailpulse
#                check --json` of the target, encoded as a node encodes them);
#                the controller alone on CPU 0. Variants NDINGEST (http https).
#                The probe's own CPU beside it: enginebench engine, imaps and
#                pop3, REPS runs each, the same CPU.
#  nodes-probe   NDN checks (NDMODE, against the target) probed by a node that
#                pushes to a controller on CPU 1, and by `mailpulse run`
#                locally, both on CPU 0, alternated NDREPS times per time scale
#                (NDSCALES); CPU per probe from /proc over NDRUN_S seconds after
#                NDWARM_S, probes counted in the store (`nodebench rows`).
#  nodes-replay  a node whose spool holds SPN results (nodebench fill, through
#                src/store/spool.c), started while its controller is away; the
#                controller comes back RPOFF_S seconds later; nodebench watch
#                times the replay and the lag of the results probed meanwhile.
#                Node, controller and watch share CPU 0; the target has CPU 1
#                alone: a controller beside the target slowed the target's
#                greetings while it ingested the backlog, which the node then
#                measured (bench/RESULTS.md, tenth slice).
#
# Each process under test runs in its own session with the scheduler
# autogroup's nice at NDNICE (-19): on a machine shared with other work, the
# kernel shares the CPU between sessions first (sched_autogroup), whatever a
# process's own nice; the loop's wait for a CPU is printed beside each figure.
NDPORT=$((PORT + 75))
NDNODES=${NDNODES:-10}
NDCHECKS=${NDCHECKS:-10000}
NDWIN_S=${NDWIN_S:-60}
NDINGEST=${NDINGEST:-http https}
NDN=${NDN:-1000}
NDMODE=${NDMODE:-imaps}
NDSCALES=${NDSCALES:-0.1 1}
NDREPS=${NDREPS:-1}
NDWARM_S=${NDWARM_S:-15}
NDRUN_S=${NDRUN_S:-60}
SPN=${SPN:-100000}
RPOFF_S=${RPOFF_S:-5}
NDNICE=${NDNICE:--19}
ND=$WORK/nodes
NB=$BUILD/bench/nodebench

# A prefix: the command in a session of its own, its autogroup at NDNICE.
# Each step execs the next (setsid does not fork outside a process group's
# lead, which a background command of a script is not), so $! is its PID.
NDP=(setsid sh -c 'echo "$0" >/proc/self/autogroup 2>/dev/null; exec "$@"' "$NDNICE")

# Is pid (already) the binary? Waits up to 2 s for the execs.
nd_is() { # pid binary
	for _ in $(seq 20); do
		[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$2")" ] && return 0
		sleep 0.1
	done
	say "nodes: pid $1 is not $2"
	exit 1
}

nd_prepare() {
	[ -n "$MAILPULSE" ] || {
		say "nodes: the mailpulse binary did not build in $BUILD"
		exit 1
	}
	cmake --build "$BUILD" -j"$(nproc)" --target nodebench >/dev/null
	mkdir -p "$ND/tokens"
	local j
	for j in $(seq 0 $((NDNODES - 1))); do
		head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$ND/tokens/$(printf 'n%02d' "$j").token"
	done
	chmod 600 "$ND"/tokens/*.token
	# The controller's own certificate, for HTTPS on 127.0.0.1.
	"$CG" --out "$CERTS/https" --cn 127.0.0.1 --issuer "$CERTS/int-ec" --san IP:127.0.0.1 \
		--key p256 >/dev/null
	cat "$CERTS/https.crt" "$CERTS/int-ec.crt" >"$CERTS/https.pem"
	# One real result of the target, as a node would make it: the template.
	"$MAILPULSE" check --json --resolve mail.bench.test:127.0.0.1 --ca-file "$CA" \
		"imaps://mail.bench.test:$(port_of imaps)" >"$ND/template.json"
}

# The controller's configuration: file store scheme nodes checks mode locations(yes|no)
nd_conf() {
	local file=$1 store=$2 scheme=$3 nodes=$4 n=$5 mode=$6 locs=$7 j list="" url stls=""
	for j in $(seq 0 $((nodes - 1))); do list="$list${list:+, }$(printf 'n%02d' "$j")"; done
	url="${mode%%+*}://mail.bench.test:$(port_of "$mode")"
	case $mode in *+*) stls="    starttls: require" ;; esac
	{
		echo "location: ctl"
		echo "store: $store"
		if [ "$scheme" = https ]; then
			echo "http: {listen: \"127.0.0.1:$NDPORT\", tls_cert: $CERTS/https.pem, tls_key: $CERTS/https.key}"
		else
			echo "http: {listen: \"127.0.0.1:$NDPORT\"}"
		fi
		echo "defaults: {interval: 30s, timeout: 10s}"
		echo "nodes:"
		for j in $(seq 0 $((nodes - 1))); do
			printf '  - {name: n%02d, token_file: %s/tokens/n%02d.token}\n' "$j" "$ND" "$j"
		done
		echo "checks:"
		awk -v n="$n" -v url="$url" -v ca="$CA" -v list="$list" -v locs="$locs" -v stls="$stls" 'BEGIN {
			for (i = 0; i < n; i++) {
				printf "  - name: chk-%05d\n    url: %s\n    resolve: [127.0.0.1]\n    ca_file: %s\n", i, url, ca
				if (stls != "") print stls
				if (locs == "yes") printf "    locations: [%s]\n", list
			}
		}'
	} >"$file"
	"$MAILPULSE" config check "$file" >/dev/null
}

nd_stop() { # pid: TERM, then wait for it (the store's last flush)
	kill "$1" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
}

# Start the controller (or daemon) of config $1 on cpu $2 with time scale $3; sets NDPID.
nd_start_ctl() {
	local conf=$1 cpu=$2 scale=$3 log=$4
	MAILPULSE_TIME_SCALE=$scale "${NDP[@]}" taskset -c "$cpu" "$MAILPULSE" run -c "$conf" >>"$log" 2>&1 &
	NDPID=$!
	PIDS+=("$NDPID")
	nd_is "$NDPID" "$MAILPULSE"
	wait_port "$NDPORT"
}

bench_nodes_ingest() {
	local scheme base cafl=()
	say "nodes-ingest: the probe's own CPU on this machine (enginebench, imaps and pop3, x$REPS)"
	R=$REPS run ec engine --mode imaps --port "$(port_of imaps)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	R=$REPS run ec engine --mode pop3 --port "$(port_of pop3)" --ca "$CA" --n "$N" -c "$C" --server-pid "$SPID"
	for scheme in $NDINGEST; do
		say "nodes-ingest $scheme: $NDNODES nodes x $NDCHECKS checks every 30 s, ${NDWIN_S} s measured"
		rm -f "$ND"/ingest.db*
		nd_conf "$ND/ingest.yaml" "$ND/ingest.db" "$scheme" "$NDNODES" "$NDCHECKS" imaps yes
		nd_start_ctl "$ND/ingest.yaml" 0 1 "$ND/ingest-$scheme.log"
		base="$scheme://127.0.0.1:$NDPORT"
		cafl=()
		[ "$scheme" = https ] && cafl=(--ca "$CA")
		"${NDP[@]}" taskset -c 1 "$NB" load --url "$base" --tokens "$ND/tokens" --nodes "$NDNODES" \
			--template "$ND/template.json" "${cafl[@]}" --warmup-s 10 --duration-s "$NDWIN_S" \
			--ctl-pid "$NDPID" --store "$ND/ingest.db" --label "$scheme" >"$ND/ingest-$scheme.out" \
			2>>"$WORK/stderr.log" || say "  nodebench load failed: $(tail -n 1 "$WORK/stderr.log")"
		sed 's/^/  /' "$ND/ingest-$scheme.out" | grep -v '^  RESULT' >&2
		grep '^RESULT' "$ND/ingest-$scheme.out" >>"$RES" || true
		nd_stop "$NDPID"
		rm -f "$ND"/ingest.db*
	done
}

# One side of the node figure: node|local, time scale; appends a RESULT line.
nd_probe_side() {
	local side=$1 scale=$2 conf=$ND/probe-$1.yaml store=$ND/probe-$1.db pid ctl="" t0 t1 c0 c1 w0 w1 k0=0 k1=0 rows loc
	rm -f "$store"* "$ND/n00.spool"*
	if [ "$side" = node ]; then
		nd_conf "$conf" "$store" https 1 "$NDN" "$NDMODE" yes
		nd_start_ctl "$conf" 1 "$scale" "$ND/probe-ctl.log"
		ctl=$NDPID
		MAILPULSE_TIME_SCALE=$scale "${NDP[@]}" taskset -c 0 "$MAILPULSE" probe --controller "https://127.0.0.1:$NDPORT" \
			--name n00 --token-file "$ND/tokens/n00.token" --ca-file "$CA" --spool "$ND/n00.spool" \
			>>"$ND/probe-node.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		nd_is "$pid" "$MAILPULSE"
		loc=n00
	else
		nd_conf "$conf" "$store" http 1 "$NDN" "$NDMODE" no
		nd_start_ctl "$conf" 0 "$scale" "$ND/probe-local.log"
		pid=$NDPID
		loc=ctl
	fi
	sleep "$NDWARM_S"
	t0=$(date +%s%3N) c0=$(cpu_ticks "$pid") w0=$(awk '{print $2}' "/proc/$pid/schedstat")
	[ -n "$ctl" ] && k0=$(cpu_ticks "$ctl")
	sleep "$NDRUN_S"
	t1=$(date +%s%3N) c1=$(cpu_ticks "$pid") w1=$(awk '{print $2}' "/proc/$pid/schedstat")
	[ -n "$ctl" ] && k1=$(cpu_ticks "$ctl")
	sleep 3 # the node's last push, the store's last flush
	rows=$("$NB" rows --store "$store" --from-ms "$t0" --to-ms "$t1" --location "$loc")
	awk -v side="$side" -v scale="$scale" -v mode="$NDMODE" -v n="$NDN" -v rows="$rows" \
		-v t="$((t1 - t0))" -v c="$((c1 - c0))" -v k="$((k1 - k0))" -v w="$((w1 - w0))" \
		-v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(rows, a, " "); for (i in a) { split(a[i], kv, "="); f[kv[1]] = kv[2] }
		cpu = c * 1000 / hz
		printf "RESULT bench=nodes-probe side=%s scale=%s mode=%s checks=%s window_s=%.1f probes=%d up=%d cpu_ms=%.0f cpu_per_probe_ms=%.4f cpu_pct=%.1f wait_ms=%.0f ctl_cpu_ms=%.0f total_p50_ms=%s total_p99_ms=%s\n",
			side, scale, mode, n, t / 1000, f["rows"], f["up"], cpu, f["rows"] ? cpu / f["rows"] : 0, cpu / t * 100, w / 1e6, k * 1000 / hz, f["total_p50_ms"], f["total_p99_ms"]
	}' >>"$RES"
	say "    $(tail -n 1 "$RES" | cut -d' ' -f3-)"
	nd_stop "$pid"
	[ -n "$ctl" ] && nd_stop "$ctl"
	rm -f "$store"* "$ND/n00.spool"*
}

bench_nodes_probe() {
	local scale i
	for scale in $NDSCALES; do
		for i in $(seq "$NDREPS"); do
			say "nodes-probe: $NDN $NDMODE checks every 30 s x $scale, run $i of $NDREPS: node, then local"
			nd_probe_side node "$scale"
			nd_probe_side local "$scale"
		done
	done
}

bench_nodes_replay() {
	local conf=$ND/replay.yaml store=$ND/replay.db spool=$ND/n00.spool ctl node since ready
	rm -f "$store"* "$spool"*
	nd_conf "$conf" "$store" https 1 "$NDN" imaps yes
	say "nodes-replay: $SPN results into the spool of node n00 ($NDN imaps checks every 30 s)"
	nd_start_ctl "$conf" 0 1 "$ND/replay-ctl.log"
	ctl=$NDPID
	"$NB" fill --url "https://127.0.0.1:$NDPORT" --ca "$CA" --token "$ND/tokens/n00.token" --node n00 \
		--template "$ND/template.json" --spool "$spool" --n "$SPN" --max $((SPN * 2)) >&2
	nd_stop "$ctl"
	say "  the node starts, its controller away for ${RPOFF_S} s"
	since=$(date +%s%3N)
	"${NDP[@]}" taskset -c 0 "$MAILPULSE" probe --controller "https://127.0.0.1:$NDPORT" --name n00 \
		--token-file "$ND/tokens/n00.token" --ca-file "$CA" --spool "$spool" --spool-max $((SPN * 2)) \
		>>"$ND/replay-node.log" 2>&1 &
	node=$!
	PIDS+=("$node")
	nd_is "$node" "$MAILPULSE"
	sleep "$RPOFF_S"
	nd_start_ctl "$conf" 0 1 "$ND/replay-ctl.log"
	ctl=$NDPID
	ready=$(date +%s%3N)
	say "  the controller is back; watching the replay"
	"${NDP[@]}" taskset -c 0 "$NB" watch --store "$store" --spool "$spool" --node n00 \
		--url "https://127.0.0.1:$NDPORT" --ca "$CA" --since-ms "$since" --ready-ms "$ready" \
		--backlog "$SPN" --node-pid "$node" --ctl-pid "$ctl" --timeout-s 120 --settle-s 15 \
		--label imaps >"$ND/replay.out" 2>>"$WORK/stderr.log" || say "  the replay did not finish in 120 s"
	sed 's/^/  /' "$ND/replay.out" | grep -v '^  RESULT' >&2
	grep '^RESULT' "$ND/replay.out" >>"$RES" || true
	grep -E 'refused|dropped|spool full' "$ND/replay-node.log" | head -5 >&2 || true
	nd_stop "$node"
	nd_stop "$ctl"
	rm -f "$store"* "$spool"*
}

report_nodes() { # the nodes-* RESULT lines, and the probe's own CPU beside them
	awk "$AWK_KV"'
function verdict(ok) { return ok ? "met" : "MISS" }
/^RESULT bench=engine / && kv($0, "label") == "ec" { m = kv($0, "mode"); eng[m, ++ne[m]] = kv($0, "cpu_ms") + 0 }
/^RESULT bench=nodes-ingest / { ing[++ni] = $0 }
/^RESULT bench=nodes-probe / { key = kv($0, "scale"); side = kv($0, "side"); pr[key, side] += kv($0, "cpu_ms"); pp[key, side] += kv($0, "probes"); if (!(key in seen)) { seen[key] = 1; sc[++ns] = key }; prl[++npl] = $0 }
/^RESULT bench=nodes-replay / { rp[++nr] = $0 }
function median(m,   n, i, j, t, v) {
	n = ne[m]; if (!n) return 0
	for (i = 1; i <= n; i++) v[i] = eng[m, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	return v[int((n + 1) / 2)]
}
END {
	pi = median("imaps"); pp3 = median("pop3")
	if (ni) {
		printf "controller ingest (goal: one core, lag p99 < 1 s, CPU per result <= 0.3 x the probe; probe CPU on this machine: imaps %.4f ms, pop3 %.4f ms, enginebench median of %d):\n", pi, pp3, ne["imaps"]
		print "  listener  offered/s  ingested/s  ctl CPU%  CPU/result ms  x imaps probe  x pop3 probe  lag->reply p50/p99/max ms  lag->store p50/p99/max ms  request p50/p99 ms  loop waited ms  refused/failed"
	}
	for (i = 1; i <= ni; i++) {
		$0 = ing[i]; c = kv($0, "cpu_per_result_ms") + 0
		ri = pi > 0 ? c / pi : 0; rp3 = pp3 > 0 ? c / pp3 : 0
		printf "  %-8s %10s %11s %9s %14.4f %8.2f %-5s %8.2f %-5s %8s/%s/%s %17s/%s/%s %13s/%s %15s  %s/%s\n", kv($0, "label"), kv($0, "offered_rate"), kv($0, "ingest_rate"), kv($0, "ctl_cpu_pct"), c, ri, ri <= 0.3 ? "" : "MISS", rp3, rp3 <= 0.3 ? "" : "MISS", kv($0, "lag_reply_p50_ms"), kv($0, "lag_reply_p99_ms"), kv($0, "lag_reply_max_ms"), kv($0, "lag_store_p50_ms"), kv($0, "lag_store_p99_ms"), kv($0, "lag_store_max_ms"), kv($0, "req_p50_ms"), kv($0, "req_p99_ms"), kv($0, "ctl_wait_ms"), kv($0, "refused"), kv($0, "failures")
		printf "           lag p99 < 1 s: to the reply (the state alerts judge) %s, to the store row %s; store flush last/max %s ms; controller RSS %s MB; first pull of the assignments per node: %s MB, %s ms\n", verdict(kv($0, "lag_reply_p99_ms") + 0 < 1000), verdict(kv($0, "lag_store_p99_ms") + 0 < 1000), kv($0, "flush_ms"), kv($0, "ctl_rss_mb"), kv($0, "pull_mb"), kv($0, "pull_ms")
	}
	if (npl) {
		print ""
		print "node vs daemon, CPU per probe (goal: node <= 1.05 x local):"
		print "  side   scale  mode   checks  window s  probes  up      CPU ms  CPU/probe ms  CPU%   loop waited ms  total p50/p99 ms  controller CPU ms"
	}
	for (i = 1; i <= npl; i++) {
		$0 = prl[i]
		printf "  %-6s %5s  %-6s %6s  %8s  %6s  %6s  %7s  %12s  %5s  %14s  %s/%s  %s\n", kv($0, "side"), kv($0, "scale"), kv($0, "mode"), kv($0, "checks"), kv($0, "window_s"), kv($0, "probes"), kv($0, "up"), kv($0, "cpu_ms"), kv($0, "cpu_per_probe_ms"), kv($0, "cpu_pct"), kv($0, "wait_ms"), kv($0, "total_p50_ms"), kv($0, "total_p99_ms"), kv($0, "side") == "node" ? kv($0, "ctl_cpu_ms") : "-"
	}
	for (i = 1; i <= ns; i++) {
		s = sc[i]
		if (!pp[s, "node"] || !pp[s, "local"]) continue
		a = pr[s, "node"] / pp[s, "node"]; b = pr[s, "local"] / pp[s, "local"]
		printf "  scale %s (all runs pooled): node %.4f ms, local %.4f ms per probe: node / local = %.3f (goal <= 1.05: %s)\n", s, a, b, a / b, verdict(a / b <= 1.05)
	}
	for (i = 1; i <= nr; i++) {
		$0 = rp[i]
		if (i == 1) { print ""; print "spool replay end to end (goal: 100 000 spooled results in under 60 s, live results not stalled):" }
		printf "  %s results: first batch taken %s s after the controller came back, all of them %s s (%s) -> %s results/s; the heartbeat showed the spool under 100 at %s s\n", kv($0, "backlog"), kv($0, "first_ack_s"), kv($0, "replay_s"), verdict(kv($0, "replay_s") + 0 > 0 && kv($0, "replay_s") + 0 < 60), kv($0, "rate"), kv($0, "hb_empty_s")
		# Stalled: live results of the replay later than twice those after it (at least 1 s).
		base = kv($0, "lag_after_p99_ms") + 0; if (base < 1000) base = 1000
		printf "  live results probed before the first batch of the node went through (its backoff while the controller was away): %s, lag p99 %s ms\n", kv($0, "live_before"), kv($0, "lag_before_p99_ms")
		printf "  live results probed during the replay: %s, lag to the store p50/p99/max %s/%s/%s ms; after it: %s, p50/p99 %s/%s ms (not stalled: %s)\n", kv($0, "live_during"), kv($0, "lag_during_p50_ms"), kv($0, "lag_during_p99_ms"), kv($0, "lag_during_max_ms"), kv($0, "live_after"), kv($0, "lag_after_p50_ms"), kv($0, "lag_after_p99_ms"), verdict(kv($0, "lag_during_p99_ms") + 0 <= 2 * base)
		printf "  the node loop: probe total p99 %s ms during the replay, %s ms after (time to greeting p99 %s / %s ms); CPU during the replay: node %s ms, controller %s ms (loops waited for a CPU %s / %s ms)\n", kv($0, "total_during_p99_ms"), kv($0, "total_after_p99_ms"), kv($0, "ttg_during_p99_ms"), kv($0, "ttg_after_p99_ms"), kv($0, "node_cpu_ms"), kv($0, "ctl_cpu_ms"), kv($0, "node_wait_ms"), kv($0, "ctl_wait_ms")
		printf "  the controller counted %s results accepted and %s late (history only: older than 3 intervals, or than a result the live lane brought first), %s duplicates, %s refused; %s rows of the backlog in its store\n", kv($0, "accepted"), kv($0, "late"), kv($0, "dup"), kv($0, "refused"), kv($0, "stored_before")
	}
}' "$1"
}

report_tlsfloor() { # the floor and tlsfloor RESULT lines: median CPU per handshake
	awk -v libs="openssl ${TLSLIBS[*]}" "$AWK_KV"'
/^RESULT bench=(floor|tlsfloor-[a-z]+) / {
	b = kv($0, "bench"); lib = (b == "floor") ? "openssl" : substr(b, 10)
	key = lib "|" kv($0, "label")
	cnt[key]++; all[key, cnt[key]] = $0
}
END {
	for (key in cnt) {
		n = cnt[key]
		# blackbox rows: the median of the exporter CPU (their cpu_ms is the HTTP driver)
		f = (index(key, "blackbox|") == 1) ? "peer_cpu_ms" : "cpu_ms"
		for (i = 1; i <= n; i++) { v[i] = kv(all[key, i], f) + 0; ix[i] = i }
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && v[ix[j - 1]] > v[ix[j]]; j--) { t = ix[j]; ix[j] = ix[j - 1]; ix[j - 1] = t }
		line[key] = all[key, ix[int((n + 1) / 2)]]
		lo[key] = v[ix[1]]; hi[key] = v[ix[n]]; reps[key] = n
	}
	print "imaps TLS handshake + greeting floor, verify on (CA file + host name), CPU ms per handshake (client user+sys):"
	print "  library  key     C  runs  CPU ms (min-max)          user   sys    x OpenSSL  handshakes/s  srv%  tls / cipher / group                     fail"
	nl = split(libs, L, " ")
	split("ec rsa ec-c1 rsa-c1", K, " ")
	for (k = 1; k <= 4; k++)
		for (i = 1; i <= nl; i++) {
			key = L[i] "|" K[k]; e = line[key]
			if (e == "") continue
			o = kv(line["openssl|" K[k]], "cpu_ms")
			printf "  %-8s %-6s %4s  %4d  %.4f (%.4f-%.4f)  %.4f %.4f  %8s  %12s  %4s  %s / %s / %s  %s\n",
				L[i], K[k], kv(e, "c"), reps[key], kv(e, "cpu_ms"), lo[key], hi[key], kv(e, "user_ms"), kv(e, "sys_ms"),
				(o > 0 ? sprintf("%.2f", kv(e, "cpu_ms") / o) : "-"), kv(e, "rate"), kv(e, "srv_cpu_pct"),
				kv(e, "tls"), kv(e, "cipher"), kv(e, "group"), kv(e, "fail")
		}
}' "$1"
}

case $WHAT in
engine) bench_engine ;;
sched)
	bench_lag
	bench_scale
	;;
lag) bench_lag ;;
scale) bench_scale ;;
memory) bench_memory ;;
timing) bench_timing ;;
tlsfloor) bench_tlsfloor ;;
http) bench_http ;;
nodes)
	nd_prepare
	bench_nodes_ingest
	bench_nodes_probe
	bench_nodes_replay
	;;
nodes-ingest)
	nd_prepare
	bench_nodes_ingest
	;;
nodes-probe)
	nd_prepare
	bench_nodes_probe
	;;
nodes-replay)
	nd_prepare
	bench_nodes_replay
	;;
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
# REV names what was built when BUILD is not this tree's (a snapshot of a commit).
rev=${REV:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}
if [ -z "${REV:-}" ] && [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ]; then rev="$rev+dirty"; fi
"$EB" versions | awk -v rev="$rev" '/^mailpulse=/ { $0 = $0 " (git " rev ")" } { print }'
case $WHAT in nodes*) [ -x "$NB" ] && "$NB" versions | grep -E '^(sqlite|libcurl|jansson)=' ;; esac
echo "kernel=$(uname -r)"
echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
case $WHAT in nodes*) echo "load average at the end=$(cut -d' ' -f1-3 /proc/loadavg)" ;; esac
echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "pinning=${CLI[*]:-none} (client) / ${SRV[*]:-none} (server)"
[ -x "$BB" ] && echo "blackbox_exporter=$("$BB" --version 2>&1 | head -1)"
[ -x "$PLUG/check_imap" ] && echo "monitoring-plugins=$("$PLUG/check_imap" -V 2>&1 | head -1)"
for l in "${TLSLIBS[@]}"; do "$BUILD/bench/tlsfloor-$l" --version; done
echo "raw results: $BUILD/bench-results.txt"

case $WHAT in sched | lag | scale | memory | timing)
	echo
	echo "== figures =="
	report_sched "$RES"
	exit 0
	;;
tlsfloor)
	echo
	echo "== figures (N=$N, C=$C, median of $REPS interleaved runs; C=1 rows N=$((N / 4)), one run) =="
	report_tlsfloor "$RES"
	exit 0
	;;
http)
	echo
	echo "== figures ($HN imaps checks every 30 s x $HSCALE (MAILPULSE_TIME_SCALE), $HDAYS days of history, ${HPHASE_S} s per phase, $HC clients) =="
	report_http "$RES"
	exit 0
	;;
nodes | nodes-*)
	echo
	echo "== figures (probing nodes; autogroup nice $NDNICE; controller and node on CPU 0 unless said) =="
	report_nodes "$RES"
	exit 0
	;;
esac

echo
echo "== figures (N=$N, C=$C in flight, median of $REPS runs where repeated; CPU is the client's user+sys per probe) =="
awk -v OFS='' "$AWK_KV"'
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
		# blackbox rows: the median of the exporter CPU (their cpu_ms is the HTTP driver)
		f = (index(key, "blackbox|") == 1) ? "peer_cpu_ms" : "cpu_ms"
		for (i = 1; i <= n; i++) { v[i] = kv(all[key, i], f) + 0; ix[i] = i }
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
	print "engine        key       probes/s  CPU ms  x floor  x dialog  x bbox  peakRSS MB  KB/inflight  total p50/p99/max ms     greeting p50/p99/max ms  fail  srv%"
	print "(key ec/rsa: verdicts of chains seen before reused, as the daemon runs; ec-full/rsa-full: every chain verified in full)"
	np = 0
	split("imap imap+starttls imaps pop3 pop3+stls pop3s", ms, " ")
	split("imap+starttls imaps pop3+stls pop3s", ts, " ")
	for (k = 1; k <= 6; k++) { pm[++np] = ms[k]; pl[np] = "ec" }
	for (k = 1; k <= 4; k++) { pm[++np] = ts[k]; pl[np] = "full" }
	for (k = 1; k <= 4; k++) { pm[++np] = ts[k]; pl[np] = "rsa" }
	for (k = 1; k <= 4; k++) { pm[++np] = ts[k]; pl[np] = "rsa-full" }
	for (k = 1; k <= np; k++) {
		m = pm[k]; l = pl[k]
		e = line["engine|" m "|" l]
		if (e == "") continue
		tls = (m != "imap" && m != "pop3")
		rsa = (l == "rsa" || l == "rsa-full")
		cpu = kv(e, "cpu_ms")
		fl = tls ? (rsa ? ftr : ft) : fp
		goal = tls ? 1.1 : 1.5
		rf = fl > 0 ? cpu / fl : 0
		d = kv(line["floor-dialogue|" m "|ec"], "cpu_ms")
		bb = kv(line["blackbox|" m "|blackbox"], "peer_cpu_ms")
		bgoal = tls ? 0.6 : 0.3
		rb = (bb > 0 && !rsa) ? r2(cpu / bb) mark(cpu / bb, bgoal) : "-"
		moon = (tls && cpu > 0.4) ? " (moonshot 0.4 MISS)" : ""
		rd = (d > 0 && !rsa) ? r2(cpu / d) : "-"
		printf "%-13s %-8s %9.0f  %6.3f  %5s%-5s %6s  %-12s %6.1f  %10.1f    %s/%s/%s   %s/%s/%s  %4s  %4s%s\n",
			m, l == "full" ? "ec-full" : l, kv(e, "rate"), cpu, r2(rf), mark(rf, goal), rd,
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
		if (!hdr) { print ""; print "blackbox_exporter (tcp prober, query_response; its CPU from /proc/PID/stat; GOMAXPROCS=1; median of REPS runs)"; hdr = 1 }
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
