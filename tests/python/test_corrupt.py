"""The corrupt set (tests/corruptions.py, as the tool's tests build it):
every damaged file raises pyraiiaf.Error with the library's message, in
pyraiiaf.open and in Pillow, never a crash."""
import io
import os

import pytest
from PIL import Image, UnidentifiedImageError

import pyraiiaf
import pyraiiaf.pillow  # noqa: F401
from conftest import FIXTURE_LIST
from corruptions import corruptions

CASES = []
for _path, _expected in FIXTURE_LIST:
    _name = os.path.basename(_path)
    # A flip inside a zfp stream may land on bits the stream never uses.
    _zfp = {f"flip-LATN{c['index']}-{w}" for c in _expected["chunks"]
            if c["type"] == "LATN" and c["compressed"] for w in ("middle", "end")}
    for _label, _data in corruptions(_path, _expected):
        CASES.append(pytest.param(_path, _label, _data, _label in _zfp,
                                  id=f"{_name}-{_label}"))


def read_all(source):
    f = pyraiiaf.open(source)
    f.verify()
    latents = f.latents
    im = f.image()
    im.load()
    return latents, f.manifest, f.environment


@pytest.mark.parametrize("path,label,data,padding", CASES)
def test_corrupt(path, label, data, padding):
    if padding:
        # Bits of a zfp stream that are padding: a flip there is harmless
        # only if every payload still decodes exactly.
        try:
            latents = read_all(data)[0]
        except pyraiiaf.Error:
            return
        good = pyraiiaf.open(path).latents
        assert list(latents) == list(good)
        for key in good:
            assert latents[key].tobytes() == good[key].tobytes()
        return
    with pytest.raises(pyraiiaf.Error) as e:
        read_all(data)
    assert str(e.value) and e.value.code > 0
    # Pillow: a clear error at open or load, never anything else
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except (pyraiiaf.Error, UnidentifiedImageError):
        pass
