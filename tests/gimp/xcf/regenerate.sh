#!/bin/sh
# Makes the XCF fixtures of tests/gimp/xcf-cross.py again, from the
# repository's root, with the build trees of both environments: GIMP 2.10
# (Debian 12, build-bookworm/) saves cross-gimp2.10.xcf, GIMP 3 (Debian 13,
# build/) cross-gimp3.0.xcf, each from cross.raiiaf opened by our plug-in.
# With --new-source, cross.raiiaf is made again first (by the Debian 12
# build's raiiaf tool).
#
# SPDX-License-Identifier: MIT
set -e
cd "$(dirname "$0")/../../.."
packaging/devenv --suite bookworm meson compile -C build-bookworm
packaging/devenv meson compile -C build
packaging/devenv --suite bookworm python3 tests/gimp/xcf-cross.py make $1 \
  --gimp gimp-console-2.10 --api 2.0 --plugin build-bookworm/plugins/gimp/file-raiiaf \
  --fixtures tests/gimp/xcf --tool build-bookworm/tools/raiiaf
packaging/devenv python3 tests/gimp/xcf-cross.py make \
  --gimp gimp-console-3.0 --api 3.0 --plugin build/plugins/gimp/file-raiiaf \
  --fixtures tests/gimp/xcf
