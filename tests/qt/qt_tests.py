#!/usr/bin/env python3
"""The Qt image plugin through real Qt programs.

    qt_tests.py GROUP     GROUP: fixtures corrupt viewer

fixtures  every fixture (the reference package's files and the small
          corpus): test-qt same against Qt's PNG handler on the embedded
          PNG, extracted with `raiiaf extract`
corrupt   the damaged files of tests/corruptions.py (the set every host's
          tests use): refused by path and in pieces with the library's
          message, never a crash; a damaged latent or environment chunk,
          which a viewer never reads, still shows the intact image
viewer    Gwenview (KDE's image viewer) under Xvfb opens a file; a
          screenshot (xwd) must hold the image's exact pixels inside
          Gwenview's window

Environment (set by tests/qt/meson.build): QT_PLUGIN_PATH (the build
tree's plugin), RAIIAF_FIXTURES, RAIIAF_QT_TEST (test-qt), RAIIAF_IM_PROBE
(raiiaf-probe), RAIIAF_TOOL (raiiaf).
"""
import glob
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "imagemagick"))
import coder_tests  # noqa: E402  (fixture(), expected() and check())
sys.path.insert(0, os.path.join(HERE, ".."))
from corruptions import viewer_cases  # noqa: E402  (the corrupt set every host's tests use)

import xvfb_viewer  # noqa: E402  (a viewer under Xvfb, a screenshot)

check = coder_tests.check
TEST = os.environ["RAIIAF_QT_TEST"]
PROBE = os.environ["RAIIAF_IM_PROBE"]
TOOL = os.environ["RAIIAF_TOOL"]
FIXTURES_DIR = os.environ["RAIIAF_FIXTURES"]
coder_tests.FIXTURES_DIR = FIXTURES_DIR


def run(*cmd, env=None, timeout=120):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return res.returncode, res.stdout, res.stderr


def embedded_png(src, work):
    """The embedded PNG, as `raiiaf extract` writes it."""
    out = os.path.join(work, os.path.basename(src) + ".d")
    rc, _, err = run(TOOL, "extract", "-f", src, "-o", out)
    check(rc == 0, f"{os.path.basename(src)}: raiiaf extract", err)
    return os.path.join(out, "image.png")


def test_fixtures(work):
    files = [coder_tests.fixture(n) for n in coder_tests.FIXTURES]
    files += sorted(glob.glob(os.path.join(FIXTURES_DIR, "corpus", "*.raiiaf")))
    for src in files:
        png = embedded_png(src, work)
        rc, out, err = run(TEST, "same", src, png)
        check(rc == 0, f"{os.path.basename(src)}: QImageReader gives what Qt's PNG handler gives "
                       "for the embedded PNG", err[-2000:])
    return 0


def test_corrupt(work):
    names = ("logo-rgba-two-latents-raw", "astronaut-f32-zfp")
    pngs = {n: embedded_png(coder_tests.fixture(n), work) for n in names}
    fixtures = [(coder_tests.fixture(n), coder_tests.expected(n)) for n in names]
    for case, label, bad, lib, intact in viewer_cases(fixtures, PROBE, work):
        if intact:
            rc, out, err = run(TEST, "same", bad, pngs[case.split()[0]])
            check(rc == 0, f"{case}: the intact image still shows", err[-600:])
        else:
            rc, out, err = run(TEST, "error", bad)
            got = out.strip()
            # By path the plugin opens with raiiaf_open_file: the library's
            # own message for the same file.
            check(rc == 0 and got == "raiiaf: " + lib, f"{case}: refused ({got[:90]})",
                  f"rc={rc} library: {lib} {err[-600:]}")
    return 0


def test_viewer(work):
    viewer = xvfb_viewer.find_viewer("gwenview")
    if viewer is None:
        return 77
    # Debian 12's Gwenview is a Qt 5 program: it cannot load a Qt 6 plugin.
    libs = subprocess.run(["ldd", viewer], capture_output=True, text=True).stdout
    if "libQt6Gui" not in libs:
        print("gwenview is not a Qt 6 program: skipped")
        return 77
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"), QT_QPA_PLATFORM="xcb",
               XDG_RUNTIME_DIR=os.path.join(work, "run"))
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
    # An opaque fixture smaller than the window Gwenview opens: shown at
    # 100 %, so its exact pixels must be on screen.
    name = "palette-zfp"
    src = os.path.join(work, name + ".raiiaf")
    shutil.copy(coder_tests.fixture(name), src)
    g, shot, log = xvfb_viewer.show([viewer, src], env, work, name,
                                    os.environ.get("RAIIAF_QT_KEEP", work), settle=4)
    if not check(g is not None, "Gwenview shows a window named after the file", log[-1500:]):
        return 1
    rc, out, err = run(TEST, "find", shot, src, g["X"], g["Y"], g["WIDTH"], g["HEIGHT"])
    check(rc == 0, f"the screenshot shows {name}'s pixels inside Gwenview's window ({out.strip()})",
          err + log[-1500:])
    check("raiiaf:" not in log, "Gwenview logged no plugin error", log[-600:])
    return 0


GROUPS = {"fixtures": test_fixtures, "corrupt": test_corrupt, "viewer": test_viewer}


if __name__ == "__main__":
    sys.exit(coder_tests.main_groups(GROUPS, "raiiaf-qt-"))
