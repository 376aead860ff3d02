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
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "imagemagick"))
import coder_tests  # noqa: E402  (fixture(), expected() and check())
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from corruptions import corruptions  # noqa: E402  (the corrupt set every host's tests use)
import importlib.util  # noqa: E402

# start_xvfb() of the GIMP dialog test (Xvfb on a display it picks itself).
_spec = importlib.util.spec_from_file_location(
    "gimp_gui", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gimp",
                             "test-gimp-gui.py"))
gimp_gui = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gimp_gui)

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
    for name in ("logo-rgba-two-latents-raw", "astronaut-f32-zfp"):
        for label, data in corruptions(coder_tests.fixture(name), coder_tests.expected(name)):
            bad = os.path.join(work, f"{name}-{label}.raiiaf")
            with open(bad, "wb") as f:
                f.write(data)
            rc, lib, _ = run(PROBE, "error", bad)
            lib = lib.strip()
            if (rc == 1 and not lib) or re.match(r"flip-(LATN|ENVC)[0-9]*-", label):
                # Still a valid file to the library, or damage in a chunk a
                # viewer never reads: the intact image shows.
                rc, out, err = run(TEST, "check", bad)
                check(rc == 0, f"{name} {label}: the intact image still shows", err[-400:])
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
                check(rc == 0 and same, f"{name} {label}: refused ({got[:90]})",
                      f"rc={rc} library: {lib} {err[-400:]}")
            os.unlink(bad)
    return 0


def test_viewer(work):
    viewer = shutil.which("gpicview")
    magick = shutil.which("magick") or shutil.which("convert")
    for program in (viewer, shutil.which("Xvfb"), shutil.which("xdotool"), shutil.which("xwd"), magick):
        if program is None:
            print("gpicview, Xvfb, xdotool, xwd or ImageMagick not found: skipped")
            return 77
    env = dict(os.environ)
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env[var] = os.path.join(work, "home")
    os.makedirs(os.path.join(work, "home"), exist_ok=True)
    env.pop("WAYLAND_DISPLAY", None)
    env["GDK_BACKEND"] = "x11"
    env["NO_AT_BRIDGE"] = "1"
    # An opaque fixture smaller than the window gpicview opens: shown at
    # 100 %, so its exact pixels must be on screen.
    name = "palette-zfp"
    src = os.path.join(work, name + ".raiiaf")
    shutil.copy(coder_tests.fixture(name), src)
    xvfb, display = gimp_gui.start_xvfb(work)
    env["DISPLAY"] = display
    proc = None
    try:
        proc = subprocess.Popen([viewer, src], env=env, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(work, "viewer.log"), "w"))
        found = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name",
                                name], env=env, capture_output=True, text=True, timeout=60)
        windows = found.stdout.split()
        if not check(found.returncode == 0 and windows, "gpicview shows a window named after the file",
                     found.stderr):
            return 1
        window = windows[0]
        time.sleep(2)  # let it draw
        geo = subprocess.run(["xdotool", "getwindowgeometry", "--shell", window], env=env,
                             capture_output=True, text=True, timeout=30).stdout
        g = dict(line.split("=", 1) for line in geo.split())
        xwd = os.path.join(work, "screen.xwd")
        shot = os.path.join(os.environ.get("RAIIAF_PIXBUF_KEEP", work), "gpicview-screen.png")
        subprocess.run(["xwd", "-root", "-silent", "-out", xwd], env=env, timeout=30, check=True)
        subprocess.run([magick, xwd, shot], timeout=60, check=True)
        rc, out, err = run(TEST, "find", shot, src, g["X"], g["Y"], g["WIDTH"], g["HEIGHT"])
        check(rc == 0, f"the screenshot shows {name}'s pixels inside gpicview's window ({out.strip()})",
              err)
        log = open(os.path.join(work, "viewer.log")).read()
        check("raiiaf" not in log.lower(), "gpicview logged no loader error", log[-400:])
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        xvfb.terminate()
        xvfb.wait()
    return 0


GROUPS = {"thumbnailer": test_thumbnailer, "corrupt": test_corrupt, "viewer": test_viewer}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in GROUPS:
        print(f"usage: {sys.argv[0]} {'|'.join(GROUPS)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="raiiaf-pixbuf-") as work:
        rc = GROUPS[sys.argv[1]](work)
    if rc == 77:
        return 77
    print(f"{coder_tests.checks - len(coder_tests.failures)}/{coder_tests.checks} checks passed")
    return 1 if coder_tests.failures or rc else 0


if __name__ == "__main__":
    sys.exit(main())
