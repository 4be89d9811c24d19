#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# deb.sh SRCDIR - the Debian package end to end, on this machine (as root,
# on a throwaway CI host): build it with dpkg-buildpackage from a copy of
# the tree, lintian it, install it with dpkg -i, use the installed
# /usr/bin/mailpulse against a fake POP3 server, check the user, the state
# directory and that no daemon was enabled or started, then dpkg --purge
# and check that everything it installed is gone. The trap purges the
# package and stops what the test started even when a step fails.
# Needs FAKESRV in the environment. Skips (77) when not root or when
# debhelper is missing (scripts/deps.sh --test installs it).
set -uo pipefail
src=${1:?usage: deb.sh SRCDIR}
: "${FAKESRV:?}"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: installs a package: needs root"; exit 77; }
for tool in dpkg-buildpackage dh fakeroot lintian git; do
	command -v "$tool" >/dev/null ||
		{ echo "SKIP: $tool is not installed (scripts/deps.sh --test)"; exit 77; }
done

fail() { echo "FAIL: $*" >&2; exit 1; }
if dpkg-query -W -f='${Status}' mailpulse 2>/dev/null | grep -q 'install ok'; then
	fail "a mailpulse package is already installed here; this test would replace and purge it"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-deb.XXXXXX")
had_user=0
getent passwd mailpulse >/dev/null && had_user=1
srv_pid=
cleanup() {
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	if dpkg-query -W -f='${Status}' mailpulse 2>/dev/null | grep -qv 'not-installed'; then
		dpkg --purge mailpulse >>"$tmp/purge-trap.log" 2>&1 ||
			{ echo "cleanup: dpkg --purge failed:" >&2; cat "$tmp/purge-trap.log" >&2; }
	fi
	# The package leaves its system user by design; one this test made goes.
	if [ $had_user = 0 ] && getent passwd mailpulse >/dev/null; then
		userdel mailpulse 2>/dev/null
		getent group mailpulse >/dev/null && groupdel mailpulse 2>/dev/null
	fi
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. Build from a copy of the work tree: what a clean clone of this commit
# holds, plus new files not ignored. dpkg-buildpackage writes ../*.deb and
# debian/build; the real tree stays as it is.
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version) || fail "debian/changelog"
tree=$tmp/mailpulse-$version
mkdir -p "$tree"
(cd "$src" && git ls-files -co --exclude-standard -z |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf -) | tar -xf - -C "$tree" || fail "copying the tree"
[ -x "$tree/debian/rules" ] || fail "debian/rules missing or not executable in the copy"
t0=$SECONDS
(cd "$tree" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
	>"$tmp/build.log" 2>&1 || { tail -40 "$tmp/build.log" >&2; fail "dpkg-buildpackage"; }
echo "package built in $((SECONDS - t0)) s"
deb=$(ls "$tmp"/mailpulse_"$version"_*.deb 2>/dev/null)
[ -f "$deb" ] || fail "no mailpulse_${version}_*.deb in $tmp: $(ls "$tmp")"

# 2. lintian: no error; warnings are shown.
lintian --tag-display-limit 0 "$deb" >"$tmp/lintian.out" 2>&1
grep -E '^[EWI]: ' "$tmp/lintian.out" | sed 's/^/lintian: /'
grep -q '^E: ' "$tmp/lintian.out" && fail "lintian reports errors (above)"
echo "lintian: $(grep -c '^E: ' "$tmp/lintian.out") errors, $(grep -c '^W: ' "$tmp/lintian.out") warnings"

# 3. The maintainer scripts start and enable nothing.
dpkg-deb -e "$deb" "$tmp/control" || fail "dpkg-deb -e"
for s in preinst postinst prerm postrm; do
	[ -f "$tmp/control/$s" ] || continue
	if grep -nE 'deb-systemd-invoke +(start|restart)|systemctl +(--[a-z-]+ +)*(start|enable|restart)' \
		"$tmp/control/$s" >"$tmp/starts"; then
		fail "$s starts or enables the daemon: $(cat "$tmp/starts")"
	fi
	# dh_installsystemd --no-enable keeps one enable: re-creating the links of
	# a unit the admin had enabled (was-enabled). Any other is a bug.
	if awk '/was-enabled/ { guard = NR } /deb-systemd-helper +enable/ && NR - guard > 2 { print NR": "$0; bad = 1 }
		END { exit !bad }' "$tmp/control/$s" >"$tmp/starts"; then
		fail "$s enables the daemon: $(cat "$tmp/starts")"
	fi
done
grep -q 'systemd-sysusers.*mailpulse.conf' "$tmp/control/postinst" || fail "postinst does not run systemd-sysusers"

# 4. Install.
dpkg -i "$deb" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "dpkg -i"; }
for f in /usr/bin/mailpulse /usr/share/man/man1/mailpulse.1.gz /usr/share/man/man5/mailpulse.conf.5.gz \
	/lib/systemd/system/mailpulse.service /usr/lib/sysusers.d/mailpulse.conf \
	/usr/share/bash-completion/completions/mailpulse /usr/share/doc/mailpulse/examples/mailpulse.yaml \
	/usr/share/doc/mailpulse/copyright; do
	[ -f "$f" ] || fail "$f is not installed"
done
got=$(/usr/bin/mailpulse --version) || fail "mailpulse --version exited $?"
[ "$got" = "mailpulse $version" ] || fail "mailpulse --version says '$got', the package is $version"
grep -q '^ExecStart=/usr/bin/mailpulse run -c /etc/mailpulse/mailpulse.yaml$' \
	/lib/systemd/system/mailpulse.service || fail "the unit does not run /usr/bin/mailpulse"
bash --norc -c '. /usr/share/bash-completion/completions/mailpulse && complete -p mailpulse' |
	grep -q -- '-F _mailpulse' || fail "the installed completion does not register"

# The user and its directory.
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd mailpulse) || fail "no mailpulse user"
[ "$uid" -lt 1000 ] || fail "mailpulse is not a system user (uid $uid)"
[ "$home" = /var/lib/mailpulse ] || fail "mailpulse's home is $home"
case $shell in */nologin | */false) ;; *) fail "mailpulse's shell is $shell" ;; esac
getent group mailpulse >/dev/null || fail "no mailpulse group"
[ "$(stat -c '%U:%G %a' /var/lib/mailpulse)" = "mailpulse:mailpulse 750" ] ||
	fail "/var/lib/mailpulse is $(stat -c '%U:%G %a' /var/lib/mailpulse)"
[ -d /etc/mailpulse ] || fail "/etc/mailpulse is missing"

# Nothing started, nothing enabled. Other tests run their own daemons from
# build trees at the same time: only the installed binary counts.
sleep 1
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/exe" 2>/dev/null)" = /usr/bin/mailpulse ] &&
		fail "a mailpulse process runs after installation: pid ${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline")"
done
for wants in /etc/systemd/system/*.wants/mailpulse.service; do
	[ -e "$wants" ] && fail "the unit is enabled: $wants"
done
# deb-systemd-helper answers only inside a maintainer script: say it is one.
if DPKG_MAINTSCRIPT_PACKAGE=mailpulse DPKG_MAINTSCRIPT_NAME=postinst \
	deb-systemd-helper --quiet was-enabled mailpulse.service; then
	fail "deb-systemd-helper says mailpulse.service was enabled"
fi
state=$(systemctl is-enabled mailpulse.service 2>&1)
case $state in
disabled) echo "systemctl is-enabled: disabled" ;;
*"not been booted with systemd"* | *"Failed to connect"*) echo "systemctl is-enabled: no systemd here ($state)" ;;
*) fail "systemctl is-enabled mailpulse.service: $state" ;;
esac
state=$(systemctl is-active mailpulse.service 2>&1)
case $state in
inactive | unknown) echo "systemctl is-active: $state" ;;
*"not been booted with systemd"* | *"Failed to connect"*)
	echo "systemctl is-active: no systemd as PID 1 here; the process table above is the proof" ;;
*) fail "systemctl is-active mailpulse.service: $state" ;;
esac

# 5. The installed program against a real (fake) server, and a refused port.
port_file=$tmp/port
"$FAKESRV" --port-file "$port_file" --max-conns 10 --lifetime 60 \
	"$src/tests/daemon/pop3_ok.scn" 2>>"$tmp/fakesrv.log" &
srv_pid=$!
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.05; done
port=$(cat "$port_file") || fail "fakesrv did not start"
out=$(/usr/bin/mailpulse check --starttls no --timeout 5 --json "pop3://127.0.0.1:$port")
rc=$?
[ $rc -eq 0 ] || fail "installed mailpulse check: exit $rc: $out"
grep -q '"status":"up"' <<<"$out" || fail "installed mailpulse check is not up: $out"
out=$(/usr/bin/mailpulse check --timeout 5 --format '%{status} %{reason}\n' "pop3://127.0.0.1:1")
rc=$?
[ $rc -eq 2 ] && [ "$out" = "down refused" ] || fail "refused port: exit $rc, '$out'"
echo "installed mailpulse check: up against fakesrv, down on a refused port"

# 6. Purge: every file the package installed, the store's directory and
# the empty /etc/mailpulse are gone.
dpkg -L mailpulse | while read -r f; do [ -f "$f" ] && echo "$f"; done >"$tmp/files"
[ "$(wc -l <"$tmp/files")" -ge 8 ] || fail "dpkg -L lists too few files: $(cat "$tmp/files")"
dpkg --purge mailpulse >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log" >&2; fail "dpkg --purge"; }
while read -r f; do
	[ -e "$f" ] && fail "$f is still there after purge"
done <"$tmp/files"
for d in /var/lib/mailpulse /etc/mailpulse /usr/share/doc/mailpulse; do
	[ -e "$d" ] && fail "$d is still there after purge"
done
dpkg-query -W -f='${Status}' mailpulse 2>/dev/null | grep -q 'install ok' && fail "still installed"
command -v mailpulse >/dev/null && [ "$(command -v mailpulse)" = /usr/bin/mailpulse ] &&
	fail "mailpulse still on PATH"
echo "package deb: ok"
