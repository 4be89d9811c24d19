#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Install what mailpulse needs from Debian 12's packages, and nothing that
# is already there. Needs root (or sudo).
#   scripts/deps.sh          to build and run the demo
#   scripts/deps.sh --test   also what the test suite uses (fuzzers, valgrind,
#                            jq, curl, python3, a real Prometheus, headless
#                            Chromium, the Debian package tools)
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libssl-dev libevent-dev libjansson-dev libyaml-dev libsqlite3-dev
  libcurl4-openssl-dev libcmocka-dev libpq-dev
  openssl ca-certificates dovecot-imapd dovecot-pop3d procps
)
if [ "${1:-}" = --test ]; then
  pkgs+=(clang-format clang libclang-rt-14-dev valgrind jq curl python3 iproute2 nftables prometheus
    chromium python3-yaml debhelper dpkg-dev fakeroot lintian git postgresql)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Keep the packaged dovecot from starting a system instance where policy allows.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
