#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# SIGHUP: a check added to the file starts probing, a removed one stops, the
# history of the one that stays is kept, and a broken file is refused while
# the running configuration goes on.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
start_toggle "$port"
conf() {
	cat <<YAML
store: $tmp/mp.db
http: {listen: "off"}
defaults: {interval: 30s, timeout: 5s, starttls: "no"}
checks:
  - {name: keep, url: "pop3://127.0.0.1:$port"}
YAML
	for n in "$@"; do echo "  - {name: $n, url: \"pop3://127.0.0.1:$port\"}"; done
}
count() { "$MAILPULSE" history "$1" --store "$tmp/mp.db" --json --limit 10000 | jq '.results | length'; }

conf gone >"$tmp/mp.yaml"
start_daemon "$tmp/mp.yaml"
wait_for 10 "keep and gone up" bash -c "$(declare -f status_json state_is); tmp=$tmp MAILPULSE=$MAILPULSE; state_is keep up && state_is gone up"
before=$(count keep)

conf added >"$tmp/mp.yaml"
kill -HUP "$daemon_pid"
wait_for 10 "reload logged" grep -q 'reloaded: 2 checks (1 added, 0 changed, 1 removed)' "$tmp/daemon.log"
wait_for 10 "the added check probed" bash -c "$(declare -f status_json state_is); tmp=$tmp MAILPULSE=$MAILPULSE; state_is added up"
gone_then=$(count gone)
sleep 3
[ "$(count gone)" -eq "$gone_then" ] || fail "the removed check is still probed"
[ "$(count keep)" -gt "$before" ] || fail "the kept check stopped probing"

# A broken file: refused, named with its line, and the daemon goes on.
printf 'store: %s\nchecks:\n  - {name: keep, url: "pop3://127.0.0.1:%s", interval: 5s}\n' \
	"$tmp/mp.db" "$port" >"$tmp/mp.yaml"
kill -HUP "$daemon_pid"
wait_for 10 "bad reload refused" grep -q 'reload refused' "$tmp/daemon.log"
grep -q 'mp.yaml:3:.*interval' "$tmp/daemon.log" || fail "the reload error does not name the line"
n=$(count keep)
wait_for 10 "probing goes on after a refused reload" bash -c "[ \$('$MAILPULSE' history keep --store '$tmp/mp.db' --json --limit 10000 | jq '.results | length') -gt $n ]"
kill -0 "$daemon_pid" || fail "daemon died"
# History before the reload is still there.
[ "$(count keep)" -ge "$before" ] || fail "history lost"
echo "ok: added, removed, kept history; bad file refused with its line"
