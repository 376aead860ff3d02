#!/bin/sh
# tests/packaging/user-install-test.sh SOURCE_ROOT WORK_DIR [TEST_QT]
#
# Follows "Into your own folders, without root" of packaging/README.md in a
# throwaway HOME: a static build installed with --prefix=$HOME/.local, the
# plug-in in GIMP's user folder and the coder in a folder named by
# MAGICK_CODER_MODULE_PATH; then GIMP, magick, the MIME cache and the
# thumbnailer must work from there. With GIMP 3 and ImageMagick 7, or (Debian
# 12) GIMP 2.10 and ImageMagick 6; exits 77 when neither pair is there.
set -u
src=$(CDPATH= cd -- "$1" && pwd)
test_qt=${3:-}
# GIMP 3 keeps its user folder per minor release (~/.config/GIMP/3.0 for
# 3.0.x, 3.2 for 3.2.x): ask the GIMP that is there. Debian's GIMP 3.0 and
# 3.2 both name their console gimp-console-3.
gimp_console=$(command -v gimp-console-3 || command -v gimp-console-3.0 || true)
if [ -n "$gimp_console" ] && command -v magick >/dev/null 2>&1; then
    gimp=$("$gimp_console" --version | sed -n 's/.* version \([0-9]*\.[0-9]*\).*/\1/p')
    convert=magick identify="magick identify"
elif command -v gimp-console-2.10 >/dev/null 2>&1 && command -v convert >/dev/null 2>&1; then
    gimp=2.10 convert=convert identify=identify
else
    echo "SKIP: neither GIMP 3 and magick nor GIMP 2.10 and convert"
    exit 77
fi

work=$2/user-install
rm -rf "$work"
mkdir -p "$work/home"
work=$(CDPATH= cd -- "$work" && pwd)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home"
unset XDG_DATA_HOME XDG_CONFIG_HOME GIMP3_DIRECTORY GIMP3_PLUGINDIR GIMP2_DIRECTORY \
    MAGICK_CODER_MODULE_PATH GDK_PIXBUF_MODULE_FILE QT_PLUGIN_PATH
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# Statically linked: nothing to find at run time.
carries_library() {
    if ldd "$1" 2>/dev/null | grep -q libraiiaf; then
        fail "$2 needs libraiiaf.so at run time"
    else
        pass "$2 carries the library"
    fi
}

# ---- The README's commands ------------------------------------------------
if ! { meson setup "$work/build" "$src" --prefix="$HOME/.local" -Ddefault_library=static \
           -Dtests=false \
           -Dgimp_plugindir="$HOME/.config/GIMP/$gimp/plug-ins" \
           -Dimagemagick_moduledir="$HOME/.local/lib/ImageMagick/coders" \
           -Dgdk_pixbuf_moduledir="$HOME/.local/lib/gdk-pixbuf-2.0/loaders" \
           -Dqt_plugindir="$HOME/.local/lib/qt6/plugins" &&
       meson compile -C "$work/build" -j 2 &&
       meson install -C "$work/build"; } >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log"
    echo "FAIL: meson setup/compile/install"
    exit 1
fi
pass "static build installed into \$HOME"

for f in .local/bin/raiiaf .local/bin/raiiaf-thumbnailer \
         .config/GIMP/$gimp/plug-ins/file-raiiaf/file-raiiaf \
         .local/lib/ImageMagick/coders/raiiaf.so .local/lib/ImageMagick/coders/raiiaf.la \
         .local/share/mime/packages/raiiaf.xml .local/share/thumbnailers/raiiaf.thumbnailer \
         .local/share/man/man1/raiiaf.1 .local/share/man/man1/raiiaf-thumbnailer.1; do
    [ -e "$HOME/$f" ] && pass "installed ~/$f" || fail "missing ~/$f"
done
for f in .local/bin/raiiaf-thumbnailer .config/GIMP/$gimp/plug-ins/file-raiiaf/file-raiiaf \
         .local/lib/ImageMagick/coders/raiiaf.so; do
    carries_library "$HOME/$f" "~/$f"
done

# ---- MIME cache: meson install ran update-mime-database --------------------
grep -qx 'image/x-raiiaf' "$HOME/.local/share/mime/types" 2>/dev/null &&
    grep -q ':image/x-raiiaf:\*\.raiiaf$' "$HOME/.local/share/mime/globs2" 2>/dev/null &&
    pass "~/.local/share/mime cache knows image/x-raiiaf" ||
    fail "~/.local/share/mime cache lacks image/x-raiiaf"

# ---- ImageMagick through MAGICK_CODER_MODULE_PATH, as the README says -------
in="$src/tests/fixtures/palette-zfp.raiiaf"
if $convert "$in" "$work/x.png" 2>/dev/null; then
    fail "$convert read .raiiaf without the module path (the test would prove nothing)"
fi
MAGICK_CODER_MODULE_PATH="$HOME/.local/lib/ImageMagick/coders:$($convert -list configure | awk '$1 == "CODER_PATH" { print $2 }')"
export MAGICK_CODER_MODULE_PATH
if $convert "$in" "$work/m.png" && $convert "$work/m.png" "$work/m.raiiaf" &&
   [ "$($identify -format '%m %wx%h' "$work/m.raiiaf")" = "RAIIAF 320x240" ]; then
    pass "$convert reads and writes .raiiaf with the coder in ~/.local/lib/ImageMagick/coders"
else
    fail "$convert with MAGICK_CODER_MODULE_PATH=$MAGICK_CODER_MODULE_PATH"
fi
unset MAGICK_CODER_MODULE_PATH

# ---- GIMP finds the plug-in in its user folder ------------------------------
if [ "$gimp" != 2.10 ]; then
    cat >"$work/t.scm" <<SCM
(script-fu-use-v3)
(let* ((image (gimp-file-load RUN-NONINTERACTIVE "$in")))
  (gimp-file-save RUN-NONINTERACTIVE image "$work/g.raiiaf" -1))
SCM
    set -- "$gimp_console" -i -d -f --batch-interpreter plug-in-script-fu-eval \
        -b "(load \"$work/t.scm\")" --quit
else
    cat >"$work/t.scm" <<SCM
(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE "$in" "$in"))))
  (gimp-file-save RUN-NONINTERACTIVE image (car (gimp-image-get-active-drawable image))
                  "$work/g.raiiaf" "$work/g.raiiaf"))
SCM
    set -- gimp-console-2.10 -i -d -f -b "(load \"$work/t.scm\")" -b "(gimp-quit 0)"
fi
if timeout 300 "$@" >"$work/gimp.log" 2>&1 &&
   [ "$(head -c 6 "$work/g.raiiaf" 2>/dev/null)" = raiiaf ]; then
    pass "GIMP $gimp opens and exports .raiiaf with the plug-in in ~/.config/GIMP/$gimp/plug-ins"
else
    tail -20 "$work/gimp.log"
    fail "GIMP with the plug-in in its user folder"
fi

# ---- The thumbnailer from ~/.local/bin --------------------------------------
if "$HOME/.local/bin/raiiaf-thumbnailer" -s 64 "$in" "$work/t.png" &&
   [ "$(head -c 4 "$work/t.png" | od -An -c | tr -d ' ')" = '211PNG' ]; then
    pass "~/.local/bin/raiiaf-thumbnailer writes a PNG"
else
    fail "~/.local/bin/raiiaf-thumbnailer"
fi

# ---- gdk-pixbuf: the loader through a cache of one's own -------------------
# (plugins/gdk-pixbuf/README.md: system loaders and ours, GDK_PIXBUF_MODULE_FILE)
pixbuf_loader="$HOME/.local/lib/gdk-pixbuf-2.0/loaders/libpixbufloader-raiiaf.so"
if [ -e "$pixbuf_loader" ] && ! command -v gdk-pixbuf-thumbnailer >/dev/null 2>&1 &&
   pkg-config --atleast-version=2.43 gdk-pixbuf-2.0; then
    # gdk-pixbuf 2.44 (Debian sid) ships no gdk-pixbuf-thumbnailer any more.
    echo "skip: gdk-pixbuf $(pkg-config --modversion gdk-pixbuf-2.0) has no gdk-pixbuf-thumbnailer"
elif [ -e "$pixbuf_loader" ] && command -v gdk-pixbuf-thumbnailer >/dev/null 2>&1; then
    q=$(pkg-config --variable=gdk_pixbuf_query_loaders gdk-pixbuf-2.0)
    sys_loaders=$(pkg-config --variable=gdk_pixbuf_moduledir gdk-pixbuf-2.0)
    "$q" "$sys_loaders"/*.so "$pixbuf_loader" >"$HOME/.local/lib/gdk-pixbuf-2.0/loaders.cache" 2>/dev/null
    if GDK_PIXBUF_MODULE_FILE="$HOME/.local/lib/gdk-pixbuf-2.0/loaders.cache" \
           gdk-pixbuf-thumbnailer -s 64 "$in" "$work/p.png" &&
       [ "$(head -c 4 "$work/p.png" | od -An -c | tr -d ' ')" = '211PNG' ]; then
        pass "gdk-pixbuf-thumbnailer with the loader from ~/.local and its own loaders.cache"
    else
        fail "gdk-pixbuf-thumbnailer with the loader from ~/.local"
    fi
    carries_library "$pixbuf_loader" "the gdk-pixbuf loader"
else
    fail "no gdk-pixbuf loader in ~/.local, or no gdk-pixbuf-thumbnailer"
fi

# ---- Qt: the plugin through QT_PLUGIN_PATH ----------------------------------
# (plugins/qt/README.md) TEST_QT, the test program of tests/qt, copied away
# from the build tree's imageformats/ so that only QT_PLUGIN_PATH finds one.
qt_plugin="$HOME/.local/lib/qt6/plugins/imageformats/libqraiiaf.so"
if [ -n "$test_qt" ]; then
    cp "$test_qt" "$work/test-qt"
    if [ -e "$qt_plugin" ] && "$HOME/.local/bin/raiiaf" extract -f "$in" -o "$work/qt" >/dev/null &&
       QT_PLUGIN_PATH="$HOME/.local/lib/qt6/plugins" "$work/test-qt" same "$in" "$work/qt/image.png" \
           >"$work/qt.log" 2>&1; then
        pass "QImageReader with the plugin from ~/.local through QT_PLUGIN_PATH"
    else
        fail "QImageReader with the plugin from ~/.local: $(tail -5 "$work/qt.log" 2>/dev/null)"
    fi
    if "$work/test-qt" same "$in" "$work/qt/image.png" 2>&1 | grep -q 'FAIL: canRead, format $'; then
        pass "without QT_PLUGIN_PATH Qt does not find it"
    else
        fail "Qt found a raiiaf plugin without QT_PLUGIN_PATH (an installed one?)"
    fi
    carries_library "$qt_plugin" "the Qt plugin"
fi

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
