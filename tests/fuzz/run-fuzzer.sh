#!/bin/sh
# tests/fuzz/run-fuzzer.sh [SECONDS [TARGET...]]
# Builds the fuzz targets with clang, libFuzzer, ASan and UBSan in
# build-fuzz/ (the library and the .npy reader instrumented for coverage)
# and runs them for SECONDS in all (default 60), split by weight: read 3,
# roundtrip 2, png 2, npy 1, aimeta 1 (the reader has the most code to
# reach). TARGET: read, roundtrip, png, npy, aimeta (default all). Each
# starts from its corpus in the repository (tests/fuzz/corpus/TARGET), for
# the .raiiaf targets every .raiiaf fixture (tests/fixtures and
# tests/fixtures/corpus), for png the PngSuite (tests/pngsuite). Prints each
# target's coverage (edges reached of the
# instrumented ones) and its new corpus size. A crash leaves its input in
# build-fuzz/crashes/ and fails the script: minimise it and add it to
# tests/fuzz/corpus/TARGET/ with the fix. New inputs worth keeping:
#   build-fuzz/tests/fuzz/fuzz-T -merge=1 tests/fuzz/corpus/T build-fuzz/corpus-T
set -eu
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-read roundtrip png npy aimeta}
top=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
cd "$top"
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Ddefault_library=static -Dimagemagick=disabled -Dgimp=disabled -Dqt=disabled \
        -Dbuildtype=debugoptimized >/dev/null
fi
weight() { case $1 in read) echo 3 ;; roundtrip|png) echo 2 ;; *) echo 1 ;; esac; }
total=0
for t in $targets; do total=$((total + $(weight "$t"))); done
for t in $targets; do
    meson compile -C build-fuzz "tests/fuzz/fuzz-$t" >/dev/null
done
rm -rf build-fuzz/crashes
mkdir -p build-fuzz/crashes
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
status=0
for t in $targets; do
    secs=$((seconds * $(weight "$t") / total))
    [ "$secs" -ge 1 ] || secs=1
    corpus=build-fuzz/corpus-$t
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
    dict=
    if [ "$t" = png ]; then
        cp tests/pngsuite/*.png "$corpus"/
    elif [ "$t" = read ] || [ "$t" = roundtrip ]; then
        cp tests/fixtures/*.raiiaf tests/fixtures/corpus/*.raiiaf "$corpus"/ 2>/dev/null || true
        dict=-dict=tests/fuzz/raiiaf.dict
    fi
    seeds=$(ls "$corpus" | wc -l)
    log=build-fuzz/fuzz-$t.log
    if ! build-fuzz/tests/fuzz/fuzz-"$t" -max_total_time="$secs" -max_len=1048576 \
        -rss_limit_mb=2048 -timeout=20 $dict -artifact_prefix=build-fuzz/crashes/ \
        -print_final_stats=1 "$corpus" 2>"$log"; then
        tail -60 "$log"
        echo "fuzz-$t: FAILED, inputs in build-fuzz/crashes/" >&2
        status=1
        continue
    fi
    # "Loaded 1 modules (N inline 8-bit counters)": the edges instrumented;
    # the last "cov: N" line: those reached.
    edges=$(sed -n 's/.*Loaded [0-9]* modules *(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz-$t: ${secs}s, $runs runs, coverage ${cov:-?} of ${edges:-?} edges," \
        "corpus $seeds seeds -> $(ls "$corpus" | wc -l) inputs, no crash"
done
exit $status
