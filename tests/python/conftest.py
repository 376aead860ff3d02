"""Shared helpers of the pyraiiaf tests (run by meson, suite `python`, with
PYTHONPATH on the build tree's plugins/python and RAIIAF_FIXTURES set)."""
import glob
import hashlib
import io
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FIXTURES = os.environ.get("RAIIAF_FIXTURES",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))


def fixture_list():
    paths = sorted(glob.glob(os.path.join(FIXTURES, "*.raiiaf")))
    assert paths, f"no fixtures in {FIXTURES}"
    out = []
    for path in paths:
        with open(path[: -len(".raiiaf")] + ".expected.json") as f:
            out.append((path, json.load(f)))
    return out


FIXTURE_LIST = fixture_list()
FIXTURE_IDS = [os.path.basename(p) for p, _ in FIXTURE_LIST]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pillow_png(png_bytes):
    """Pillow's own decode of PNG bytes, loaded."""
    from PIL import Image
    im = Image.open(io.BytesIO(png_bytes))
    im.load()
    return im


@pytest.fixture(params=FIXTURE_LIST, ids=FIXTURE_IDS)
def fixture(request):
    return request.param
