#!/bin/sh
# tests/packaging/install-test.sh SOURCE_ROOT WORK_DIR [TEST_QT]
#
# Builds the Debian packages (packaging/build-debs, lintian included),
# installs them with apt into a fresh root of this system's Debian release
# (13, sid, or 12 for the GIMP 2.10 / ImageMagick 6 set), and checks there, with
# no build tree and no environment variables of ours, that:
#   - magick (Debian 12: convert) reads and writes .raiiaf (the coder is
#     found in ImageMagick's own coder folder), and so does the Q16HDRI
#     build's magick-im7.q16hdri (Debian 13 and sid),
#   - GIMP (gimp-console-3 or -2.10, Script-Fu batch) opens one and
#     exports one,
#   - xdg-mime gives image/x-raiiaf for a fixture, with and without its
#     extension,
#   - the thumbnailer entry's command writes a PNG of the requested size,
#     also inside a bwrap sandbox like the one GNOME runs thumbnailers in,
#   - the man pages are installed,
#   - gdk-pixbuf's loaders.cache lists the loader (the dpkg trigger) and
#     gdk-pixbuf-thumbnailer reads a .raiiaf,
#   - Qt's QImageReader finds the Qt plugin in Qt's own plugin folder
#     (TEST_QT, the test program of tests/qt, copied into the root: it
#     reads a fixture as Qt's PNG handler reads the embedded PNG).
#
# Needs root (debootstrap, chroot, mount), Debian 13 or 12 build tools (run
# it in packaging/devenv [--suite bookworm]) and access to the package registry named by this
# system's apt sources; exits 77 (skipped) otherwise.
#
# The debootstrap result is cached as a tarball in $RAIIAF_INSTALL_TEST_CACHE
# (default /var/cache/raiiaf-install-test) with the downloaded .debs, so that
# later runs download nothing twice. The new root is unpacked in
# $RAIIAF_INSTALL_TEST_TMPDIR (default /var/tmp) and deleted at the end.
# Every mount is made in a mount namespace of the test's own and undone on
# exit.
set -eu

SKIP=77
log() { echo "install-test: $*" >&2; }
skip() { log "SKIP: $*"; exit $SKIP; }

if [ $# -ne 2 ] && [ $# -ne 3 ]; then
    echo "usage: install-test.sh SOURCE_ROOT WORK_DIR [TEST_QT]" >&2
    exit 2
fi
src_root=$(CDPATH= cd -- "$1" && pwd)

# ---- Can it run here? ------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, mount)"
for tool in debootstrap dpkg-buildpackage unshare chroot mount tar wget flock; do
    command -v "$tool" >/dev/null 2>&1 ||
        skip "$tool not found (run the tests through packaging/devenv)"
done
. /etc/os-release
suite=${VERSION_CODENAME:-}
# Debian unstable names the next release (e.g. "forky") in os-release; its
# /etc/debian_version says ".../sid".
case "$(cat /etc/debian_version 2>/dev/null)" in */sid) suite=sid ;; esac
case "${ID:-} $suite" in
    "debian trixie" | "debian sid")
        magick_packages="imagemagick-7-raiiaf imagemagick-7.q16hdri-raiiaf" ;;
    "debian bookworm") magick_packages=imagemagick-6-raiiaf ;;
    *) skip "not a Debian 13, 12 or sid system (run the tests through packaging/devenv)" ;;
esac

# The registry of this system's own apt sources, so that the new root gets
# the same packages the suite was built against.
mirror=${RAIIAF_TEST_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }')
fi
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '$1 == "URIs:" { print $2; exit }')
fi
[ -n "$mirror" ] || skip "no package registry in the apt sources"
wget -q -T 15 -t 1 -O /dev/null "${mirror%/}/dists/$suite/InRelease" ||
    skip "the package registry $mirror cannot be reached"

# ---- Everything else in a private mount namespace ---------------------------
# Inside a chroot whose / is no mount point (packaging/devenv), "/" cannot
# be made private; the devenv's namespace is private already, so then keep
# the propagation as it is.
if [ -z "${RAIIAF_INSTALL_TEST_NS:-}" ]; then
    export RAIIAF_INSTALL_TEST_NS=1
    if unshare --mount --propagation private true 2>/dev/null; then
        exec unshare --mount --propagation private "$0" "$@"
    fi
    exec unshare --mount --propagation unchanged "$0" "$@"
fi

cache=${RAIIAF_INSTALL_TEST_CACHE:-/var/cache/raiiaf-install-test}
mkdir -p "$2" "$cache/archives/partial"
# One run at a time per cache: the base tarball and apt's download folder
# are shared.
exec 9>"$cache/lock"
flock 9
# On disk, not in /tmp: GIMP and its dependencies take about a gigabyte.
work=$(mktemp -d "${RAIIAF_INSTALL_TEST_TMPDIR:-/var/tmp}/raiiaf-install-test.XXXXXX")
root="$work/root"
cleanup() {
    status=$?
    for m in "$root/var/cache/apt/archives" "$root/dev" "$root/proc" "$root"; do
        if mountpoint -q "$m" 2>/dev/null; then
            umount -R "$m" 2>/dev/null || umount -lR "$m" || true
        fi
    done
    # Never delete through a mount that is still there (/dev is the real one).
    if grep -q " $work/" /proc/self/mounts; then
        log "mounts under $work remain; not deleting it"
        [ "$status" -ne 0 ] || status=1
    else
        rm -rf "$work"
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- 1. The packages ---------------------------------------------------------
debs="$2/debs"
rm -rf "$debs"
log "building the packages (packaging/build-debs)"
"$src_root/packaging/build-debs" "$debs"
for p in libraiiaf0 libraiiaf-dev raiiaf-tools $magick_packages gimp-plugin-raiiaf raiiaf-gdk-pixbuf raiiaf-qt6-imageformat python3-pyraiiaf; do
    ls "$debs/${p}_"*.deb >/dev/null 2>&1 || { log "FAIL: no $p package"; exit 1; }
done

# ---- 2. A fresh root of this release -------------------------------------------
base="$cache/$suite-minbase.tar"
if [ ! -f "$base" ]; then
    log "debootstrap --variant=minbase $suite (once; cached in $base)"
    mkdir "$work/base"
    debootstrap --variant=minbase "$suite" "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 || {
        tail -20 "$work/debootstrap.log" >&2
        log "FAIL: debootstrap"
        exit 1
    }
    rm -rf "$work/base/var/cache/apt/archives"/*.deb
    tar -C "$work/base" -cf "$base.tmp" . && mv "$base.tmp" "$base"
    rm -rf "$work/base"
fi
mkdir "$root"
tar -C "$root" -xf "$base"
# The root is a mount point of its own, as in a container: bwrap (the
# thumbnailer sandbox check) needs that to pivot into its own root.
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --bind "$cache/archives" "$root/var/cache/apt/archives"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# The same package sources as this system (same versions as the build).
rm -f "$root/etc/apt/sources.list" "$root/etc/apt/sources.list.d"/*
cp /etc/apt/sources.list "$root/etc/apt/" 2>/dev/null || true
cp /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    "$root/etc/apt/sources.list.d/" 2>/dev/null || true

mkdir -p "$root/srv/raiiaf-test/debs" "$root/srv/raiiaf-test/fixtures"
# The packages a user installs (not the -dbgsym ones).
for deb in "$debs"/*.deb; do
    case $deb in *-dbgsym_*) ;; *) cp "$deb" "$root/srv/raiiaf-test/debs/" ;; esac
done
cp "$src_root"/tests/fixtures/*.raiiaf "$root/srv/raiiaf-test/fixtures/"
cp "$src_root/tests/packaging/installed-checks.sh" "$root/srv/raiiaf-test/"
if [ $# -eq 3 ]; then
    cp "$3" "$root/srv/raiiaf-test/test-qt"
fi

# Only PATH and HOME: no variable points the hosts at our files.
in_root() {
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}

# ImageMagick's Q16HDRI build beside the default one where we package a
# coder for it.
hosts=imagemagick
case $magick_packages in *q16hdri*) hosts="$hosts imagemagick-7.q16hdri" ;; esac
# sid's Release files expire a week after signing; a lagging mirror is
# still the one to test against (as in packaging/devenv).
echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/90raiiaf-test"

log "installing the packages with apt (GIMP and ImageMagick come from the registry)"
in_root sh -c '
    set -e
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        /srv/raiiaf-test/debs/*.deb "$@" shared-mime-info xdg-utils \
        libfile-mimeinfo-perl bubblewrap libgdk-pixbuf2.0-bin
' sh $hosts >"$work/apt.log" 2>&1 || {
    tail -40 "$work/apt.log" >&2
    log "FAIL: apt-get install"
    exit 1
}

# ---- 3. The checks, inside the new root --------------------------------------
log "checking the installed packages"
in_root sh /srv/raiiaf-test/installed-checks.sh /srv/raiiaf-test/fixtures
