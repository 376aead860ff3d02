#!/bin/sh
# bench/core.sh [BUILD_DIR]: figures for the codec core, printed beside the
# targets of issue 2 (no pass/fail):
#   - time to read the image from a .raiiaf (raiiaf_open_file +
#     raiiaf_decode_image) vs reading the same PNG with plain libpng, to the
#     same pixel format: target at most 0.60x (issue 17: libdeflate);
#   - peak memory of that read (RSS above the process's own baseline) vs
#     the decoded pixel buffer plus the PNG bytes: target at most 1.30x;
#   - time to write those pixels as a PNG with raiiaf_encode_png (default
#     level) vs plain libpng at its defaults, and the PNGs' sizes: targets
#     at most 0.50x the time, at most 1.00x the size (issue 17);
#   - the size of the file our tool writes vs the reference's, for the same
#     pixels and latents (each fixture extracted and packed again): target
#     at most 1.00x.
# On the test fixtures and on a 4096x4096 photo (packed with a 1x4x512x512
# float32 latent). Run it in the development environment:
#   packaging/devenv bench/core.sh [BUILD_DIR]     (default: build)
# Environment: RAIIAF_BENCH_PHOTO (default: Debian's gnome-backgrounds
# adwaita-d.jpg), RAIIAF_BENCH_ITERATIONS (default 15; best time counts).
set -eu

top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
photo=${RAIIAF_BENCH_PHOTO:-/usr/share/backgrounds/gnome/adwaita-d.jpg}
iterations=${RAIIAF_BENCH_ITERATIONS:-15}
fixtures=$top/tests/fixtures

if [ ! -f "$build/build.ninja" ]; then
    echo "core.sh: $build is not a configured meson build folder (meson setup $build)" >&2
    exit 2
fi
# core-read is built only when asked for.
meson compile -C "$build" tools/raiiaf:executable core-read >/dev/null
tool=$build/tools/raiiaf
reader=$build/tools/core-read
timer=/usr/bin/time
[ -x "$timer" ] || { echo "core.sh: needs GNU time ($timer)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/raiiaf-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# The value of KEY in a "k=v k=v" line.
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# Peak RSS in KiB of a command.
peak_kib() {
    "$timer" -f %M -o "$work/time.out" "$@" >/dev/null
    tail -n 1 "$work/time.out"
}

baseline_kib=$(peak_kib "$reader" none -)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1048576 }'; }

echo "raiiaf core benchmark: $("$tool" --version | head -n 1)"
echo "time: best of $iterations reads, the two kinds alternating in one process"
echo "memory: peak RSS minus the reader's own baseline ($(mib $((baseline_kib * 1024))) MiB);"
echo "        budget = decoded pixels + PNG bytes"
echo

# ---- Read time and memory ------------------------------------------------
printf '%-28s %9s %9s %6s %7s | %10s %9s %6s %7s %6s\n' \
    "image" "png ms" "raiiaf ms" "ratio" "target" "raiiaf MiB" "budget" "ratio" "target" "png"
measure() { # NAME FILE.raiiaf FILE.png
    both=$("$reader" both "$2" "$3" "$iterations")
    r=$(printf '%s\n' "$both" | grep '^mode=raiiaf')
    p=$(printf '%s\n' "$both" | grep '^mode=png')
    rt=$(field "$r" best_ms)
    pt=$(field "$p" best_ms)
    same=yes
    [ "$(field "$r" checksum)" = "$(field "$p" checksum)" ] || same=NO
    rk=$(( $(peak_kib "$reader" raiiaf "$2" 1) - baseline_kib ))
    pk=$(( $(peak_kib "$reader" png "$3" 1) - baseline_kib ))
    decoded=$(field "$r" decoded_bytes)
    budget=$((decoded + $(stat -c %s "$3")))
    printf '%-28s %9s %9s %6s %7s | %10s %9s %6s %7s %6s%s\n' "$1" "$pt" "$rt" \
        "$(ratio "$rt" "$pt")" "<=0.60" "$(mib $((rk * 1024)))" "$(mib "$budget")" \
        "$(ratio $((rk * 1024)) "$budget")" "<=1.30" "$(ratio $((pk * 1024)) "$budget")" \
        "$([ $same = yes ] || echo '  (pixels differ!)')"
}

for f in "$fixtures"/*.raiiaf; do
    name=$(basename "$f" .raiiaf)
    "$tool" extract "$f" -o "$work/$name" >/dev/null 2>&1
    measure "$name" "$f" "$work/$name/image.png"
done

# The photo: a PNG of it, and a .raiiaf of that PNG with a 1x4x512x512
# float32 latent (seeded normal noise, like an initial latent).
photo_ok=no
if [ -r "$photo" ]; then
    magick "$photo" -strip "$work/photo.png"
    python3 -c 'import numpy as np, sys
np.save(sys.argv[1], np.random.default_rng(42).standard_normal((1, 4, 512, 512)).astype(np.float32))' \
        "$work/noise.npy"
    pack_t0=$(date +%s.%N)
    "$tool" pack -o "$work/photo.raiiaf" --image "$work/photo.png" --latent "initial_noise=$work/noise.npy"
    pack_t1=$(date +%s.%N)
    measure "photo $(magick identify -format %wx%h "$work/photo.png")" "$work/photo.raiiaf" "$work/photo.png"
    photo_ok=yes
else
    echo "(no photo: $photo is missing; install gnome-backgrounds or set RAIIAF_BENCH_PHOTO)"
fi
echo "(png = the plain libpng read's memory ratio, for comparison)"
echo

# ---- Write time and size: raiiaf_encode_png vs plain libpng ---------------
printf '%-28s %9s %9s %6s %7s | %12s %12s %6s %7s\n' \
    "image" "png ms" "raiiaf ms" "ratio" "target" "png bytes" "our bytes" "ratio" "target"
encode_row() { # NAME FILE.png
    both=$("$reader" encode "$2" "$iterations")
    r=$(printf '%s\n' "$both" | grep '^mode=encode-raiiaf')
    p=$(printf '%s\n' "$both" | grep '^mode=encode-png')
    printf '%-28s %9s %9s %6s %7s | %12s %12s %6s %7s\n' "$1" "$(field "$p" median_ms)" \
        "$(field "$r" median_ms)" "$(ratio "$(field "$r" median_ms)" "$(field "$p" median_ms)")" \
        "<=0.50" "$(field "$p" png_bytes)" "$(field "$r" png_bytes)" \
        "$(ratio "$(field "$r" png_bytes)" "$(field "$p" png_bytes)")" "<=1.00"
}
for f in "$fixtures"/*.raiiaf; do
    name=$(basename "$f" .raiiaf)
    encode_row "$name" "$work/$name/image.png"
done
[ $photo_ok = yes ] && encode_row "photo" "$work/photo.png"
echo "(median ms; the two writers alternate in one process)"
echo

# ---- verify throughput: every payload checked, the pixels decoded row by row
set --
bytes=0
i=0
while [ $i -lt 200 ]; do
    for f in "$fixtures"/*.raiiaf; do
        set -- "$@" "$f"
        bytes=$((bytes + $(stat -c %s "$f")))
    done
    i=$((i + 1))
done
t0=$(date +%s.%N)
"$tool" verify -q "$@"
t1=$(date +%s.%N)
awk -v n=$# -v b="$bytes" -v a="$t0" -v z="$t1" 'BEGIN {
    s = z - a; printf "raiiaf verify: %d files (%.0f MiB) in %.2f s: %.0f files/s, %.0f MiB/s\n\n",
    n, b / 1048576, s, n / s, b / 1048576 / s }'

# ---- File size: ours vs the reference's ------------------------------------
# Latents stored in a file, from `raiiaf info --json`.
latent_bytes() {
    "$tool" info --json "$1" | python3 -c 'import json, sys
print(sum(l["stored_bytes"] for l in json.load(sys.stdin)["latents"]))'
}
printf '%-28s %12s %12s %6s %7s | %12s %12s\n' \
    "file" "reference" "ours" "ratio" "target" "ref latents" "our latents"
for f in "$fixtures"/*.raiiaf; do
    name=$(basename "$f" .raiiaf)
    set --
    for npy in "$work/$name"/latents/*.npy; do
        [ -e "$npy" ] && set -- "$@" --latent "$(basename "$npy" .npy)=$npy"
    done
    "$tool" pack -o "$work/$name.ours.raiiaf" --image "$work/$name/image.png" \
        --metadata "$work/$name/manifest.json" --env "$work/$name/env.json" "$@"
    ref=$(stat -c %s "$f")
    ours=$(stat -c %s "$work/$name.ours.raiiaf")
    printf '%-28s %12s %12s %6s %7s | %12s %12s\n' "$name" "$ref" "$ours" "$(ratio "$ours" "$ref")" \
        "<=1.00" "$(latent_bytes "$f")" "$(latent_bytes "$work/$name.ours.raiiaf")"
done
if [ $photo_ok = yes ]; then
    png=$(stat -c %s "$work/photo.png")
    raw=$((4 * 512 * 512 * 4))
    ours=$(stat -c %s "$work/photo.raiiaf")
    echo
    echo "photo: no reference writer here; ours vs the PNG plus the raw latent bytes:"
    printf '  %s + %s = %s bytes -> %s bytes (%s), latent stored in %s bytes; pack took %.2f s\n' \
        "$png" "$raw" $((png + raw)) "$ours" "$(ratio "$ours" $((png + raw)))" \
        "$(latent_bytes "$work/photo.raiiaf")" "$(awk -v a="$pack_t0" -v b="$pack_t1" 'BEGIN { print b - a }')"
fi
