#!/bin/sh
# bench/hostile.sh [BUILD_DIR]: time and peak memory of the tool and the
# thumbnailer on small crafted files that used to cost much (issue 10,
# items 2 and 4; no pass/fail). The files are made by tests/core/raiiaf-craft
# from a fixture, every size and hash true:
#   settings N      generation_settings with N keys (the parameters text)
#   bomb N          an image chunk of a few kB that inflates to the PNG + N bytes
#   interlaced W H  an all-black Adam7 PNG of W x H
# Run it in the development environment:
#   packaging/devenv bench/hostile.sh [BUILD_DIR]     (default: build)
set -eu

top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
if [ ! -f "$build/build.ninja" ]; then
    echo "hostile.sh: $build is not a configured meson build folder" >&2
    exit 2
fi
meson compile -C "$build" tools/raiiaf:executable raiiaf-craft:executable >/dev/null
raiiaf=$build/tools/raiiaf
craft=$build/tests/core/raiiaf-craft
thumbnailer=$build/tools/thumbnailer/raiiaf-thumbnailer
good=$top/tests/fixtures/logo-rgba-two-latents-raw.raiiaf
timer=/usr/bin/time
[ -x "$timer" ] || { echo "hostile.sh: needs GNU time ($timer)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/raiiaf-hostile.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

echo "raiiaf hostile-input benchmark: $("$raiiaf" --version | head -n 1)"
printf '%-26s %10s  %-22s %5s %9s %9s\n' "file" "bytes" "command" "exit" "seconds" "peak MiB"

# run NAME FILE LABEL CMD...: one line of figures.
run() {
    name=$1 file=$2 label=$3
    shift 3
    set +e
    "$timer" -f '%e %M' -o "$work/time.out" "$@" >/dev/null 2>"$work/err.out"
    rc=$?
    set -e
    read -r secs kib < "$work/time.out" || { secs=- kib=0; }
    case $secs in [0-9]*) ;; *) secs=$(tail -n 1 "$work/time.out" | cut -d' ' -f1); kib=$(tail -n 1 "$work/time.out" | cut -d' ' -f2) ;; esac
    printf '%-26s %10s  %-22s %5s %9s %9s\n' "$name" "$(stat -c %s "$file")" "$label" "$rc" "$secs" \
        "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')"
}

measure() { # NAME FILE
    run "$1" "$2" "info" "$raiiaf" info "$2"
    run "$1" "$2" "info --json" "$raiiaf" info --json "$2"
    run "$1" "$2" "verify" "$raiiaf" verify "$2"
    if [ -x "$thumbnailer" ]; then
        run "$1" "$2" "thumbnailer -s 256" "$thumbnailer" -s 256 "$2" "$work/thumb.png"
    fi
}

measure "good (fixture)" "$good"
for n in 100000 200000; do
    "$craft" settings "$good" "$work/settings-$n.raiiaf" "$n"
    measure "settings $n" "$work/settings-$n.raiiaf"
done
"$craft" bomb "$good" "$work/bomb.raiiaf" 1072693248
measure "bomb 1023 MiB" "$work/bomb.raiiaf"
for side in 8192 16384; do
    "$craft" interlaced "$good" "$work/adam7-$side.raiiaf" "$side" "$side"
    measure "interlaced ${side}x$side" "$work/adam7-$side.raiiaf"
done
echo "(exit 1 is a refusal with a message: a limit or a budget; see raiiaf info FILE)"
