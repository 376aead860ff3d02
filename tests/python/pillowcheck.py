"""Our Pillow plugin's open of a .raiiaf against Pillow's own open of the
embedded PNG: shared by the pytest suite (tests/python) and the PngSuite's
Pillow host (tests/pngsuite/pillow-pngsuite.py)."""
import numpy as np

# Keys Pillow's PNG plugin sets that the library does not report: pHYs
# without a unit (only its pixels-per-metre values are exposed).
NOT_COMPARED = {"aspect"}


def png_differences(im, png):
    """What differs between im (opened by our plugin, loaded here) and png
    (Pillow's own decode of the PNG): mode, size, pixels, palette, every
    info key the PNG plugin sets. An empty list when nothing does."""
    im.load()
    if (im.mode, im.size) != (png.mode, png.size):
        return ["mode %s %s, the PNG's %s %s" % (im.mode, im.size, png.mode, png.size)]
    diffs = []
    if im.tobytes() != png.tobytes():
        diffs.append("pixels differ")
    if png.mode == "P" and im.getpalette() != png.getpalette():
        diffs.append("palette differs")
    for key, value in png.info.items():
        if key in NOT_COMPARED:
            continue
        if key not in im.info:
            diffs.append("info[%r] missing" % key)
            continue
        got = im.info[key]
        if isinstance(value, float) or (isinstance(value, tuple) and
                                        isinstance(value[0], float)):
            same = np.allclose(got, value, atol=1e-5)
        else:
            same = got == value and type(got) is type(value)
        if not same:
            diffs.append("info[%r] %.80r, the PNG's %.80r" % (key, got, value))
    return diffs
