#!/usr/bin/env python3
"""The gdk-pixbuf loader through real gdk-pixbuf programs.

    pixbuf_tests.py GROUP     GROUP: thumbnailer corrupt viewer

thumbnailer  gdk-pixbuf-thumbnailer on every fixture gives the pixels it
             gives for the embedded PNG (gdk-pixbuf's PNG loader)
corrupt      the damaged files of tests/corruptions.py (the set the tool's
             and the Python binding's tests use): a GError with the library's message from
             gdk_pixbuf_new_from_file and from pieces of 1, 7 and 4096
             bytes, never a crash; a damaged latent or environment chunk,
             which a viewer never reads, still shows the intact image
viewer       gpicview (a GTK viewer on gdk-pixbuf) under Xvfb opens a file;
             a screenshot (xwd) must hold the image's exact pixels inside
             the viewer's window

Environment (set by tests/gdk-pixbuf/meson.build): GDK_PIXBUF_MODULE_FILE,
XDG_DATA_HOME (a MIME database with image/x-raiiaf), RAIIAF_FIXTURES,
RAIIAF_PIXBUF_TEST (test-pixbuf), RAIIAF_IM_PROBE (raiiaf-probe).
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "imagemagick"))
import coder_tests  # noqa: E402  (fixture(), expected() and check())
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from corruptions import viewer_cases  # noqa: E402  (the corrupt set every host's tests use)
import xvfb_viewer  # noqa: E402  (a viewer under Xvfb, a screenshot)

check = coder_tests.check
TEST = os.environ["RAIIAF_PIXBUF_TEST"]
PROBE = os.environ["RAIIAF_IM_PROBE"]
FIXTURES_DIR = os.environ["RAIIAF_FIXTURES"]
coder_tests.FIXTURES_DIR = FIXTURES_DIR
FIXTURES = coder_tests.FIXTURES


def run(*cmd, env=None, timeout=120):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return res.returncode, res.stdout, res.stderr


def test_thumbnailer(work):
    thumbnailer = shutil.which("gdk-pixbuf-thumbnailer")
    if thumbnailer is None:
        print("gdk-pixbuf-thumbnailer not found: skipped")
        return 77
    for name in FIXTURES:
        src = coder_tests.fixture(name)
        png = os.path.join(work, name + ".png")
        rc, _, err = run(TEST, "png", src, png)
        if not check(rc == 0, f"{name}: embedded PNG extracted", err):
            continue
        for size in ("64", "256", "1024"):
            ours = os.path.join(work, f"{name}-{size}.png")
            ref = os.path.join(work, f"{name}-{size}-ref.png")
            rc, _, err = run(thumbnailer, "-s", size, src, ours)
            check(rc == 0 and os.path.exists(ours), f"{name}: gdk-pixbuf-thumbnailer -s {size}", err)
            rc2, _, err2 = run(thumbnailer, "-s", size, png, ref)
            check(rc2 == 0, f"{name}: gdk-pixbuf-thumbnailer -s {size} on the PNG", err2)
            if rc == 0 and rc2 == 0:
                rc, _, err = run(TEST, "same", ours, ref)
                check(rc == 0, f"{name} -s {size}: thumbnail pixels as from the PNG", err)
    return 0


def test_corrupt(work):
    fixtures = [(coder_tests.fixture(n), coder_tests.expected(n))
                for n in ("logo-rgba-two-latents-raw", "astronaut-f32-zfp")]
    for case, label, bad, lib, intact in viewer_cases(fixtures, PROBE, work):
        if intact:
            rc, out, err = run(TEST, "check", bad)
            check(rc == 0, f"{case}: the intact image still shows", err[-400:])
        else:
            rc, out, err = run(TEST, "error", bad)
            got = out.strip()
            # The library's own message for the same file. The loader
            # gets bytes, not a path: where the file's size is what is
            # wrong, raiiaf_stream words it (the input ended after N
            # bytes, the data goes on after N bytes) instead of
            # raiiaf_open_file (the file has N bytes). gdk-pixbuf
            # itself refuses an empty file before any loader runs.
            lib = "raiiaf: " + lib
            by_size = label.startswith("truncated") or label in (
                "header-only", "one-byte-more", "header-file-size", "header-table-offset")
            same = got == lib or (by_size and got.startswith("raiiaf: ")) or label == "empty"
            check(rc == 0 and same, f"{case}: refused ({got[:90]})",
                  f"rc={rc} library: {lib} {err[-400:]}")
    return 0


def test_viewer(work):
    viewer = xvfb_viewer.find_viewer("gpicview")
    if viewer is None:
        return 77
    env = dict(os.environ)
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env[var] = os.path.join(work, "home")
    os.makedirs(os.path.join(work, "home"), exist_ok=True)
    env["GDK_BACKEND"] = "x11"
    env["NO_AT_BRIDGE"] = "1"
    # An opaque fixture smaller than the window gpicview opens: shown at
    # 100 %, so its exact pixels must be on screen.
    name = "palette-zfp"
    src = os.path.join(work, name + ".raiiaf")
    shutil.copy(coder_tests.fixture(name), src)
    g, shot, log = xvfb_viewer.show([viewer, src], env, work, name,
                                    os.environ.get("RAIIAF_PIXBUF_KEEP", work))
    if not check(g is not None, "gpicview shows a window named after the file", log[-400:]):
        return 1
    rc, out, err = run(TEST, "find", shot, src, g["X"], g["Y"], g["WIDTH"], g["HEIGHT"])
    check(rc == 0, f"the screenshot shows {name}'s pixels inside gpicview's window ({out.strip()})",
          err)
    check("raiiaf" not in log.lower(), "gpicview logged no loader error", log[-400:])
    return 0


GROUPS = {"thumbnailer": test_thumbnailer, "corrupt": test_corrupt, "viewer": test_viewer}


if __name__ == "__main__":
    sys.exit(coder_tests.main_groups(GROUPS, "raiiaf-pixbuf-"))
