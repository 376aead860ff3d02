#!/bin/sh
# bench/thumbnailer.sh [BUILD_DIR]: figures for raiiaf-thumbnailer (issue 5:
# "fast, honouring the requested size"; no pass/fail). For each fixture and
# a 4096x4096 photo packed as .raiiaf, at -s 128, 256 and 512:
#   - best wall time of raiiaf-thumbnailer over RAIIAF_BENCH_ITERATIONS runs
#     (default 7), and its peak RSS;
#   - for scale, the same thumbnail made by `magick PNG -thumbnail` from the
#     embedded PNG (ImageMagick's own PNG reader and resize).
# Run it in the development environment:
#   packaging/devenv bench/thumbnailer.sh [BUILD_DIR]     (default: build)
# Environment: RAIIAF_BENCH_PHOTO (default: Debian's gnome-backgrounds
# adwaita-d.jpg).
set -eu

top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
photo=${RAIIAF_BENCH_PHOTO:-/usr/share/backgrounds/gnome/adwaita-d.jpg}
iterations=${RAIIAF_BENCH_ITERATIONS:-7}
thumbnailer=$build/tools/thumbnailer/raiiaf-thumbnailer
raiiaf=$build/tools/raiiaf

for p in "$thumbnailer" "$raiiaf"; do
    [ -x "$p" ] || { echo "thumbnailer.sh: $p not built (meson compile -C $build)" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

inputs=$(ls "$top"/tests/fixtures/*.raiiaf)
if [ -f "$photo" ] && command -v magick >/dev/null 2>&1; then
    magick "$photo" -resize '4096x4096!' "$tmp/photo.png"
    "$raiiaf" pack -o "$tmp/photo-4096.raiiaf" --image "$tmp/photo.png"
    inputs="$inputs $tmp/photo-4096.raiiaf"
else
    echo "(no $photo or no magick: fixtures only)"
fi

# best_time CMD...: the shortest wall time of $iterations runs, in ms.
best_time() {
    best=
    i=0
    while [ "$i" -lt "$iterations" ]; do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        t=$(( (t1 - t0) / 1000000 ))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
        i=$((i + 1))
    done
    echo "$best"
}

printf '%-38s %5s %10s %9s %14s\n' file size "time (ms)" "RSS (MiB)" "magick (ms)"
for f in $inputs; do
    "$raiiaf" extract -f -o "$tmp/x" "$f" >/dev/null
    for s in 128 256 512; do
        ms=$(best_time "$thumbnailer" -s "$s" "$f" "$tmp/t.png")
        rss=$( { /usr/bin/time -f '%M' "$thumbnailer" -s "$s" "$f" "$tmp/t.png"; } 2>&1 | tail -1)
        if command -v magick >/dev/null 2>&1; then
            im=$(best_time magick "$tmp/x/image.png" -thumbnail "${s}x${s}>" "$tmp/m.png")
        else
            im=-
        fi
        printf '%-38s %5s %10s %9s %14s\n' "$(basename "$f")" "$s" "$ms" \
            "$(( rss / 1024 ))" "$im"
    done
done
