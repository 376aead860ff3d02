#!/bin/sh
# tools/run-sample.sh [FILE.raiiaf]
# The suite's main job on a bundled sample (default: a reference fixture),
# from the build tree in build/: builds if needed, then
#   - `raiiaf info` and `raiiaf extract` (into build/sample/),
#   - `magick` converts it to PNG through our coder and shows its prompt,
#     read back from the PNG's text, where AI-image tools look for it.
set -eu
top=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$top"
sample=${1:-tests/fixtures/astronaut-f32-zfp.raiiaf}
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
out=build/sample
rm -rf "$out"
mkdir -p "$out"

echo "== raiiaf info $sample"
build/tools/raiiaf info "$sample"
echo
echo "== raiiaf extract $sample -o $out/extracted"
build/tools/raiiaf extract "$sample" -o "$out/extracted"
(cd "$out/extracted" && find . -type f | sort)

if command -v magick >/dev/null 2>&1 && [ -f build/plugins/imagemagick/raiiaf.la ]; then
    # The variable replaces ImageMagick's own coder path: keep it in.
    system_coders=$(magick -list configure | awk '$1 == "CODER_PATH" { print $2 }')
    export MAGICK_CODER_MODULE_PATH="$top/build/plugins/imagemagick:$system_coders"
    echo
    echo "== magick $sample $out/sample.png"
    magick "$sample" "$out/sample.png"
    magick identify "$out/sample.png"
    echo "prompt, from the .raiiaf: $(magick identify -format '%[raiiaf:prompt]' "$sample")"
    echo "parameters, from the PNG's text:"
    magick identify -format '%[parameters]\n' "$out/sample.png"
fi
