#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The demo's own configuration (scripts/demo-config.sh) against the private
# Dovecot: the daemon brings all seven checks up.
# Usage: demo.sh DOVECOT_DIR (the fixture's, with ca.crt and password).
. "$(dirname "$0")/lib.sh"

dv=${1:?usage: demo.sh DOVECOT_DIR}
mkdir -p "$tmp/demo"
ln -s "$dv" "$tmp/demo/dovecot"
"$(dirname "$0")/../../scripts/demo-config.sh" "$tmp/demo" >"$tmp/mp.yaml"
sed -i -e "s|^store: .*|store: $tmp/mp.db|" -e 's|listen: 127.0.0.1:[0-9]*$|listen: "off"|' "$tmp/mp.yaml"
"$MAILPULSE" config check "$tmp/mp.yaml" || fail "the demo configuration is invalid"
start_daemon "$tmp/mp.yaml"
all_up() { status_json | jq -e '(.checks | length) == 7 and all(.checks[]; .state == "up")'; }
wait_for 20 "all seven demo checks up" all_up
"$MAILPULSE" history imaps-mailbox --store "$tmp/mp.db" --json --limit 1 | jq -e ".results[0].messages == 2" >/dev/null ||
	fail "the mailbox check does not count 2 messages: $(status_json | jq -c '.checks[] | select(.check == "imaps-mailbox")')"
echo "ok: $(status_json | jq -r '[.checks[] | .check + "=" + .state] | join(" ")')"
