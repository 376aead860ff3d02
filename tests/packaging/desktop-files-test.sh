#!/bin/sh
# tests/packaging/desktop-files-test.sh SOURCE_ROOT
#
# The MIME definition compiles with update-mime-database and gives the type,
# glob and magic the suite documents; the .thumbnailer entry has the keys
# the desktop's thumbnail factory needs.
set -u
src=$1
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

command -v update-mime-database >/dev/null 2>&1 || {
    echo "SKIP: update-mime-database not found (shared-mime-info)"
    exit 77
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/mime/packages"
cp "$src/packaging/mime/raiiaf.xml" "$tmp/mime/packages/"
if update-mime-database "$tmp/mime" >"$tmp/log" 2>&1 && ! grep -qi 'warning\|error' "$tmp/log"; then
    pass "update-mime-database accepts raiiaf.xml"
else
    fail "update-mime-database: $(cat "$tmp/log")"
fi
grep -qx 'image/x-raiiaf' "$tmp/mime/types" && pass "type image/x-raiiaf" || fail "type image/x-raiiaf missing"
grep -q ':image/x-raiiaf:\*\.raiiaf$' "$tmp/mime/globs2" && pass "glob *.raiiaf" || fail "glob *.raiiaf missing"
# The compiled magic: a [priority:type] section, then ">0=" + big-endian
# length 6 + the bytes "raiiaf".
if od -An -c "$tmp/mime/magic" | tr -d ' \n' | grep -q 'image/x-raiiaf]\\n>0=\\0006raiiaf'; then
    pass "magic \"raiiaf\" at offset 0"
else
    fail "magic \"raiiaf\" at offset 0 missing: $(od -An -c "$tmp/mime/magic" | tr -d ' \n')"
fi
grep -q '<generic-icon name="image-x-generic"/>' "$src/packaging/mime/raiiaf.xml" &&
    pass "generic icon image-x-generic" || fail "generic icon"

entry="$src/packaging/thumbnailer/raiiaf.thumbnailer"
[ "$(head -n1 "$entry")" = '[Thumbnailer Entry]' ] && pass "thumbnailer group" || fail "thumbnailer group"
grep -qx 'TryExec=raiiaf-thumbnailer' "$entry" && pass "TryExec" || fail "TryExec"
grep -qx 'Exec=raiiaf-thumbnailer -s %s %i %o' "$entry" && pass "Exec" || fail "Exec"
grep -qx 'MimeType=image/x-raiiaf;' "$entry" && pass "MimeType" || fail "MimeType"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
