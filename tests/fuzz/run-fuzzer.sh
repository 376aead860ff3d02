#!/bin/sh
# tests/fuzz/run-fuzzer.sh [SECONDS]
# Builds the reader's fuzz target with clang, libFuzzer, ASan and UBSan in
# build-fuzz/ and runs it for SECONDS (default 60) from the seed corpus (the
# fixtures and tests/fixtures/corpus). A crash leaves its input in
# build-fuzz/crashes/ and fails the script: minimise it and add it to
# tests/fixtures/corpus/ with the fix.
set -eu
seconds=${1:-60}
top=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
cd "$top"
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Ddefault_library=static -Dimagemagick=disabled -Dgimp=disabled \
        -Dbuildtype=debugoptimized >/dev/null
fi
meson compile -C build-fuzz tests/fuzz/fuzz-read >/dev/null
rm -rf build-fuzz/corpus build-fuzz/crashes
mkdir -p build-fuzz/corpus build-fuzz/crashes
cp tests/fixtures/*.raiiaf build-fuzz/corpus/
cp tests/fixtures/corpus/* build-fuzz/corpus/ 2>/dev/null || true
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
build-fuzz/tests/fuzz/fuzz-read -max_total_time="$seconds" -max_len=1048576 -rss_limit_mb=2048 \
    -timeout=20 -dict=tests/fuzz/raiiaf.dict -artifact_prefix=build-fuzz/crashes/ \
    -print_final_stats=1 build-fuzz/corpus 2>build-fuzz/fuzz.log || {
    tail -60 build-fuzz/fuzz.log
    echo "fuzz: FAILED, inputs in build-fuzz/crashes/" >&2
    exit 1
}
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build-fuzz/fuzz.log || true
echo "fuzz: ${seconds}s without a crash"
