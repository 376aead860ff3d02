#!/bin/sh
# bench/files.sh [BUILD_DIR]: figures for hostile non-seekable input and
# for the atomic writer (no pass/fail). Prints peak RSS and wall time of:
#   - magick -limit memory 16MiB -limit disk 0 raiiaf:/dev/zero png:/dev/null
#     (refused on the magic: a few MB, not the 8.4 GB of unbounded buffering)
#   - a header claiming 3 GiB followed by endless zeros on stdin, with
#     -limit memory 16MiB and 256MiB (buffering stops at the limit)
#   - a reference fixture through a pipe, for scale
#   - a 50 MB .raiiaf written by `raiiaf pack` over an existing file, and the
#     same written through a symbolic link (the atomic writer's cost)
# Run it in the development environment:
#   packaging/devenv bench/files.sh [BUILD_DIR]     (default: build)
set -eu

top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
raiiaf=$build/tools/raiiaf
[ -x "$raiiaf" ] || { echo "files.sh: $raiiaf not built (meson compile -C $build)" >&2; exit 2; }
system_coders=$(magick -list configure | sed -n 's/^CODER_PATH[[:space:]]*//p')
export MAGICK_CODER_MODULE_PATH="$build/plugins/imagemagick:$system_coders"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure LABEL CMD...: one line "LABEL  peak RSS  wall time  exit status".
measure() {
    label=$1
    shift
    /usr/bin/time -f "%M %e %x" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || true
    # A failing command adds "Command exited with ..." before the figures.
    set -- $(tail -1 "$tmp/time")
    rss=$1 wall=$2 status=$3
    printf '%-58s %8s kB %7s s  exit %s\n' "$label" "$rss" "$wall" "$status"
}

# A .raiiaf header: magic, version 1.0, META at 33+100, file size $1.
python3 - "$tmp/header" <<'PY'
import struct, sys
size = 3 << 30
with open(sys.argv[1], "wb") as f:
    f.write(b"raiiaf" + bytes([1, 0, 0]) + struct.pack("<IIIQI", size - 200, 100, 1, size, 0))
PY

echo "non-seekable input (figures only)"
measure "magick raiiaf:/dev/zero (-limit memory 16MiB, disk 0)" \
    magick -limit memory 16MiB -limit disk 0 raiiaf:/dev/zero png:/dev/null
for limit in 16MiB 256MiB; do
    measure "3 GiB header + zeros on stdin (-limit memory $limit)" \
        sh -c "cat '$tmp/header' /dev/zero | magick -limit memory $limit -limit disk 0 raiiaf:- png:/dev/null"
done
fixture=$top/tests/fixtures/astronaut-f32-zfp.raiiaf
measure "astronaut-f32-zfp.raiiaf through a pipe" \
    sh -c "cat '$fixture' | magick raiiaf:- png:/dev/null"
measure "astronaut-f32-zfp.raiiaf from the file" magick "$fixture" png:/dev/null

echo
echo "atomic writer (figures only)"
magick -size 4000x4000 xc: +noise random -define png:compression-level=0 "$tmp/big.png"
"$raiiaf" pack -o "$tmp/old.raiiaf" --image "$tmp/big.png"
ln -s old.raiiaf "$tmp/link.raiiaf"
size=$(stat -c %s "$tmp/old.raiiaf")
measure "pack --force over a $((size / 1000000)) MB file" \
    "$raiiaf" pack --force -o "$tmp/old.raiiaf" --image "$tmp/big.png"
measure "pack --force through a symbolic link" \
    "$raiiaf" pack --force -o "$tmp/link.raiiaf" --image "$tmp/big.png"
ln "$tmp/old.raiiaf" "$tmp/hard.raiiaf"
measure "pack --force onto a file with a hard link (in place)" \
    "$raiiaf" pack --force -o "$tmp/old.raiiaf" --image "$tmp/big.png"
