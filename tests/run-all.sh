#!/bin/sh
# tests/run-all.sh: every test, as CI runs them (inside packaging/devenv).
#   1. configure and build build/, run every meson test suite (core, tools,
#      imagemagick, gimp, packaging) against the build tree;
#   2. the core and tool suites again under ASan and UBSan (build-asan/);
#   3. the reader's fuzz target for RAIIAF_FUZZ_SECONDS (default 60).
set -eu
top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$top"
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build
meson test -C build --print-errorlogs --num-processes 2
tests/run-sanitizers.sh
tests/fuzz/run-fuzzer.sh "${RAIIAF_FUZZ_SECONDS:-60}"
