#!/bin/sh
# tests/run-sanitizers.sh: the library's and the tool's tests once more,
# built with ASan and UBSan (build-asan/). The host plug-ins are left out:
# GIMP, ImageMagick and gdk-pixbuf are not built with ASan, so they cannot
# load a sanitized module; their tests run in the normal build.
set -eu
top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$top"
if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
        -Dimagemagick=disabled -Dgimp=disabled -Dgdk_pixbuf=disabled -Dqt=disabled -Dbuildtype=debugoptimized >/dev/null
fi
meson compile -C build-asan >/dev/null
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
exec meson test -C build-asan --suite core --suite tools --print-errorlogs
