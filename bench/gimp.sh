#!/bin/sh
# bench/gimp.sh [BUILD_DIR] [ROUNDS] [ONLY]
#
# Time to open a .raiiaf in headless GIMP 3 (file-raiiaf) or, in a GIMP 2.10
# build (Debian 12: packaging/devenv --suite bookworm bench/gimp.sh
# build-bookworm), in GIMP 2.10, against the same
# PNG (the file's own embedded PNG) with GIMP's PNG loader, on the
# reference fixtures and a 4096x4096 photo. Prints one line per file:
# the median time of ROUNDS opens (default 5) of each, and their ratio.
# photo-latent-4096 is the photo with a 1x16x128x128 float32 zfp latent
# (packed by the CLI): the case where the latent check costs most. The
# target is a ratio of at most 1.15. With GIMP 3, then the time to export
# the image opened from the PNG as .raiiaf against GIMP's PNG export, with
# the files' sizes: target at most 0.50 (issue 17), the PNG no larger.
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
# Debian 12's gnome-backgrounds has the same photo as WebP.
[ -r "$photo_jpeg" ] || photo_jpeg=/usr/share/backgrounds/gnome/adwaita-d.webp

# (Debian 12's meson 1.0 names targets differently: then build everything.)
meson compile -C "$build" file-raiiaf raiiaf-probe tools/raiiaf:executable >/dev/null 2>&1 ||
    meson compile -C "$build" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/home" "$work/profile/plug-ins/file-raiiaf" "$work/files"
# GIMP 3 when the build has it, else GIMP 2.10 (Script-Fu).
gimp3=
if ldd "$build/plugins/gimp/file-raiiaf" | grep -q 'libgimp-3'; then gimp3=yes; fi
# A link, not a copy: the build tree's executable finds libraiiaf relative
# to where it really is.
ln -s "$(cd "$build" && pwd)/plugins/gimp/file-raiiaf" "$work/profile/plug-ins/file-raiiaf/"
export HOME="$work/home" GIMP3_DIRECTORY="$work/profile" GIMP2_DIRECTORY="$work/profile"
export RAIIAF_BENCH_DIR="$work/files" RAIIAF_BENCH_ROUNDS="$rounds"
unset DISPLAY || true

gimp_py() {
    timeout 1200 gimp-console-3 -i -d -f --batch-interpreter python-fu-eval \
        -b "exec(open('$1').read())" --quit >"$work/gimp.log" 2>&1 || {
        tail -40 "$work/gimp.log" >&2
        echo "bench/gimp.sh: GIMP failed" >&2
        exit 1
    }
}

for f in "$top"/tests/fixtures/*.raiiaf; do
    cp "$f" "$work/files/"
done
# Script-Fu for GIMP 2.10: the bench's settings, then FILE.
gimp_scm() {
    names=$(cd "$work/files" && for f in *.raiiaf; do printf ' "%s"' "${f%.raiiaf}"; done)
    cat >"$work/run.scm" <<SCM
(define BENCH-DIR "$work/files")
(define BENCH-ROUNDS $rounds)
(define BENCH-NAMES (list$names))
(define BENCH-PHOTO "$photo_jpeg")
(load "$1")
SCM
    timeout 1200 gimp-console-2.10 -i -d -f -b "(load \"$work/run.scm\")" \
        -b '(gimp-quit 0)' >"$work/gimp.log" 2>&1 || {
        tail -40 "$work/gimp.log" >&2
        echo "bench/gimp.sh: GIMP failed" >&2
        exit 1
    }
}

# The photo: opened by GIMP and exported with file-raiiaf (PNG level 6).
if [ -r "$photo_jpeg" ] && [ -z "$gimp3" ]; then
    cat >"$work/photo.scm" <<SCM
(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE BENCH-PHOTO BENCH-PHOTO)))
       (out (string-append BENCH-DIR "/photo-4096.raiiaf")))
  (file-raiiaf-export RUN-NONINTERACTIVE image (car (gimp-image-get-active-drawable image))
                      out out 6 "keep" 1 "benchmark photo" "" 1 1 1 1 1)
  (gimp-image-delete image))
SCM
    gimp_scm "$work/photo.scm"
elif [ -r "$photo_jpeg" ]; then
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

if [ -n "$gimp3" ]; then
    gimp_py "$top/bench/gimp-bench.py"
else
    gimp_scm "$top/bench/gimp2-bench.scm"
fi
cat "$work/files/bench.txt"
