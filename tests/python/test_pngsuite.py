"""The PngSuite (tests/pngsuite) through the Pillow plugin: each valid PNG,
packed into a .raiiaf by the library, opens with the mode, size, pixels,
palette and info Pillow's PNG plugin gives for the PNG itself; each corrupt
one is refused (by the library when packing, or when opening) with
pyraiiaf.Error or Pillow's own error, never a crash."""
import glob
import io
import os

import numpy as np
import pytest
from PIL import Image

import pyraiiaf
import pyraiiaf.pillow  # noqa: F401
from pyraiiaf import _raiiaf
from test_pillow import assert_like_png

SUITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pngsuite")
PNGS = sorted(glob.glob(os.path.join(SUITE, "*.png")))


def pack(png_bytes):
    w = _raiiaf.Writer()
    w.set_image_png(png_bytes)
    w.add_latent("initial_noise", np.zeros((1, 4, 2, 2), np.float32), _raiiaf.STORAGE_RAW)
    return w.write_memory()


def test_suite_present():
    assert len(PNGS) > 150


@pytest.mark.parametrize("path", PNGS, ids=[os.path.basename(p) for p in PNGS])
def test_pngsuite(path):
    data = open(path, "rb").read()
    if os.path.basename(path).startswith("x"):
        try:
            packed = pack(data)
        except pyraiiaf.Error:
            return
        with pytest.raises((pyraiiaf.Error, OSError, SyntaxError, ValueError)):
            im = Image.open(io.BytesIO(packed))
            im.load()
        return
    png = Image.open(io.BytesIO(data))
    png.load()
    assert_like_png(Image.open(io.BytesIO(pack(data))), png)
