#!/bin/sh
# tests/packaging/user-install-test.sh SOURCE_ROOT WORK_DIR
#
# Follows "Into your own folders, without root" of packaging/README.md in a
# throwaway HOME: a static build installed with --prefix=$HOME/.local, the
# plug-in in GIMP's user folder and the coder in a folder named by
# MAGICK_CODER_MODULE_PATH; then GIMP, magick, the MIME cache and the
# thumbnailer must work from there. Exits 77 when GIMP 3 or ImageMagick 7
# is missing.
set -u
src=$(CDPATH= cd -- "$1" && pwd)
command -v gimp-console-3.0 >/dev/null 2>&1 || { echo "SKIP: no gimp-console-3.0"; exit 77; }
command -v magick >/dev/null 2>&1 || { echo "SKIP: no magick (ImageMagick 7)"; exit 77; }

work=$2/user-install
rm -rf "$work"
mkdir -p "$work/home"
work=$(CDPATH= cd -- "$work" && pwd)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home"
unset XDG_DATA_HOME XDG_CONFIG_HOME GIMP3_DIRECTORY GIMP3_PLUGINDIR MAGICK_CODER_MODULE_PATH
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ---- The README's commands ------------------------------------------------
if ! { meson setup "$work/build" "$src" --prefix="$HOME/.local" -Ddefault_library=static \
           -Dtests=false \
           -Dgimp_plugindir="$HOME/.config/GIMP/3.0/plug-ins" \
           -Dimagemagick_moduledir="$HOME/.local/lib/ImageMagick/coders" &&
       meson compile -C "$work/build" -j 2 &&
       meson install -C "$work/build"; } >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log"
    echo "FAIL: meson setup/compile/install"
    exit 1
fi
pass "static build installed into \$HOME"

for f in .local/bin/raiiaf .local/bin/raiiaf-thumbnailer \
         .config/GIMP/3.0/plug-ins/file-raiiaf/file-raiiaf \
         .local/lib/ImageMagick/coders/raiiaf.so .local/lib/ImageMagick/coders/raiiaf.la \
         .local/share/mime/packages/raiiaf.xml .local/share/thumbnailers/raiiaf.thumbnailer \
         .local/share/man/man1/raiiaf.1 .local/share/man/man1/raiiaf-thumbnailer.1; do
    [ -e "$HOME/$f" ] && pass "installed ~/$f" || fail "missing ~/$f"
done
# Statically linked: nothing to find at run time.
for f in .local/bin/raiiaf-thumbnailer .config/GIMP/3.0/plug-ins/file-raiiaf/file-raiiaf \
         .local/lib/ImageMagick/coders/raiiaf.so; do
    if ldd "$HOME/$f" 2>/dev/null | grep -q libraiiaf; then
        fail "~/$f needs libraiiaf.so at run time"
    else
        pass "~/$f carries the library"
    fi
done

# ---- MIME cache: meson install ran update-mime-database --------------------
grep -qx 'image/x-raiiaf' "$HOME/.local/share/mime/types" 2>/dev/null &&
    grep -q ':image/x-raiiaf:\*\.raiiaf$' "$HOME/.local/share/mime/globs2" 2>/dev/null &&
    pass "~/.local/share/mime cache knows image/x-raiiaf" ||
    fail "~/.local/share/mime cache lacks image/x-raiiaf"

# ---- ImageMagick through MAGICK_CODER_MODULE_PATH, as the README says -------
in="$src/tests/fixtures/palette-zfp.raiiaf"
if magick "$in" "$work/x.png" 2>/dev/null; then
    fail "magick read .raiiaf without the module path (the test would prove nothing)"
fi
MAGICK_CODER_MODULE_PATH="$HOME/.local/lib/ImageMagick/coders:$(magick -list configure | awk '$1 == "CODER_PATH" { print $2 }')"
export MAGICK_CODER_MODULE_PATH
if magick "$in" "$work/m.png" && magick "$work/m.png" "$work/m.raiiaf" &&
   [ "$(magick identify -format '%m %wx%h' "$work/m.raiiaf")" = "RAIIAF 320x240" ]; then
    pass "magick reads and writes .raiiaf with the coder in ~/.local/lib/ImageMagick/coders"
else
    fail "magick with MAGICK_CODER_MODULE_PATH=$MAGICK_CODER_MODULE_PATH"
fi
unset MAGICK_CODER_MODULE_PATH

# ---- GIMP finds the plug-in in its user folder ------------------------------
cat >"$work/t.scm" <<SCM
(script-fu-use-v3)
(let* ((image (gimp-file-load RUN-NONINTERACTIVE "$in")))
  (gimp-file-save RUN-NONINTERACTIVE image "$work/g.raiiaf" -1))
SCM
if timeout 300 gimp-console-3.0 -i -d -f --batch-interpreter plug-in-script-fu-eval \
       -b "(load \"$work/t.scm\")" --quit >"$work/gimp.log" 2>&1 &&
   [ "$(head -c 6 "$work/g.raiiaf" 2>/dev/null)" = raiiaf ]; then
    pass "GIMP opens and exports .raiiaf with the plug-in in ~/.config/GIMP/3.0/plug-ins"
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

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
