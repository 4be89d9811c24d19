#!/bin/bash
# SPDX-License-Identifier: ISC
# dovecot-private.sh - a private Dovecot on 127.0.0.1 for tests and the demo.
#
#   scripts/dovecot-private.sh start DIR
#   scripts/dovecot-private.sh stop DIR
#   scripts/dovecot-private.sh status DIR
#
# Everything lives in DIR (an absolute path): config, certificates, sockets,
# state, log and mail. /etc/dovecot and any system Dovecot are never touched,
# so this runs next to a packaged Dovecot on 143/993/110/995.
#
# start is idempotent-ish: an instance already running from DIR is stopped,
# then config, certificates and mailbox are written afresh, so every start
# gives the same server with the same two messages.
#
# Environment:
#   CERTGEN              path to the certgen tool (default: found in build*/)
#   MP_IMAP_PORT         plaintext IMAP, STARTTLS offered (default 10143)
#   MP_IMAPS_PORT        IMAP over TLS (default 10993)
#   MP_POP3_PORT         plaintext POP3, STLS offered (default 10110)
#   MP_POP3S_PORT        POP3 over TLS (default 10995)
#   MP_DOVECOT_PASSWORD  password of the test user "mpuser" (default mp-secret-pass)
#   MP_DOVECOT_IPV6      1: also listen on ::1, 0: do not (default: if ::1 exists)
#
# Written files of interest: DIR/ca.crt (trust anchor for --ca-file),
# DIR/password (the test password, for --password-file), DIR/dovecot.log.
#
# Runs as root (CI, containers): mail then belongs to nobody:nogroup and the
# login processes are chrooted as usual. As another user it runs unprivileged,
# with everything owned by that user and no chroot.

set -euo pipefail

READY_SECS=10
STOP_SECS=10
MP_USER=mpuser

die() {
	echo "dovecot-private: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start|stop|status DIR" >&2
	exit 1
}

check_dir() {
	case "$1" in
	/*) ;;
	*) die "DIR must be an absolute path, got '$1'" ;;
	esac
	# Dovecot config values are not quoted here; keep DIR simple.
	case "$1" in
	*[!A-Za-z0-9/._+-]*) die "DIR may only hold letters, digits and / . _ + -: '$1'" ;;
	esac
	# Unix sockets live in DIR/run/...; sun_path holds 108 bytes.
	if [ "${#1}" -gt 70 ]; then
		die "DIR is too long for Dovecot's unix sockets (${#1} > 70 chars): '$1'"
	fi
}

check_port() {
	case "$2" in
	'' | *[!0-9]*) die "$1 must be a port number, got '$2'" ;;
	esac
	if [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
		die "$1 out of range: $2"
	fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
	timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

master_pid() {
	local pidfile="$1/run/master.pid" pid
	[ -r "$pidfile" ] || return 1
	pid=$(cat "$pidfile" 2>/dev/null) || return 1
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$pid" 2>/dev/null || return 1
	# A recycled pid must not be mistaken for our master.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$1/dovecot.conf" || return 1
	echo "$pid"
}

find_certgen() {
	if [ -n "${CERTGEN:-}" ]; then
		[ -x "$CERTGEN" ] || die "CERTGEN=$CERTGEN is not an executable"
		echo "$CERTGEN"
		return
	fi
	local root c
	root=$(cd "$(dirname "$0")/.." && pwd)
	for c in "$root"/build/tests/certgen/certgen "$root"/build*/tests/certgen/certgen; do
		if [ -x "$c" ]; then
			echo "$c"
			return
		fi
	done
	die "certgen not found: build it (cmake --build build --target certgen) or set CERTGEN=/path/to/certgen"
}

do_stop() {
	local dir="$1" pid i
	pid=$(master_pid "$dir") || {
		echo "dovecot-private: not running in $dir"
		return 0
	}
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < STOP_SECS * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "dovecot-private: master $pid ignored SIGTERM for ${STOP_SECS}s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
		# Children notice the master is gone through their pipe to it.
		sleep 0.5
	fi
	echo "dovecot-private: stopped (pid $pid) in $dir"
}

write_message() {
	# $1 file, $2 number, $3 subject
	cat >"$1" <<EOF
Return-Path: <monitor@example.test>
From: mailpulse test <monitor@example.test>
To: $MP_USER@example.test
Subject: $3
Date: Tue, 14 Nov 2023 22:13:2$2 +0000
Message-ID: <mailpulse-seed-$2@example.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Seed message $2 of 2 for the mailpulse Dovecot harness.
EOF
}

do_start() {
	local dir="$1"
	local imap=${MP_IMAP_PORT:-10143} imaps=${MP_IMAPS_PORT:-10993}
	local pop3=${MP_POP3_PORT:-10110} pop3s=${MP_POP3S_PORT:-10995}
	local password=${MP_DOVECOT_PASSWORD-mp-secret-pass}
	local certgen hash addrs mail_user mail_group uid gid extra="" anvil_chroot="" p i

	check_port MP_IMAP_PORT "$imap"
	check_port MP_IMAPS_PORT "$imaps"
	check_port MP_POP3_PORT "$pop3"
	check_port MP_POP3S_PORT "$pop3s"
	[ -n "$password" ] || die "MP_DOVECOT_PASSWORD is empty"
	case "$password" in *$'\n'* | *$'\r'*) die "MP_DOVECOT_PASSWORD holds a line break" ;; esac
	command -v dovecot >/dev/null || die "dovecot not installed (apt-get install dovecot-imapd dovecot-pop3d)"
	command -v openssl >/dev/null || die "openssl command not found"
	certgen=$(find_certgen)

	do_stop "$dir" >/dev/null
	for p in "$imap" "$imaps" "$pop3" "$pop3s"; do
		if port_open "$p"; then
			die "port 127.0.0.1:$p is already in use by another program; choose others with MP_IMAP_PORT etc."
		fi
	done

	if [ "$(id -u)" = 0 ]; then
		mail_user=nobody
		mail_group=nogroup
		getent group nogroup >/dev/null || mail_group=nobody
		uid=$(id -u "$mail_user") || die "no user '$mail_user' to own the mail"
		gid=$(getent group "$mail_group" | cut -d: -f3)
		[ -n "$gid" ] || die "no group '$mail_group' to own the mail"
	else
		# Unprivileged: Dovecot runs every process as us and cannot chroot.
		mail_user=$(id -un)
		mail_group=$(id -gn)
		uid=$(id -u)
		gid=$(id -g)
		anvil_chroot="chroot ="
		extra="default_internal_user = $mail_user
default_login_user = $mail_user
default_internal_group = $mail_group
service imap-login {
  chroot =
}
service pop3-login {
  chroot =
}"
	fi

	addrs=127.0.0.1
	case "${MP_DOVECOT_IPV6:-auto}" in
	1) addrs="127.0.0.1, ::1" ;;
	0) ;;
	*) if grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; then addrs="127.0.0.1, ::1"; fi ;;
	esac

	mkdir -p "$dir"
	chmod 0755 "$dir"
	rm -rf "$dir/run" "$dir/state" "$dir/mail"
	mkdir -p "$dir/run" "$dir/state"
	: >"$dir/dovecot.log"

	"$certgen" --out "$dir/ca" --cn "mailpulse test CA" --ca --to $((3650 * 86400))
	"$certgen" --out "$dir/server" --cn localhost --issuer "$dir/ca" \
		--san "DNS:localhost,IP:127.0.0.1,IP:::1"

	# Only a hash reaches the users file; the clear password goes to a 0600
	# file for --password-file.
	hash=$(printf '%s\n' "$password" | openssl passwd -6 -stdin)
	(umask 077 && printf '%s' "$password" >"$dir/password")
	printf '%s:{SHA512-CRYPT}%s:%s:%s::%s::\n' "$MP_USER" "$hash" "$uid" "$gid" \
		"$dir/mail/$MP_USER" >"$dir/users"
	# Read by the auth process, which runs as the internal user.
	chmod 0644 "$dir/users"

	local md="$dir/mail/$MP_USER/Maildir"
	mkdir -p "$md/cur" "$md/new" "$md/tmp"
	# cur with no flags: the count stays 2 however often tests look.
	write_message "$md/cur/1700000001.M1P1.mailpulse-seed:2," 1 "mailpulse seed one"
	write_message "$md/cur/1700000002.M2P1.mailpulse-seed:2," 2 "mailpulse seed two"
	chown -R "$uid:$gid" "$dir/mail"
	chmod -R u+rwX,go-rwx "$dir/mail"
	chmod 0755 "$dir/mail"
	# A DIR below a private parent (say /root/...) would only fail at login.
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
		! setpriv --reuid="$uid" --regid="$gid" --clear-groups test -w "$md/cur"; then
		die "$mail_user cannot reach $md: make the parents of $dir world-searchable (chmod o+x)"
	fi

	cat >"$dir/dovecot.conf" <<EOF
# Written by dovecot-private.sh on every start; edits are lost.
instance_name = mailpulse-private
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
debug_log_path = $dir/dovecot.log
$extra

protocols = imap pop3
listen = $addrs
ssl = yes
ssl_cert = <$dir/server.crt
ssl_key = <$dir/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_verbose = yes

passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT username_format=%n $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $dir/users
}

mail_location = maildir:$dir/mail/%n/Maildir
mail_uid = $uid
mail_gid = $gid
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid
namespace inbox {
  inbox = yes
}
pop3_uidl_format = %08Xu%08Xv

# No auth penalty: after one failed login every login from 127.0.0.1 would
# wait 2-15 s more, and tests running in parallel would time out at random.
# auth_failure_delay (2 s on the failure itself) stays, as on a real server.
service anvil {
  $anvil_chroot
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

service imap-login {
  inet_listener imap {
    address = $addrs
    port = $imap
  }
  inet_listener imaps {
    address = $addrs
    port = $imaps
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = $addrs
    port = $pop3
  }
  inet_listener pop3s {
    address = $addrs
    port = $pop3s
    ssl = yes
  }
}
EOF

	doveconf -c "$dir/dovecot.conf" -n >"$dir/doveconf.out" 2>&1 ||
		die "doveconf refused $dir/dovecot.conf: $(cat "$dir/doveconf.out")"
	dovecot -c "$dir/dovecot.conf" >>"$dir/dovecot.log" 2>&1 ||
		die "dovecot did not start; log tail:
$(tail -n 20 "$dir/dovecot.log")"

	for ((i = 0; i < READY_SECS * 10; i++)); do
		if master_pid "$dir" >/dev/null && port_open "$imap" && port_open "$imaps" &&
			port_open "$pop3" && port_open "$pop3s"; then
			break
		fi
		sleep 0.1
	done
	local pid
	if ! pid=$(master_pid "$dir") || ! port_open "$imap" || ! port_open "$imaps" ||
		! port_open "$pop3" || ! port_open "$pop3s"; then
		do_stop "$dir" >/dev/null 2>&1 || true
		die "dovecot not listening on all four ports after ${READY_SECS}s; log tail:
$(tail -n 20 "$dir/dovecot.log")"
	fi

	cat <<EOF
dovecot-private: running (pid $pid) in $dir
  IMAP   imap://127.0.0.1:$imap    (STARTTLS)
  IMAPS  imaps://127.0.0.1:$imaps
  POP3   pop3://127.0.0.1:$pop3    (STLS)
  POP3S  pop3s://127.0.0.1:$pop3s
  CA     $dir/ca.crt
  user   $MP_USER, password in $dir/password, 2 messages in INBOX
  log    $dir/dovecot.log
EOF
}

[ $# -eq 2 ] || usage
check_dir "$2"
case "$1" in
start) do_start "$2" ;;
stop) do_stop "$2" ;;
status)
	if pid=$(master_pid "$2"); then
		echo "dovecot-private: running (pid $pid) in $2"
	else
		echo "dovecot-private: not running in $2"
		exit 1
	fi
	;;
*) usage ;;
esac
