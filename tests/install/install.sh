#!/bin/sh
# SPDX-License-Identifier: ISC
# install.sh CMAKE BUILDDIR DESTDIR SRCDIR - install the build into DESTDIR
# with prefix /usr, as a Debian package build does, then check that every
# expected file is there, nothing else is, and each one is usable.
set -u
cmake=$1
build=$2
dest=$3
src=$4
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rm -rf "$dest"
if ! DESTDIR=$dest "$cmake" --install "$build" --prefix /usr >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "FAIL: cmake --install"
	exit 1
fi

bin=$dest/usr/bin/mailpulse
man1=$dest/usr/share/man/man1/mailpulse.1
man5=$dest/usr/share/man/man5/mailpulse.conf.5
doc=$dest/usr/share/doc/mailpulse
unit=$dest/usr/lib/systemd/system/mailpulse.service
sysusers=$dest/usr/lib/sysusers.d/mailpulse.conf

# Exactly these files: a stray one is as wrong as a missing one.
cat >"$tmp/want" <<LIST
/usr/bin/mailpulse
/usr/lib/systemd/system/mailpulse.service
/usr/lib/sysusers.d/mailpulse.conf
/usr/share/bash-completion/completions/mailpulse
/usr/share/doc/mailpulse/examples/mailpulse.yaml
/usr/share/doc/mailpulse/json.md
/usr/share/doc/mailpulse/mailpulse.conf.example
/usr/share/man/man1/mailpulse.1
/usr/share/man/man5/mailpulse.conf.5
LIST
(cd "$dest" && find . ! -type d | sed 's/^\.//' | LC_ALL=C sort) >"$tmp/got"
if ! diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
	fail "installed files differ from the expected list (- expected, + installed):"
	sed -n '3,$p' "$tmp/diff"
fi

# The binary.
[ -x "$bin" ] || fail "$bin is not executable"
v=$("$bin" --version 2>&1) || fail "mailpulse --version exited $?: $v"
case $v in
"mailpulse "[0-9]*) ;;
*) fail "mailpulse --version printed '$v'" ;;
esac

# The manual pages: render without a warning.
for page in "$man1" "$man5"; do
	[ -f "$page" ] || continue
	head -n 5 "$page" | grep -q '^\.TH ' || fail "$page: no .TH in its first lines"
	if command -v groff >/dev/null 2>&1; then
		groff -ww -man -Tutf8 -z "$page" >"$tmp/groff" 2>&1 || fail "$page: groff exited $?"
		[ -s "$tmp/groff" ] && fail "$page: groff warnings:" && cat "$tmp/groff"
	fi
	if command -v man >/dev/null 2>&1; then
		MANWIDTH=80 man -l "$page" >"$tmp/man.out" 2>"$tmp/man.err" ||
			fail "$page: man -l exited $?"
		grep -q '^NAME' "$tmp/man.out" || fail "$page: man -l shows no NAME section"
		[ -s "$tmp/man.err" ] && fail "$page: man -l warnings:" && cat "$tmp/man.err"
	fi
done

# The shipped example: both copies are the documented one.
for f in "$doc/mailpulse.conf.example" "$doc/examples/mailpulse.yaml"; do
	cmp -s "$f" "$src/docs/mailpulse.conf.example" || fail "$f differs from docs/mailpulse.conf.example"
done
cmp -s "$doc/json.md" "$src/docs/json.md" || fail "$doc/json.md differs from docs/json.md"
# It refers to secret files under /etc/mailpulse and an environment variable
# that this machine need not have: anything else it reports is a mistake.
env -u MAILPULSE_TELEGRAM_TOKEN "$bin" config check "$doc/examples/mailpulse.yaml" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
case $rc in
0 | 1) ;;
*) fail "config check of the example exited $rc" && cat "$tmp/err" ;;
esac
if grep -v -e 'No such file or directory' -e 'Permission denied' -e ' is not set$' "$tmp/err" |
	grep . >"$tmp/other"; then
	fail "the installed example has errors besides missing files:"
	cat "$tmp/other"
fi

# The systemd unit: the binary it names is the one installed, and it reloads.
if [ -f "$unit" ]; then
	grep -qx 'ExecStart=/usr/bin/mailpulse run -c /etc/mailpulse/mailpulse.yaml' "$unit" ||
		fail "unit: ExecStart"
	grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' "$unit" || fail "unit: no ExecReload with SIGHUP"
	grep -qx 'Type=notify' "$unit" || fail "unit: not Type=notify"
	grep -qx 'StateDirectory=mailpulse' "$unit" || fail "unit: no StateDirectory=mailpulse"
	grep -qx 'User=mailpulse' "$unit" || fail "unit: no User=mailpulse"
	if command -v systemd-analyze >/dev/null 2>&1; then
		# The unit as installed, but naming the binary and the manual pages in
		# DESTDIR: verify checks that ExecStart is executable and that each
		# Documentation= page exists (--root lacks the system's targets).
		mkdir -p "$tmp/unit"
		sed "s#=/usr/bin/mailpulse #=$dest/usr/bin/mailpulse #" "$unit" >"$tmp/unit/mailpulse.service"
		if ! MANPATH=$dest/usr/share/man systemd-analyze verify "$tmp/unit/mailpulse.service" \
			>"$tmp/verify" 2>&1 || [ -s "$tmp/verify" ]; then
			fail "systemd-analyze verify:"
			cat "$tmp/verify"
		fi
	fi
fi

# The system user.
if [ -f "$sysusers" ]; then
	grep -q '^u mailpulse - "mailpulse monitor" /var/lib/mailpulse$' "$sysusers" ||
		fail "sysusers: no line for user mailpulse"
	if command -v systemd-sysusers >/dev/null 2>&1; then
		mkdir -p "$tmp/root/etc"
		systemd-sysusers --root="$tmp/root" "$sysusers" >/dev/null 2>&1 ||
			fail "systemd-sysusers rejected $sysusers"
		grep -q '^mailpulse:x:[0-9]*:[0-9]*:mailpulse monitor:/var/lib/mailpulse:' \
			"$tmp/root/etc/passwd" 2>/dev/null || fail "systemd-sysusers made no user mailpulse"
	fi
fi

[ "$fails" -eq 0 ] && echo "install tree: all passed"
exit $((fails > 0))
