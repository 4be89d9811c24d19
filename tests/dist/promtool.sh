#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# promtool check rules + promtool test rules over dist/prometheus, and a
# rule test that must fail (so a rules test that passes proves something).
set -uo pipefail
dir=$(cd "$(dirname "$0")/../../dist/prometheus" && pwd)
promtool=$(command -v promtool) || { echo "SKIP: promtool is not installed (apt-get install prometheus)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$promtool" check rules "$dir/mailpulse.rules.yml" || fail "promtool check rules"
(cd "$dir" && "$promtool" test rules mailpulse.rules.test.yml) || fail "promtool test rules"

# Every alert and recording rule has a test that names it.
for name in $(sed -n 's/^ *- \(alert\|record\): *//p' "$dir/mailpulse.rules.yml"); do
	grep -Eq "(alertname: |expr: )$name\b" "$dir/mailpulse.rules.test.yml" ||
		fail "$name has no test in mailpulse.rules.test.yml"
done

# A rule changed under its test must be caught.
sed 's/> 0\.5$/> 1.5/' "$dir/mailpulse.rules.yml" >"$tmp/mailpulse.rules.yml"
cmp -s "$dir/mailpulse.rules.yml" "$tmp/mailpulse.rules.yml" && fail "the mutation did not apply"
cp "$dir/mailpulse.rules.test.yml" "$tmp/"
if (cd "$tmp" && "$promtool" test rules mailpulse.rules.test.yml >/dev/null 2>&1); then
	fail "promtool test rules passed with a notification threshold of 1.5"
fi
echo "dist promtool: ok"
