"""An image viewer under Xvfb and a screenshot of its window: the viewer
checks of tests/gdk-pixbuf (gpicview) and tests/qt (Gwenview)."""
import importlib.util
import os
import shutil
import subprocess
import time

# start_xvfb() and screenshot() of the GIMP dialog test.
_spec = importlib.util.spec_from_file_location(
    "gimp_gui", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gimp", "test-gimp-gui.py"))
gimp_gui = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gimp_gui)


def find_viewer(name):
    """The viewer's path, or None (saying what is missing) when it, Xvfb,
    xdotool, xwd or ImageMagick (the screenshot's conversion) is not
    installed."""
    tools = [name, "Xvfb", "xdotool", "xwd"]
    missing = [t for t in tools if shutil.which(t) is None]
    if not (shutil.which("magick") or shutil.which("convert")):
        missing.append("ImageMagick")
    if missing:
        print(", ".join(missing) + " not found: skipped")
        return None
    return shutil.which(name)


def show(argv, env, work, window_name, shot_dir, settle=2, timeout=90):
    """Runs argv on a display of its own (Xvfb) and waits for a visible
    window whose name holds window_name; `settle` seconds later takes a
    screenshot (shot_dir/screen.png). Returns (geometry, shot, log):
    geometry is a dict of the window's X, Y, WIDTH and HEIGHT, or None when
    no window came up (shot is None then), log the program's stderr."""
    env = dict(env)
    env.pop("WAYLAND_DISPLAY", None)
    xvfb, env["DISPLAY"] = gimp_gui.start_xvfb(work)
    log_path = os.path.join(work, "viewer.log")
    proc = None
    geometry = shot = None
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
        found = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name",
                                window_name], env=env, capture_output=True, text=True,
                               timeout=timeout)
        windows = found.stdout.split()
        if found.returncode == 0 and windows:
            time.sleep(settle)  # let it load and draw
            geo = subprocess.run(["xdotool", "getwindowgeometry", "--shell", windows[0]],
                                 env=env, capture_output=True, text=True, timeout=30).stdout
            geometry = dict(line.split("=", 1) for line in geo.split())
            shot = gimp_gui.screenshot(env, shot_dir, "screen")
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        xvfb.terminate()
        xvfb.wait()
    with open(log_path) as f:
        return geometry, shot, f.read()
