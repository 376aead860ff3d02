#!/bin/sh
# tools/run-sample.sh [FILE.raiiaf]
# The suite's main job on a bundled sample (default: a reference fixture),
# from the build tree in build/ (build-SUITE/ in packaging/devenv --suite
# SUITE): builds if needed, then
#   - `raiiaf info` and `raiiaf extract` (into BUILD/sample/),
#   - `magick` (ImageMagick 6: `convert`) converts it to PNG through our
#     coder and shows its prompt, read back from the PNG's text, where
#     AI-image tools look for it.
set -eu
top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$top"
sample=${1:-tests/fixtures/astronaut-f32-zfp.raiiaf}
build=build
[ "${RAIIAF_DEVENV_SUITE:-trixie}" = trixie ] || build=build-$RAIIAF_DEVENV_SUITE
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
meson compile -C "$build" >/dev/null
out=$build/sample
rm -rf "$out"
mkdir -p "$out"

echo "== raiiaf info $sample"
"$build/tools/raiiaf" info "$sample"
echo
echo "== raiiaf extract $sample -o $out/extracted"
"$build/tools/raiiaf" extract "$sample" -o "$out/extracted"
(cd "$out/extracted" && find . -type f | sort)

# ImageMagick 7's magick, or ImageMagick 6's convert and identify.
if command -v magick >/dev/null 2>&1; then
    convert=magick identify="magick identify"
else
    convert=convert identify=identify
fi
if command -v "$convert" >/dev/null 2>&1 && [ -f "$build/plugins/imagemagick/raiiaf.la" ]; then
    # The variable replaces ImageMagick's own coder path: keep it in.
    system_coders=$($convert -list configure | awk '$1 == "CODER_PATH" { print $2 }')
    export MAGICK_CODER_MODULE_PATH="$top/$build/plugins/imagemagick:$system_coders"
    echo
    echo "== $convert $sample $out/sample.png"
    $convert "$sample" "$out/sample.png"
    $identify "$out/sample.png"
    echo "prompt, from the .raiiaf: $($identify -format '%[raiiaf:prompt]' "$sample")"
    echo "parameters, from the PNG's text:"
    $identify -format '%[parameters]\n' "$out/sample.png"
fi
