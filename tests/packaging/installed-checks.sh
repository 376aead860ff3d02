#!/bin/sh
# tests/packaging/installed-checks.sh FIXTURES_DIR
#
# Run by install-test.sh inside a fresh Debian 13 (sid, or 12) root where the suite's
# packages were installed with apt: checks that the hosts find the installed
# files on their own (no environment variables, no build tree). Prints one
# line per check and exits non-zero when one fails.
set -u

fixtures=$1
out=$(mktemp -d /tmp/raiiaf-checks.XXXXXX)
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Width and height of a PNG from its IHDR (bytes 16-23, big-endian).
png_size() {
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || return 1
    set -- $(od -An -tu1 -j16 -N8 "$1")
    echo "$(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 ))x$(( ($5 << 24) | ($6 << 16) | ($7 << 8) | $8 ))"
}
is_raiiaf() { [ "$(head -c 6 "$1" 2>/dev/null)" = raiiaf ]; }

# ImageMagick 7's `magick`, or ImageMagick 6's commands (Debian 12).
if command -v magick >/dev/null 2>&1; then
    magick() { command magick "$@"; }
    gimp_major=3.0
else
    magick() {
        case "$1" in
            convert | identify) cmd=$1; shift; command "$cmd" "$@" ;;
            *) command convert "$@" ;;
        esac
    }
    gimp_major=2.10
fi

astronaut="$fixtures/astronaut-f32-zfp.raiiaf"        # 512x512 RGBA
logo="$fixtures/logo-rgba-two-latents-raw.raiiaf"     # 500x500 RGBA
palette="$fixtures/palette-zfp.raiiaf"                # 320x240 palette

# ---- The files are where the hosts look ----------------------------------
for f in /usr/bin/raiiaf /usr/bin/raiiaf-thumbnailer \
         /usr/share/mime/packages/raiiaf.xml /usr/share/thumbnailers/raiiaf.thumbnailer \
         /usr/share/man/man1/raiiaf.1.gz /usr/share/man/man1/raiiaf-thumbnailer.1.gz; do
    if [ -e "$f" ]; then pass "installed $f"; else fail "missing $f"; fi
done
if raiiaf --help >/dev/null 2>&1; then pass "raiiaf --help"; else fail "raiiaf --help"; fi

# ---- ImageMagick -----------------------------------------------------------
if magick -list format 2>/dev/null | grep -qi '^ *RAIIAF'; then
    pass "magick -list format lists RAIIAF"
else
    fail "magick -list format does not list RAIIAF"
fi
if magick convert "$astronaut" "$out/im.png" 2>"$out/im1.err" &&
   [ "$(png_size "$out/im.png")" = 512x512 ]; then
    pass "magick convert .raiiaf -> .png (512x512)"
else
    fail "magick convert .raiiaf -> .png: $(cat "$out/im1.err")"
fi
if magick convert "$out/im.png" -resize 50% "$out/im.raiiaf" 2>"$out/im2.err" &&
   is_raiiaf "$out/im.raiiaf" &&
   [ "$(magick identify -format '%m %wx%h' "$out/im.raiiaf" 2>/dev/null)" = "RAIIAF 256x256" ]; then
    pass "magick convert .png -> .raiiaf, read back as RAIIAF 256x256"
else
    fail "magick convert .png -> .raiiaf: $(cat "$out/im2.err")"
fi
if raiiaf verify "$out/im.raiiaf" >/dev/null 2>&1; then
    pass "raiiaf verify accepts magick's .raiiaf"
else
    fail "raiiaf verify rejects magick's .raiiaf"
fi

# ImageMagick's Q16HDRI build (Debian 13, sid): its own coder package.
if [ "$(dpkg-query -W -f='${db:Status-Status}' imagemagick-7.q16hdri-raiiaf 2>/dev/null)" = installed ]; then
    if magick-im7.q16hdri -list format 2>/dev/null | grep -qi '^ *RAIIAF'; then
        pass "magick-im7.q16hdri -list format lists RAIIAF"
    else
        fail "magick-im7.q16hdri -list format does not list RAIIAF"
    fi
    if magick-im7.q16hdri "$astronaut" -resize 50% "$out/hdri.raiiaf" 2>"$out/hdri.err" &&
       magick-im7.q16hdri "$out/hdri.raiiaf" "$out/hdri.png" 2>>"$out/hdri.err" &&
       [ "$(png_size "$out/hdri.png")" = 256x256 ] && raiiaf verify "$out/hdri.raiiaf" >/dev/null 2>&1; then
        pass "magick-im7.q16hdri reads and writes .raiiaf (256x256, verified)"
    else
        fail "magick-im7.q16hdri with .raiiaf: $(cat "$out/hdri.err")"
    fi
fi

# ---- GIMP --------------------------------------------------------------------
if [ "$gimp_major" = 3.0 ]; then
    cat >"$out/gimp.scm" <<SCM
(script-fu-use-v3)
(let* ((image (gimp-file-load RUN-NONINTERACTIVE "$logo")))
  (gimp-file-save RUN-NONINTERACTIVE image "$out/gimp.raiiaf" -1)
  (gimp-file-save RUN-NONINTERACTIVE image "$out/gimp.png" -1)
  (gimp-image-delete image))
SCM
    set -- gimp-console-3 -i -d -f --batch-interpreter plug-in-script-fu-eval \
        -b "(load \"$out/gimp.scm\")" --quit
else
    cat >"$out/gimp.scm" <<SCM
(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE "$logo" "$logo")))
       (drawable (car (gimp-image-get-active-drawable image))))
  (gimp-file-save RUN-NONINTERACTIVE image drawable "$out/gimp.raiiaf" "$out/gimp.raiiaf")
  (gimp-file-save RUN-NONINTERACTIVE image drawable "$out/gimp.png" "$out/gimp.png")
  (gimp-image-delete image))
SCM
    set -- gimp-console-2.10 -i -d -f -b "(load \"$out/gimp.scm\")" -b "(gimp-quit 0)"
fi
if timeout 600 "$@" >"$out/gimp.log" 2>&1 &&
   is_raiiaf "$out/gimp.raiiaf" && [ "$(png_size "$out/gimp.png")" = 500x500 ] &&
   [ "$(magick identify -format '%wx%h' "$out/gimp.raiiaf" 2>/dev/null)" = 500x500 ]; then
    pass "GIMP opens a .raiiaf and exports .raiiaf and .png (500x500)"
else
    fail "GIMP open/export; its output:"
    tail -30 "$out/gimp.log"
fi

# ---- gdk-pixbuf --------------------------------------------------------------
# The package's dpkg file trigger (libgdk-pixbuf-2.0-0 watches the loader
# folder) rebuilt loaders.cache; gdk-pixbuf picks the loader by MIME type.
pixbuf_cache=$(ls /usr/lib/*/gdk-pixbuf-2.0/2.10.0/loaders.cache 2>/dev/null | head -1)
if [ -n "$pixbuf_cache" ] && grep -q 'libpixbufloader-raiiaf.so' "$pixbuf_cache"; then
    pass "loaders.cache lists the raiiaf loader"
else
    fail "loaders.cache ($pixbuf_cache) does not list the raiiaf loader"
fi
# gdk-pixbuf 2.44 (Debian sid) ships no gdk-pixbuf-thumbnailer any more
# (glycin-thumbnailer took its place); older ones must have it.
pixbuf_version=$(dpkg-query -W -f='${Version}' 'libgdk-pixbuf-2.0-0:*' 2>/dev/null | head -1)
if ! command -v gdk-pixbuf-thumbnailer >/dev/null 2>&1 &&
   dpkg --compare-versions "$pixbuf_version" ge 2.43; then
    echo "skip: gdk-pixbuf $pixbuf_version has no gdk-pixbuf-thumbnailer"
elif gdk-pixbuf-thumbnailer -s 128 "$astronaut" "$out/pixbuf.png" 2>"$out/pixbuf.err" &&
   [ "$(png_size "$out/pixbuf.png")" = 128x128 ]; then
    pass "gdk-pixbuf-thumbnailer reads a .raiiaf (128x128)"
else
    fail "gdk-pixbuf-thumbnailer: $(cat "$out/pixbuf.err")"
fi

# ---- Qt ---------------------------------------------------------------------------
# The plugin in Qt's own plugin folder, found by QImageReader with no
# QT_PLUGIN_PATH (the test program of tests/qt, when install-test.sh got it).
if ls /usr/lib/*/qt6/plugins/imageformats/libqraiiaf.so >/dev/null 2>&1; then
    pass "the Qt plugin is in Qt's imageformats folder"
else
    fail "no libqraiiaf.so in /usr/lib/*/qt6/plugins/imageformats"
fi
test_qt="$(dirname "$0")/test-qt"
if [ -x "$test_qt" ]; then
    if raiiaf extract -f "$astronaut" -o "$out/qt" >/dev/null 2>"$out/qt.err" &&
       "$test_qt" same "$astronaut" "$out/qt/image.png" >>"$out/qt.err" 2>&1; then
        pass "QImageReader reads a .raiiaf as Qt's PNG handler reads the embedded PNG"
    else
        fail "QImageReader: $(tail -5 "$out/qt.err")"
    fi
fi

# ---- Python: pyraiiaf and its Pillow plugin -----------------------------------
if python3 - "$astronaut" >"$out/python.log" 2>&1 <<'PY'
import sys
import pyraiiaf.pillow  # noqa: F401
import pyraiiaf
from PIL import Image
im = Image.open(sys.argv[1])
im.load()
f = pyraiiaf.open(sys.argv[1])
assert im.format == "RAIIAF" and im.size == (512, 512) and im.mode == "RGBA", im
assert list(f.latents) == ["initial_noise"] and f.latents["initial_noise"].shape == (1, 4, 64, 64)
assert im.info["parameters"]
PY
then
    pass "python3: Image.open and pyraiiaf.open of $astronaut"
else
    fail "python3: pyraiiaf: $(tail -3 "$out/python.log")"
fi

# ---- MIME type -----------------------------------------------------------------
cp "$palette" "$out/no-extension"
cp "$palette" "$out/with-extension.raiiaf"
for f in "$out/no-extension" "$out/with-extension.raiiaf"; do
    t=$(xdg-mime query filetype "$f" 2>&1)
    if [ "$t" = image/x-raiiaf ]; then
        pass "xdg-mime query filetype $(basename "$f"): $t"
    else
        fail "xdg-mime query filetype $(basename "$f"): '$t', wanted image/x-raiiaf"
    fi
done

# ---- Thumbnailer, run as the desktop runs it: the entry's Exec line ---------
entry=/usr/share/thumbnailers/raiiaf.thumbnailer
exec_line=$(sed -n 's/^Exec=//p' "$entry")
grep -qx 'MimeType=image/x-raiiaf;' "$entry" || fail "$entry: MimeType is not image/x-raiiaf;"
for case in "$astronaut 128 128x128" "$palette 100 100x75" "$palette 400 320x240"; do
    set -- $case
    rm -f "$out/thumb.png"
    cmd=$(printf '%s\n' "$exec_line" | sed -e "s|%s|$2|" -e "s|%i|$1|" -e "s|%o|$out/thumb.png|")
    if sh -c "$cmd" && [ "$(png_size "$out/thumb.png")" = "$3" ]; then
        pass "thumbnailer -s $2 $(basename "$1"): $3 PNG"
    else
        fail "thumbnailer -s $2 $(basename "$1"): got '$(png_size "$out/thumb.png" 2>/dev/null)', wanted $3"
    fi
done

# ---- Thumbnailer in the sandbox GNOME's thumbnail factory uses ------------
# (gnome-desktop-thumbnail-script.c: /usr read-only, the input file bound
# into a private /tmp that is the output folder, nothing else, no network).
# It shows that the program needs nothing but its input and output. In a
# chroot the kernel refuses user namespaces, so there every namespace but
# the user one is unshared.
unshare_flags=
if command -v bwrap >/dev/null 2>&1; then
    for flags in "--unshare-all" \
                 "--unshare-ipc --unshare-pid --unshare-net --unshare-uts --unshare-cgroup-try"; do
        # shellcheck disable=SC2086
        if bwrap --ro-bind / / --proc /proc --dev /dev $flags --die-with-parent true 2>/dev/null; then
            unshare_flags=$flags
            break
        fi
    done
fi
if [ -n "$unshare_flags" ]; then
    sandbox_out="$out/sandbox"
    mkdir "$sandbox_out"
    set -- bwrap --ro-bind /usr /usr --ro-bind /etc/ld.so.cache /etc/ld.so.cache
    for d in bin lib lib64 sbin; do
        if [ -L "/$d" ]; then
            set -- "$@" --symlink "$(readlink "/$d")" "/$d"
        elif [ -d "/$d" ]; then
            set -- "$@" --ro-bind "/$d" "/$d"
        fi
    done
    # shellcheck disable=SC2086
    set -- "$@" --proc /proc --dev /dev --chdir / $unshare_flags --die-with-parent \
        --bind "$sandbox_out" /tmp \
        --ro-bind "$logo" /tmp/gnome-desktop-file-to-thumbnail.raiiaf \
        raiiaf-thumbnailer -s 256 /tmp/gnome-desktop-file-to-thumbnail.raiiaf \
        /tmp/gnome-desktop-thumbnailer.png
    if "$@" && [ "$(png_size "$sandbox_out/gnome-desktop-thumbnailer.png")" = 256x256 ] &&
       [ "$(ls -A "$sandbox_out" | tr '\n' ' ')" = "gnome-desktop-file-to-thumbnail.raiiaf gnome-desktop-thumbnailer.png " ]; then
        pass "thumbnailer in a GNOME-like bwrap sandbox ($unshare_flags): 256x256 PNG, nothing else written"
    else
        fail "thumbnailer in a GNOME-like bwrap sandbox (folder: $(ls -A "$sandbox_out" | tr '\n' ' '))"
    fi
else
    echo "skip: bwrap cannot make its namespaces here; the sandboxed thumbnailer check is left out"
fi

rm -rf "$out"
if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
