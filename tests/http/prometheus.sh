#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# /metrics against promtool's parser and linter, then a real Prometheus
# scraping the daemon every second: mailpulse_probe_success must arrive.
# Skips (77) when promtool and prometheus are not installed.
. "$(dirname "$0")/lib.sh"

promtool=$(command -v promtool)
prometheus=$(command -v prometheus)
if [ -z "$promtool" ] && [ -z "$prometheus" ]; then
	echo "SKIP: neither promtool nor prometheus is installed (apt-get install prometheus)"
	exit 77
fi

start_pop3 "$here/../daemon/pop3_ok.scn"
hp=$(free_port)
tok=prom-Token-0123456789abcdef
printf '%s\n' "$tok" >"$tmp/http.token"
write_conf "$tmp/mp.yaml" "{listen: \"127.0.0.1:$hp\", token_file: $tmp/http.token}"
start_http_daemon "$tmp/mp.yaml" "$hp"
wait_for 15 "both checks judged" bash -c "curl -sf -H 'Authorization: Bearer $tok' '$base/metrics' | grep -q 'check_state{check=\"pop-dead\",location=\"e2e\",state=\"down\"} 1'"

curl -sf -H "Authorization: Bearer $tok" "$base/metrics" >"$tmp/metrics.txt" || fail "GET /metrics"
if [ -n "$promtool" ]; then
	"$promtool" check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1 ||
		fail "promtool check metrics: $(cat "$tmp/promtool.out")"
	echo "promtool check metrics: clean"
else
	echo "promtool is not installed: the lint part is not run"
fi

if [ -z "$prometheus" ]; then
	echo "SKIP: prometheus is not installed: the scrape part is not run"
	exit 77
fi
pp=$(free_port)
cat >"$tmp/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: mailpulse
    scrape_interval: 1s
    authorization: {type: Bearer, credentials_file: $tmp/http.token}
    static_configs: [{targets: ["127.0.0.1:$hp"]}]
YAML
"$prometheus" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
	--web.listen-address="127.0.0.1:$pp" >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
pids+=("$prom_pid")
q() { curl -s "http://127.0.0.1:$pp/api/v1/query" --data-urlencode "query=$1"; }
ok_up() { q 'mailpulse_probe_success{check="pop-ok"}' | jq -e '.data.result[0].value[1] == "1"'; }
end=$((SECONDS + 40))
until ok_up >/dev/null 2>&1; do
	[ $SECONDS -lt $end ] || {
		tail -20 "$tmp/prometheus.log" >&2
		fail "Prometheus has no mailpulse_probe_success{check=\"pop-ok\"} == 1: $(q mailpulse_probe_success)"
	}
	kill -0 "$prom_pid" 2>/dev/null || { tail -20 "$tmp/prometheus.log" >&2; fail "prometheus exited"; }
	sleep 0.5
done
q 'mailpulse_probe_success{check="pop-dead"}' | jq -e '.data.result[0].value[1] == "0"' >/dev/null ||
	fail "pop-dead not 0 in Prometheus"
q 'up{job="mailpulse"}' | jq -e '.data.result[0].value[1] == "1"' >/dev/null ||
	fail "the scrape target is not up: $(q 'up')"
q 'mailpulse_check_state{state="down"} == 1' | jq -e '.data.result[0].metric.check == "pop-dead"' >/dev/null ||
	fail "check_state down not found"
kill "$prom_pid"
wait "$prom_pid" 2>/dev/null
echo "http prometheus: ok"
