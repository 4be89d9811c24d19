#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The whole test suite: install what is missing, build, then run every test
# three ways: a normal build, ASan+UBSan, and the libFuzzer harnesses for a
# bounded time. Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test

stage() { printf '\n==== %s\n' "$*"; }

stage "format and licence lines (clang-format, SPDX)"
bad=$(git ls-files '*.c' '*.h' 2>/dev/null | while read -r f; do
        clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
if [ -n "$bad" ]; then
  echo "not clang-formatted:"; echo "$bad"; exit 1
fi
scripts/spdx.sh --check

stage "build and test (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2
ctest --test-dir build -j4 --output-on-failure

stage "build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMAILPULSE_ASAN=ON -DMAILPULSE_UBSAN=ON >/dev/null
cmake --build build-asan -j2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -j4 --output-on-failure -LE 'leak|fuzz|package'

stage "fuzzers (libFuzzer, bounded)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMAILPULSE_FUZZ=ON >/dev/null
cmake --build build-fuzz -j2
ctest --test-dir build-fuzz -j2 --output-on-failure -L fuzz
