# SPDX-License-Identifier: ISC
# lib.sh - regions and nodes on one machine, for tests of distributed
# behaviour. Source it from a bash test script running as root:
#
#   rg_init                        check support (exit 77 without it), make the
#                                  router namespace, sweep leftovers, arm cleanup
#   rg_region NAME INDEX           a region: a bridge in the router, 10.254.INDEX.1/24
#   rg_node NAME REGION HOST       a namespace NAME in REGION at 10.254.INDEX.HOST
#   rg_addr NAME                   print a node's address
#   rg_ns NAME                     print a node's namespace name
#   rg_exec NAME CMD...            run CMD inside node NAME (ip netns exec)
#   rg_cut NAME [drop|reject|link] [PEER]
#                                  cut NAME from every other namespace, or
#                                  only from PEER (drop and reject):
#                                  drop: the router drops its packets silently
#                                        (the peer sees a timeout);
#                                  reject: the router answers with ICMP host
#                                        unreachable (the peer sees unreachable);
#                                  link: its veth is set down in the router
#   rg_restore NAME                undo every cut of NAME
#   rg_cleanup                     kill every process in our namespaces, delete
#                                  them (runs at exit by itself)
#
# Topology: one router namespace holds a bridge per region and forwards
# between them; each node is a namespace with one veth ("eth0") whose other
# end is enslaved to its region's bridge, and a default route via the
# bridge's address. Cuts live in the router (nft table "inet mprg", chain
# "forward"), so a node's own stack is never touched and its sockets see
# what a real network would show them.
#
# Names: every namespace is "mprg-PID-NAME" with PID the test script's own,
# so parallel runs never collide. rg_init removes namespaces of earlier
# runs whose PID is gone (a run killed by CTest's timeout with SIGKILL),
# and a reaper process cleans up after this run even if it is killed.
#
# Sets $tmp (a 0755 directory, removed at exit unless KEEP=1).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/jq.sh"

RG_PREFIX=mprg
RG_ID=$RG_PREFIX-$$
declare -A rg_addr_of=() rg_region_of=() rg_cut_how=()
rg_ready=0
rg_pids=()

rg_skip() {
	echo "regions: SKIP: $*" >&2
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	if [ -n "${RG_SHOW_ON_FAIL:-}" ]; then
		local f
		for f in $RG_SHOW_ON_FAIL; do
			[ -f "$f" ] || continue
			echo "--- $f (last 30 lines)" >&2
			tail -n 30 "$f" >&2
		done
	fi
	exit 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local limit=$1 what=$2
	shift 2
	local end=$((SECONDS + limit))
	while [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "after ${limit}s still not: $what"
}

# Delete one namespace of ours: its processes first (deleting a namespace
# does not stop them), then the namespace, which deletes its veth ends.
rg_del_ns() {
	local ns=$1 p i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		p=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$p" ] || break
		if [ "$i" -lt 6 ]; then
			# shellcheck disable=SC2086
			kill -TERM $p 2>/dev/null
		else
			# shellcheck disable=SC2086
			kill -KILL $p 2>/dev/null
		fi
		sleep 0.2
	done
	ip netns del "$ns" 2>/dev/null
}

# Leftovers of runs whose script is gone. Names we did not make are left alone.
rg_sweep() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case "$ns" in "$RG_PREFIX"-*-*) ;; *) continue ;; esac
		pid=${ns#"$RG_PREFIX"-}
		pid=${pid%%-*}
		case "$pid" in '' | *[!0-9]*) continue ;; esac
		[ "$pid" = $$ ] && continue
		kill -0 "$pid" 2>/dev/null && continue
		echo "regions: removing leftover namespace $ns (its run, pid $pid, is gone)" >&2
		rg_del_ns "$ns"
	done
}

rg_cleanup() {
	local p ns
	for p in "${rg_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${rg_pids[@]}"; do wait "$p" 2>/dev/null; done
	rg_pids=()
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case "$ns" in "$RG_ID"-*) rg_del_ns "$ns" ;; esac
	done
	if [ -n "${rg_reaper:-}" ]; then
		kill "$rg_reaper" 2>/dev/null
		rg_reaper=
	fi
	if [ -n "${tmp:-}" ] && [ -d "$tmp" ]; then
		if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
	fi
}

rg_init() {
	[ "$(id -u)" = 0 ] || rg_skip "needs root (network namespaces)"
	command -v ip >/dev/null || rg_skip "no ip(8) (iproute2)"
	command -v nft >/dev/null || rg_skip "no nft(8) (nftables; scripts/deps.sh --test installs it)"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-regions.XXXXXX") || exit 1
	# Dovecot's mail user must reach what lives below.
	chmod 0755 "$tmp"
	trap rg_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	rg_sweep
	local err=$tmp/rg_init.err
	ip netns add "$RG_ID-rt" 2>"$err" || rg_skip "ip netns add: $(cat "$err")"
	# From here on a SIGKILL of this script (CTest's timeout) would leave the
	# namespaces and their processes: the reaper removes them when we die.
	(
		trap '' INT TERM HUP
		while kill -0 $$ 2>/dev/null; do sleep 1; done
		for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
			case "$ns" in "$RG_ID"-*) rg_del_ns "$ns" ;; esac
		done
		[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"
	) </dev/null >/dev/null 2>&1 &
	rg_reaper=$!
	ip -n "$RG_ID-rt" link set lo up
	ip netns exec "$RG_ID-rt" sysctl -qw net.ipv4.ip_forward=1 ||
		fail "cannot enable forwarding in the router"
	ip netns exec "$RG_ID-rt" nft -f - 2>"$err" <<'EOF' || rg_skip "nftables: $(cat "$err")"
table inet mprg {
	chain forward {
		type filter hook forward priority 0; policy accept;
	}
}
EOF
	rg_ready=1
}

rg_ns() { echo "$RG_ID-$1"; }
rg_addr() { echo "${rg_addr_of[$1]:?no node $1}"; }
rg_exec() {
	local n=$1
	shift
	ip netns exec "$RG_ID-$n" "$@"
}

rg_region() {
	local name=$1 idx=$2
	[ "$rg_ready" = 1 ] || fail "rg_region before rg_init"
	case "$idx" in '' | *[!0-9]* | 0 | 25[6-9] | 2[6-9]? | [3-9]??) fail "region index 1-255: $idx" ;; esac
	ip -n "$RG_ID-rt" link add "br$idx" type bridge || fail "bridge for region $name"
	ip -n "$RG_ID-rt" addr add "10.254.$idx.1/24" dev "br$idx" || fail "address of region $name"
	ip -n "$RG_ID-rt" link set "br$idx" up || fail "bridge of region $name up"
	rg_region_of[$name]=$idx
}

rg_node() {
	local name=$1 region=$2 host=$3 idx ns r=vr-$1
	idx=${rg_region_of[$region]:-}
	[ -n "$idx" ] || fail "no region $region"
	[ ${#r} -le 15 ] || fail "node name too long for an interface name: $name"
	ns=$RG_ID-$name
	ip netns add "$ns" || fail "ip netns add $ns"
	ip link add eth0 netns "$ns" type veth peer name "$r" netns "$RG_ID-rt" ||
		rg_skip "no veth pair here"
	ip -n "$RG_ID-rt" link set "$r" master "br$idx" || fail "enslave $r"
	ip -n "$RG_ID-rt" link set "$r" up
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "10.254.$idx.$host/24" dev eth0 || fail "address of $name"
	ip -n "$ns" route add default via "10.254.$idx.1" || fail "route of $name"
	rg_addr_of[$name]=10.254.$idx.$host
}

# rg_bg NAME CMD...: run CMD in node NAME in the background; stopped at
# cleanup. Its pid is in $rg_last_pid.
rg_bg() {
	local n=$1
	shift
	ip netns exec "$RG_ID-$n" "$@" &
	rg_last_pid=$!
	rg_pids+=("$rg_last_pid")
}

rg_cut() {
	local name=$1 how=${2:-drop} peer=${3:-} a b="" rb=""
	a=$(rg_addr "$name")
	if [ -n "$peer" ]; then
		b=$(rg_addr "$peer")
		rb="ip saddr $b"
		b="ip daddr $b"
	fi
	case "$how" in
	drop | reject)
		local verdict=drop
		[ "$how" = reject ] && verdict="reject with icmp type host-unreachable"
		ip netns exec "$RG_ID-rt" nft -f - <<EOF || fail "nft cut of $name"
add rule inet mprg forward ip saddr $a $b $verdict comment "cut $name"
add rule inet mprg forward $rb ip daddr $a $verdict comment "cut $name"
EOF
		;;
	link)
		[ -z "$peer" ] || fail "rg_cut: a link cut cuts every path of $name"
		ip -n "$RG_ID-rt" link set "vr-$name" down || fail "link down $name"
		;;
	*) fail "rg_cut: unknown way '$how'" ;;
	esac
	rg_cut_how[$name]="${rg_cut_how[$name]:-} $how"
}

rg_restore() {
	local name=$1 h
	for h in ${rg_cut_how[$name]:-}; do
		case "$h" in
		drop | reject)
			local handles hd
			handles=$(ip netns exec "$RG_ID-rt" nft -a list chain inet mprg forward |
				awk -v c="\"cut $name\"" '$0 ~ "comment " c { print $NF }')
			for hd in $handles; do
				ip netns exec "$RG_ID-rt" nft delete rule inet mprg forward handle "$hd" ||
					fail "nft restore of $name"
			done
			;;
		link) ip -n "$RG_ID-rt" link set "vr-$name" up || fail "link up $name" ;;
		esac
	done
	rg_cut_how[$name]=
}

# rg_dovecot NODE: the private Dovecot (scripts/dovecot-private.sh) inside
# NODE, on its usual ports 143, 993, 110, 995 (the namespace is ours: no
# port of the host or of another run is in the way). The script makes it
# listen on 127.0.0.1 only, so the node's nft table forwards its address's
# mail ports there (DNAT; route_localnet lets the kernel route to loopback
# what came in on eth0): a stopped Dovecot is then refused, as a real one.
# Needs CERTGEN. Sets rg_dv_dir; the CA is $rg_dv_dir/ca.crt.
rg_dovecot() {
	local n=$1 a
	a=$(rg_addr "$n")
	rg_dv_dir=$tmp/dv-$n
	local script
	script=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/dovecot-private.sh
	: "${CERTGEN:?set CERTGEN to the certgen tool}"
	rg_exec "$n" env MP_IMAP_PORT=143 MP_IMAPS_PORT=993 MP_POP3_PORT=110 MP_POP3S_PORT=995 \
		MP_DOVECOT_IPV6=0 "$script" start "$rg_dv_dir" >"$tmp/dovecot-$n.out" 2>&1 ||
		fail "Dovecot did not start in $n: $(tail -n 20 "$tmp/dovecot-$n.out")"
	rg_exec "$n" sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1 ||
		fail "route_localnet in $n"
	rg_exec "$n" nft -f - <<NFT || fail "DNAT to Dovecot in $n"
table ip mprg_nat {
	chain pre {
		type nat hook prerouting priority -100; policy accept;
		ip daddr $a tcp dport { 110, 143, 993, 995 } dnat to 127.0.0.1
	}
}
NFT
}

# rg_proxy NODE NAME LISTEN_PORT CONNECT: start netproxy.py in NODE on its
# address, forwarding to CONNECT (ADDR:PORT as seen inside NODE). Its control
# file is $tmp/proxy-NAME.ctl, its log $tmp/proxy-NAME.log.
rg_proxy() {
	local n=$1 name=$2 port=$3 to=$4 a base
	a=$(rg_addr "$n")
	base=$tmp/proxy-$name
	: >"$base.ctl"
	rg_bg "$n" python3 "$(dirname "${BASH_SOURCE[0]}")/netproxy.py" --listen "$a:$port" \
		--connect "$to" --control "$base.ctl" --state "$base.state" \
		--port-file "$base.port" 2>"$base.log"
	eval "rg_proxy_pid_$name=$rg_last_pid"
	wait_for 10 "proxy $name listening" test -s "$base.port"
}

# rg_proxy_set NAME SETTINGS: apply SETTINGS (netproxy.py's control line)
# and wait until the proxy says it has.
rg_proxy_set() {
	local name=$1 base=$tmp/proxy-$1 pid gen
	pid=$(eval "echo \${rg_proxy_pid_$name:-}")
	[ -n "$pid" ] || fail "no proxy $name"
	gen=$(sed -n 's/^gen=\([0-9]*\) .*/\1/p' "$base.state" 2>/dev/null)
	printf '%s\n' "$2" >"$base.ctl"
	kill -HUP "$pid" || fail "proxy $name is gone"
	wait_for 5 "proxy $name applied '$2'" bash -c \
		"g=\$(sed -n 's/^gen=\([0-9]*\) .*/\1/p' '$base.state'); [ -n \"\$g\" ] && [ \"\$g\" != '${gen:-0}' ]"
	# A refused line leaves gen as it was: the wait above fails for it.
}

# rg_par CMD...: run CMD in the background; rg_join waits for every rg_par
# since the last rg_join (and only for them: a bare `wait` would also wait
# for the proxies and the reaper, that is forever).
rg_par_pids=()
rg_par() {
	"$@" &
	rg_par_pids+=("$!")
}
rg_join() {
	[ ${#rg_par_pids[@]} -eq 0 ] || wait "${rg_par_pids[@]}"
	rg_par_pids=()
}
