#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Issue 12, login secrets: a check that logs in either names a password file
# that exists on each node (read there), or, with password_to_nodes, has its
# password sent to the nodes it names over the authenticated TLS channel,
# kept in memory only. Both log in from every node; the password is in no
# log, in no spool file and not in the controller's store.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nd_setup "  - {name: login.sent, url: \"imaps://localhost\", resolve: [\"10.254.1.10\"], ca_file: \"@DV@/ca.crt\", login: mpuser, password_file: \"@DV@/password\", password_to_nodes: true, locations: [eu, us, ap]}
  - {name: login.file, url: \"imaps://localhost\", resolve: [\"10.254.1.10\"], ca_file: \"@DV@/ca.crt\", login: mpuser, password_file: \"@DV@/password\", locations: [eu, us]}"

for c in login.sent login.file; do
	for n in eu us; do
		wait_for 30 "$c up from $n" nd_loc_is "$c" "$n" up
	done
done
wait_for 30 "login.sent up from ap" nd_loc_is login.sent ap up
# A login really happened: the path of the last result went through it.
nd_check login.sent || fail "API"
jq -e '.last.path | test("login")' "$tmp/check.json" >/dev/null ||
	fail "login.sent's last probe did not log in: $(jq -c .last.path "$tmp/check.json")"
echo "ok: both checks log in from every node they name"

# The assignments the controller serves: the password only to the nodes a
# check names, and only for password_to_nodes.
pw=$(cat "$rg_dv_dir/password")
[ -n "$pw" ] || fail "no test password"
rg_exec ap curl -sf --max-time 5 --cacert "$tmp/ca.crt" -H "Authorization: Bearer $(cat "$tmp/ap.token")" \
	"https://$nd_ctl:8443/api/v1/nodes/ap/assignments" >"$tmp/ap.assign" || fail "ap's assignments"
jq -e '[.checks[].name] | sort == ["imaps.mail", "login.sent"]' "$tmp/ap.assign" >/dev/null ||
	fail "ap was assigned: $(jq -c '[.checks[].name]' "$tmp/ap.assign")"
jq -e --arg pw "$pw" '.checks[] | select(.name == "login.sent") | .password == $pw' "$tmp/ap.assign" >/dev/null ||
	fail "login.sent's password did not go to ap"
rg_exec eu curl -sf --max-time 5 --cacert "$tmp/ca.crt" -H "Authorization: Bearer $(cat "$tmp/eu.token")" \
	"https://$nd_ctl:8443/api/v1/nodes/eu/assignments" >"$tmp/eu.assign" || fail "eu's assignments"
jq -e '.checks[] | select(.name == "login.file") | (has("password") | not) and (.password_from | startswith("file:"))' \
	"$tmp/eu.assign" >/dev/null || fail "login.file's password travelled, or its file did not: $(jq -c '.checks[] | select(.name == "login.file") | del(.spec)' "$tmp/eu.assign")"
rm -f "$tmp/ap.assign" "$tmp/eu.assign"
echo "ok: the password goes to the nodes the check names, and only with password_to_nodes"

# Nowhere at rest or in a log. The spool keeps the assignments for a
# restart, without the checks whose password travelled.
sleep 2
for f in "$tmp"/*.log "$tmp"/*.spool "$tmp"/*.spool-wal "$tmp/mp.db" "$tmp"/mp.db-wal; do
	[ -e "$f" ] || continue
	if grep -qaF "$pw" "$f"; then fail "the password is in $f"; fi
done
grep -qa "login.file" "$tmp/eu.spool" "$tmp/eu.spool-wal" 2>/dev/null ||
	fail "eu's spool did not keep its assignments"
echo "ok: the password is in no log, spool or store"
