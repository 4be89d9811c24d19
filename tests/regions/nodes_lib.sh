# SPDX-License-Identifier: ISC
# nodes_lib.sh - a controller and three probing nodes in their own regions,
# watching a real Dovecot in a fourth, for the scenarios of issue 12.
# Source it after lib.sh; then:
#
#   nd_setup [EXTRA_CHECK_YAML]   regions, Dovecot, the controller (HTTPS,
#                                 @DV@ in EXTRA is the mail Dovecot's directory;
#                                 a webhook receiver), nodes eu, us and ap;
#                                 waits until the check is up from all three
#   nd_node NAME                  start node NAME (again): its own spool file
#   nd_stop_node NAME [SIGNAL]    stop node NAME (TERM by default)
#   nd_api PATH                   GET the controller's API, into $tmp/api.json
#   nd_loc CHECK LOC              print "state reason" of CHECK at LOC
#   nd_verdict CHECK              print the check's verdict ("up", "partial"...)
#   nd_alerts [EVENT]             count webhook deliveries (of EVENT)
#   nd_alert_json N               the N-th webhook body (1-based)
#
# The scheduler runs 10 times faster (MAILPULSE_TIME_SCALE=0.1): a 30 s
# interval is 3 s, a node's heartbeat 1 s. Probe timeouts are not scaled.
# Topology: dc (mail, 10.254.1.10), ctl (controller, 10.254.2.10), eu
# (10.254.3.11), us (10.254.4.12), ap (10.254.5.13).
: "${MAILPULSE:?}" "${CERTGEN:?}" "${HTTP_SINK:?}"
command -v jq >/dev/null || rg_skip "no jq"
command -v curl >/dev/null || rg_skip "no curl"
command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || rg_skip "no dovecot"

ND_SCALE=${ND_SCALE:-0.1}
ND_CHECK=imaps.mail
nd_nodes="eu us ap"

nd_setup() {
	local extra=${1:-} n
	rg_init
	rg_region dc 1
	rg_region ctl 2
	rg_region eu 3
	rg_region us 4
	rg_region ap 5
	rg_node mail dc 10
	rg_node ctl ctl 10
	rg_node eu eu 11
	rg_node us us 12
	rg_node ap ap 13
	rg_dovecot mail
	nd_mail=$(rg_addr mail)
	nd_ctl=$(rg_addr ctl)

	"$CERTGEN" --out "$tmp/ca" --cn "mp nodes test CA" --ca >/dev/null || fail "certgen CA"
	"$CERTGEN" --out "$tmp/ctl" --cn controller --issuer "$tmp/ca" \
		--san "IP:$nd_ctl,DNS:controller" >/dev/null || fail "certgen controller"
	for n in $nd_nodes; do
		head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$tmp/$n.token"
		chmod 600 "$tmp/$n.token"
	done

	rg_bg ctl "$HTTP_SINK" --port-file "$tmp/hook.port" --out "$tmp/hook.jsonl" --lifetime 900 \
		2>>"$tmp/hook.log"
	wait_for 10 "webhook receiver started" test -s "$tmp/hook.port"
	nd_hook_port=$(cat "$tmp/hook.port")

	extra=${extra//@DV@/$rg_dv_dir}
	cat >"$tmp/mp.yaml" <<YAML
location: ctl
store: $tmp/mp.db
http: {listen: "0.0.0.0:8443", tls_cert: $tmp/ctl.crt, tls_key: $tmp/ctl.key}
defaults: {interval: 30s, timeout: 2s, retry: 30s, fail_after: 2, recover_after: 2, notify: [hook]}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:$nd_hook_port/hook", retries: 2}
nodes:
  - {name: eu, token_file: $tmp/eu.token, region: europe}
  - {name: us, token_file: $tmp/us.token, region: america}
  - {name: ap, token_file: $tmp/ap.token, region: asia}
checks:
  - name: $ND_CHECK
    url: "imaps://localhost"
    resolve: ["$nd_mail"]
    ca_file: "$rg_dv_dir/ca.crt"
    locations: [eu, us, ap]
$extra
YAML
	"$MAILPULSE" config check "$tmp/mp.yaml" >"$tmp/config.out" 2>&1 ||
		fail "config rejected: $(cat "$tmp/config.out")"
	rg_bg ctl env MAILPULSE_TIME_SCALE="$ND_SCALE" "$MAILPULSE" run -c "$tmp/mp.yaml" -v \
		>"$tmp/ctl.log" 2>&1
	nd_ctl_pid=$rg_last_pid
	RG_SHOW_ON_FAIL="$tmp/ctl.log $tmp/eu.log $tmp/us.log $tmp/ap.log $tmp/hook.jsonl"
	wait_for 15 "the controller listening" nd_api /api/v1/checks
	# A scenario's own setup before the nodes start (a canary's server).
	if declare -F nd_pre_nodes >/dev/null; then nd_pre_nodes; fi
	for n in $nd_nodes; do nd_node "$n"; done
	for n in $nd_nodes; do
		wait_for 30 "$ND_CHECK up from $n" nd_loc_is "$ND_CHECK" "$n" up
	done
	wait_for 15 "$ND_CHECK up as a whole" nd_verdict_is "$ND_CHECK" up
	echo "ok: setup: $ND_CHECK up from eu, us and ap"
}

nd_node() {
	local n=$1
	rg_bg "$n" env MAILPULSE_TIME_SCALE="$ND_SCALE" "$MAILPULSE" probe \
		--controller "https://$nd_ctl:8443" --name "$n" --token-file "$tmp/$n.token" \
		--ca-file "$tmp/ca.crt" --spool "$tmp/$n.spool" ${ND_NODE_ARGS:-} -v \
		>>"$tmp/$n.log" 2>&1
	eval "nd_pid_$n=$rg_last_pid"
}

nd_stop_node() {
	local n=$1 sig=${2:-TERM} pid
	pid=$(eval "echo \${nd_pid_$n:-}")
	[ -n "$pid" ] || fail "node $n was not started"
	# rg_bg's pid is ip-netns-exec's, which execs: it is the node itself.
	kill -"$sig" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

nd_api() {
	rg_exec ctl curl -sf --max-time 3 --cacert "$tmp/ca.crt" "https://$nd_ctl:8443$1" \
		>"$tmp/api.json.new" || return 1
	mv "$tmp/api.json.new" "$tmp/api.json"
}

# The check's object from /api/v1/checks/NAME, in $tmp/check.json.
nd_check() {
	nd_api "/api/v1/checks/$1" && cp "$tmp/api.json" "$tmp/check.json"
}

nd_loc() {
	nd_check "$1" || return 1
	jq -r --arg l "$2" '.locations[] | select(.location == $l) | "\(.state) \(.reason)"' \
		"$tmp/check.json"
}
nd_loc_is() {
	local s
	s=$(nd_loc "$1" "$2") || return 1
	[ "${s%% *}" = "$3" ]
}
nd_verdict() {
	nd_check "$1" || return 1
	jq -r '.verdict' "$tmp/check.json"
}
nd_verdict_is() { [ "$(nd_verdict "$1")" = "$2" ]; }

nd_node_state() {
	nd_api /api/v1/nodes || return 1
	jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .state' "$tmp/api.json"
}
nd_node_is() { [ "$(nd_node_state "$1")" = "$2" ]; }

# Webhook deliveries: every line of the receiver's log, or those whose
# body's event is EVENT.
nd_alerts() {
	if [ -z "${1:-}" ]; then
		grep -c . "$tmp/hook.jsonl" 2>/dev/null || true
	else
		jq -r '.body | fromjson | .kind' "$tmp/hook.jsonl" 2>/dev/null | grep -cx "$1" || true
	fi
}
nd_alert_json() { sed -n "${1}p" "$tmp/hook.jsonl" | jq '.body | fromjson'; }
# nd_alerts_ge EVENT N: at least N deliveries of EVENT (for wait_for).
nd_alerts_ge() { [ "$(nd_alerts "$1")" -ge "$2" ]; }

# The mail server killed, and started again with the same certificates
# (dovecot-private.sh start would make new ones, which the nodes' CA file,
# read once, would not trust).
nd_dv_script=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/dovecot-private.sh
nd_mail_stop() {
	rg_exec mail "$nd_dv_script" stop "$rg_dv_dir" >/dev/null 2>&1 || fail "Dovecot did not stop"
}
nd_mail_start() {
	rg_exec mail dovecot -c "$rg_dv_dir/dovecot.conf" >>"$tmp/dovecot-again.log" 2>&1 ||
		fail "Dovecot did not start again: $(tail -n 5 "$tmp/dovecot-again.log")"
	wait_for 10 "Dovecot listening again" rg_exec mail bash -c 'exec 3<>/dev/tcp/127.0.0.1/993'
}
