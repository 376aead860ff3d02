#!/bin/sh
# tests/run-all.sh: every test, as CI runs them (inside packaging/devenv).
#
# In the Debian 13 environment (packaging/devenv tests/run-all.sh):
#   1. configure and build build/, run every meson test suite (core, tools,
#      imagemagick, gimp, pngsuite, packaging) against the build tree;
#   2. the core and tool suites again under ASan and UBSan (build-asan/);
#   3. the fuzz targets (reader, round trip, PNG decoders, .npy) for RAIIAF_FUZZ_SECONDS
#      in all (default 60).
# In another suite's environment (packaging/devenv --suite bookworm
# tests/run-all.sh: GIMP 2.10, ImageMagick 6): step 1 in build-SUITE/; the
# library's sanitizer and fuzz runs are the Debian 13 environment's.
set -eu
top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$top"
suite=${RAIIAF_DEVENV_SUITE:-trixie}
build=build
[ "$suite" = trixie ] || build=build-$suite
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
meson compile -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2
[ "$suite" = trixie ] || exit 0
tests/run-sanitizers.sh
tests/fuzz/run-fuzzer.sh "${RAIIAF_FUZZ_SECONDS:-60}"
