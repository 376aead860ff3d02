#!/bin/sh
# bench/gimp.sh [BUILD_DIR] [ROUNDS] [ONLY]
#
# Time to open a .raiiaf in headless GIMP 3 (file-raiiaf) against the same
# PNG (the file's own embedded PNG) with GIMP's PNG loader, on the
# reference fixtures and a 4096x4096 photo. Prints one line per file:
# the median time of ROUNDS opens (default 5) of each, and their ratio.
# photo-latent-4096 is the photo with a 1x16x128x128 float32 zfp latent
# (packed by the CLI): the case where the latent check costs most. The
# target is a ratio of at most 1.15.
#
# ONLY (a part of a name, e.g. "photo") times just the files whose name
# holds it.
#
# Run in the development environment, from the repository root:
#   packaging/devenv bench/gimp.sh build-gimp
set -eu

build=${1:-build}
rounds=${2:-5}
export RAIIAF_BENCH_ONLY="${3:-}"
top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
photo_jpeg=/usr/share/backgrounds/gnome/adwaita-d.jpg

meson compile -C "$build" file-raiiaf raiiaf-probe tools/raiiaf:executable >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/home" "$work/profile/plug-ins/file-raiiaf" "$work/files"
# A link, not a copy: the build tree's executable finds libraiiaf relative
# to where it really is.
ln -s "$(cd "$build" && pwd)/plugins/gimp/file-raiiaf" "$work/profile/plug-ins/file-raiiaf/"
export HOME="$work/home" GIMP3_DIRECTORY="$work/profile"
export RAIIAF_BENCH_DIR="$work/files" RAIIAF_BENCH_ROUNDS="$rounds"
unset DISPLAY || true

gimp_py() {
    timeout 1200 gimp-console-3.0 -i -d -f --batch-interpreter python-fu-eval \
        -b "exec(open('$1').read())" --quit >"$work/gimp.log" 2>&1 || {
        tail -40 "$work/gimp.log" >&2
        echo "bench/gimp.sh: GIMP failed" >&2
        exit 1
    }
}

for f in "$top"/tests/fixtures/*.raiiaf; do
    cp "$f" "$work/files/"
done
# The photo: opened by GIMP and exported with file-raiiaf (PNG level 6).
if [ -r "$photo_jpeg" ]; then
    export RAIIAF_BENCH_PHOTO="$photo_jpeg"
    gimp_py "$top/bench/gimp-make-photo.py"
else
    echo "# $photo_jpeg not found: photo left out" >&2
fi
for f in "$work"/files/*.raiiaf; do
    d="$work/dump-$(basename "$f" .raiiaf)"
    mkdir -p "$d"
    "$build/tests/raiiaf-probe" dump "$f" "$d"
    cp "$d/image.png" "${f%.raiiaf}.png"
done

# The photo again, carrying a 1x16x128x128 float32 latent stored as zfp.
if [ -r "$work/files/photo-4096.png" ]; then
    python3 - "$work/noise.npy" <<'EOF2'
import array, math, struct, sys
n = 16 * 128 * 128
data = array.array('f', (math.sin(i * 0.013) * 1.5 + math.cos(i * 0.0007) for i in range(n)))
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 128, 128), }"
header += ' ' * (63 - (len(header) + 10) % 64) + '\n'
with open(sys.argv[1], 'wb') as f:
    f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(header)) + header.encode())
    f.write(data.tobytes())
EOF2
    "$build/tools/raiiaf" pack -o "$work/files/photo-latent-4096.raiiaf" \
        --image "$work/files/photo-4096.png" --latent "initial_noise=$work/noise.npy" \
        --latent-storage zfp
    cp "$work/files/photo-4096.png" "$work/files/photo-latent-4096.png"
fi

gimp_py "$top/bench/gimp-bench.py"
cat "$work/files/bench.txt"
