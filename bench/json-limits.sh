#!/bin/sh
# bench/json-limits.sh [BUILD_DIR]: figures for the JSON limits (issue 10,
# "a small file must not cost much"; no pass/fail). Files made by
# tests/core/craft-json, small (a few kB) but holding up to 8 MiB of JSON
# that json-c would inflate to gigabytes, go through raiiaf info and verify,
# the thumbnailer and magick (with this build's coder): wall time and peak
# RSS each, and the message the program gave.
#   packaging/devenv bench/json-limits.sh [BUILD_DIR]     (default: build)
set -eu

top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
craft=$build/tests/core/craft-json
raiiaf=$build/tools/raiiaf
thumbnailer=$build/tools/thumbnailer/raiiaf-thumbnailer
for p in "$craft" "$raiiaf"; do
    [ -x "$p" ] || { echo "json-limits.sh: $p not built (meson compile -C $build)" >&2; exit 2; }
done
work=$build/bench-json-limits
rm -rf "$work"
mkdir -p "$work"

# measure LABEL CMD...: time and peak RSS of CMD, its exit status and the
# last line it printed.
measure() {
    label=$1
    shift
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>&1 && rc=0 || rc=$?
    set -- $(cat "$work/time" | tail -1)
    printf '  %-12s %6.2f s %8.1f MiB  exit %-3s %s\n' "$label" "$1" \
        "$(awk -v k="$2" 'BEGIN { print k / 1024 }')" "$rc" \
        "$(grep -v '^ *$' "$work/out" | head -1 | cut -c1-110)"
}

magick_env=
if command -v magick >/dev/null 2>&1 && [ -f "$build/plugins/imagemagick/raiiaf.so" ]; then
    magick_env="MAGICK_CODER_MODULE_PATH=$build/plugins/imagemagick:$(magick -list configure | awk '$1 == "CODER_PATH" { print $2 }')"
fi

for where in manifest env; do
    for kind in objects arrays values nested nan; do
        f=$work/$where-$kind.raiiaf
        "$craft" "$f" "$where" "$kind" >/dev/null
        echo "$where-$kind: $(stat -c %s "$f") bytes on disk"
        measure "info" "$raiiaf" info "$f"
        measure "verify" "$raiiaf" verify "$f"
        [ ! -x "$thumbnailer" ] || measure "thumbnailer" "$thumbnailer" -s 128 "$f" "$work/thumb.png"
        [ -z "$magick_env" ] || measure "magick" env "$magick_env" magick "raiiaf:$f" "png:$work/out.png"
    done
done
