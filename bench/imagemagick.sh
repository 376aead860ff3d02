#!/bin/sh
# bench/imagemagick.sh [BUILD_DIR] [ROUNDS]
#
# Times the ImageMagick coder against ImageMagick's own PNG coder, on the
# reference fixtures and a 4096x4096 photo:
#   read:   magick x.raiiaf out.ppm   vs  magick x.png out.ppm
#           (x.png is the .raiiaf's own embedded PNG: the same pixels and
#           the same compression)
#   read-0: the same read with -define raiiaf:profiles=false (latents
#           neither read nor checked)
#   write:  magick x.png y.raiiaf     vs  magick x.png y.png
# Prints, for each, the median of ROUNDS runs (default 5) of the CPU time
# (user + system, steadier than wall time on a shared machine) and of the
# wall time, and the ratios. The two commands of a pair run alternately so
# that a change in the machine's load hits both alike. The targets are at
# most 1.10 (read) and 0.50 (write, issue 17: the library's libdeflate
# encoder against ImageMagick's PNG coder), with y.raiiaf's PNG no larger
# than y.png. Figures only: nothing here passes or fails.
#
# With ImageMagick 6 (Debian 12: packaging/devenv --suite bookworm
# bench/imagemagick.sh build-bookworm) the commands are `convert`.
#
# Run in the development environment, from the repository root:
#   packaging/devenv bench/imagemagick.sh build-im
set -eu

build=${1:-build}
rounds=${2:-5}
top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
photo_jpeg=/usr/share/backgrounds/gnome/adwaita-d.jpg
# Debian 12's gnome-backgrounds has the same photo as WebP.
[ -r "$photo_jpeg" ] || photo_jpeg=/usr/share/backgrounds/gnome/adwaita-d.webp

# (Debian 12's meson 1.0 names targets differently: then build everything.)
meson compile -C "$build" plugins/imagemagick/raiiaf.so:shared_module raiiaf-probe >/dev/null 2>&1 ||
    meson compile -C "$build" >/dev/null

IM=magick
command -v magick >/dev/null 2>&1 || IM=convert
system_coders=$($IM -list configure | sed -n 's/^CODER_PATH[[:space:]]*//p')
export MAGICK_CODER_MODULE_PATH="$build/plugins/imagemagick:$system_coders"
probe="$build/tests/raiiaf-probe"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
export HOME="$work/home"
mkdir -p "$HOME" "$work/files"

cat >"$work/compare.py" <<'PY'
import resource, statistics, subprocess, sys, time
rounds, label = int(sys.argv[1]), sys.argv[2]
split = sys.argv.index("--")
cmds = [sys.argv[3:split], sys.argv[split + 1:]]
cpu, wall = ([], []), ([], [])
for _ in range(rounds):
    for i, cmd in enumerate(cmds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall[i].append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[i].append((after.ru_utime - before.ru_utime +
                       after.ru_stime - before.ru_stime) * 1000)
c = [statistics.median(x) for x in cpu]
w = [statistics.median(x) for x in wall]
print(f"  {label:7s} cpu {c[0]:7.1f} {c[1]:7.1f} {c[0] / c[1]:5.2f}"
      f"    wall {w[0]:7.1f} {w[1]:7.1f} {w[0] / w[1]:5.2f}")
PY

# compare LABEL A_CMD... -- B_CMD...
compare() {
    python3 "$work/compare.py" "$rounds" "$@"
}

for f in "$top"/tests/fixtures/*.raiiaf; do
    cp "$f" "$work/files/"
done
if [ -r "$photo_jpeg" ]; then
    # A 4096x4096 photo as PNG, then as .raiiaf written by the coder.
    $IM "$photo_jpeg" "$work/photo-4096.png"
    $IM "$work/photo-4096.png" "$work/files/photo-4096.raiiaf"
else
    echo "# $photo_jpeg not found: photo left out" >&2
fi

echo "# median ms of $rounds runs:   .raiiaf     PNG ratio  (targets: read <= 1.10, write <= 0.50)"
for f in "$work"/files/*.raiiaf; do
    name=$(basename "$f" .raiiaf)
    d="$work/dump-$name"
    mkdir -p "$d"
    "$probe" dump "$f" "$d"
    png="$d/image.png"
    echo "$name ($(stat -c %s "$f") bytes, embedded PNG $(stat -c %s "$png") bytes)"
    compare read $IM "$f" "$work/out.ppm" -- $IM "$png" "$work/out.ppm"
    compare read-0 $IM -define raiiaf:profiles=false "$f" "$work/out.ppm" -- \
        $IM "$png" "$work/out.ppm"
    compare write $IM "$png" "$work/y.raiiaf" -- $IM "$png" "$work/y.png"
    echo "  sizes written: y.raiiaf $(stat -c %s "$work/y.raiiaf"), y.png $(stat -c %s "$work/y.png") bytes"
done
