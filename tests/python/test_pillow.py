"""The Pillow plugin through real Pillow: Image.open gives what Pillow's
PNG plugin gives for the embedded PNG; im.save keeps latents and metadata."""
import io
import os
import subprocess

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

import pyraiiaf
import pyraiiaf.pillow  # noqa: F401 - registers the format
from pyraiiaf import _raiiaf
from conftest import pillow_png
from pillowcheck import png_differences


def assert_like_png(im, png):
    """im (opened by our plugin) against Pillow's own decode of the PNG."""
    diffs = png_differences(im, png)
    assert not diffs, diffs


def test_fixture_pixels(fixture, tmp_path):
    path, expected = fixture
    png_bytes = pyraiiaf.open(path).png
    tool = os.environ.get("RAIIAF_TOOL")
    if tool:  # the embedded PNG as the CLI extracts it: the same bytes
        subprocess.run([tool, "extract", path, "-o", str(tmp_path / "x")], check=True)
        assert (tmp_path / "x" / "image.png").read_bytes() == png_bytes
    png = pillow_png(png_bytes)
    for source in (path, open(path, "rb"), io.BytesIO(open(path, "rb").read())):
        im = Image.open(source)
        assert im.format == "RAIIAF"
        assert_like_png(im, png)
        assert im.info["parameters"].startswith(expected["model_info"]["prompt"])
        assert im.info["raiiaf:prompt"] == expected["model_info"]["prompt"]
        assert im.info["raiiaf:latent-0"].startswith(
            pyraiiaf.open(path).latent_info[0]["key"])


def _with_png(tmp_path, png_bytes, name):
    """A .raiiaf around ready PNG bytes, with one latent."""
    w = _raiiaf.Writer()
    w.set_image_png(png_bytes)
    w.add_latent("initial_noise", np.ones((1, 4, 2, 2), np.float32), _raiiaf.STORAGE_RAW)
    path = tmp_path / name
    w.write_file(str(path))
    return str(path)


def _png(im, **params):
    buf = io.BytesIO()
    im.save(buf, "PNG", **params)
    return buf.getvalue()


def _modes():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    out = {
        "1": Image.fromarray(rgb[:, :, 0] > 127),
        "L": Image.fromarray(rgb[:, :, 0]),
        "LA": Image.fromarray(rgb[:, :, :2].copy(), "LA"),
        "RGB": Image.fromarray(rgb),
        "RGBA": Image.fromarray(np.dstack([rgb, rgb[:, :, :1]])),
        "I;16": Image.fromarray(rng.integers(0, 65536, (9, 7), dtype=np.uint16)),
        "P": Image.fromarray(rgb).quantize(16),
    }
    return out


@pytest.mark.parametrize("mode", ["1", "L", "LA", "RGB", "RGBA", "I;16", "P", "P-trns",
                                  "P-alpha", "L-trns", "RGB-trns", "RGB16", "text-icc"])
def test_modes_like_png_plugin(tmp_path, mode):
    ims = _modes()
    params = {}
    if mode == "RGB16":  # Pillow cannot write it; the library can
        a = np.random.default_rng(1).integers(0, 65536, (5, 6, 3), dtype=np.uint16)
        png_bytes = _raiiaf.encode_png(6, 5, _raiiaf.FMT_RGB16, a.astype("=u2").tobytes())
    else:
        im = ims.get(mode.split("-")[0])
        if mode == "P-trns":
            params["transparency"] = 3
        elif mode == "P-alpha":
            params["transparency"] = bytes(range(0, 256, 16))
        elif mode == "L-trns":
            params["transparency"] = 7
        elif mode == "RGB-trns":
            params["transparency"] = (1, 2, 3)
        elif mode == "text-icc":
            im = ims["RGB"]
            info = PngImagePlugin.PngInfo()
            info.add_text("Comment", "plain")
            info.add_itxt("Title", "caf\u00e9 \u6771", "fr", "Titre")
            from PIL import ImageCms
            icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
            params = {"pnginfo": info, "icc_profile": icc, "dpi": (72, 72)}
        png_bytes = _png(im, **params)
    png = pillow_png(png_bytes)
    path = _with_png(tmp_path, png_bytes, "m.raiiaf")
    assert_like_png(Image.open(path), png)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "RGB", "RGBA", "I;16", "P", "P-trns"])
def test_save_roundtrip(tmp_path, mode):
    im = _modes()[mode.split("-")[0]]
    if mode == "P-trns":
        im.info["transparency"] = 2
    latents = {"b": np.full((1, 4, 3, 3), 0.5, np.float16), "a": np.zeros((1, 4, 2, 2), np.float32)}
    out = tmp_path / "s.raiiaf"
    im.save(out, latents=latents, metadata={"model_name": "m", "prompt": "p q"})
    back = Image.open(out)
    back.load()
    want = im.convert("L") if mode == "1" else im
    assert back.mode == want.mode and back.tobytes() == want.tobytes()
    if mode == "P-trns":
        assert back.info["transparency"] == 2
    f = pyraiiaf.open(out)
    assert list(f.latents) == ["b", "a"]
    assert f.latents["b"].tobytes() == latents["b"].tobytes()
    assert back.info["raiiaf:prompt"] == "p q"


def test_transparent_colour_kept_as_alpha(tmp_path):
    im = _modes()["RGB"]
    im.info["transparency"] = tuple(int(v) for v in np.asarray(im)[0, 0])
    out = tmp_path / "t.raiiaf"
    im.save(out, latents={})
    back = Image.open(out)
    assert back.mode == "RGBA"
    assert back.getpixel((0, 0))[3] == 0
    assert np.array_equal(np.asarray(back)[:, :, :3], np.asarray(im))


def test_save_carries_over(tmp_path, fixture):
    path, expected = fixture
    src = pyraiiaf.open(path)
    im = Image.open(path)
    im.info["raiiaf:prompt"] = "an edited prompt"
    small = im.resize((im.width // 2, im.height // 2))
    out = tmp_path / "c.raiiaf"
    small.save(out)
    f = pyraiiaf.open(out)
    assert list(f.latents) == list(src.latents)
    for key in src.latents:
        assert f.latents[key].tobytes() == src.latents[key].tobytes()
    mi = f.manifest["raiiaf_metadata"]["model_info"]
    assert mi["prompt"] == "an edited prompt"
    assert mi["model_name"] == expected["model_info"]["model_name"]
    assert mi.get("generation_settings") == expected["model_info"].get("generation_settings")
    assert f.environment == src.environment
    back = Image.open(out)
    assert back.size == small.size
    for key in ("icc_profile", "gamma", "srgb"):
        assert (key in back.info) == (key in im.info), key


def test_lazy_latents(tmp_path, fixture):
    """Image.open and load() read no latent: a damaged latent payload still
    opens in Pillow, and pyraiiaf reports it when the latents are read."""
    path, expected = fixture
    rec = [c for c in expected["chunks"] if c["type"] == "LATN"][0]
    data = bytearray(open(path, "rb").read())
    data[rec["offset"]] ^= 0x55
    bad = tmp_path / "lat.raiiaf"
    bad.write_bytes(bytes(data))
    im = Image.open(bad)
    im.load()
    with pytest.raises(pyraiiaf.Error):
        pyraiiaf.open(bad).latents
    with pytest.raises(pyraiiaf.Error):
        im.save(tmp_path / "again.raiiaf")
    assert not (tmp_path / "again.raiiaf").exists() or \
        (tmp_path / "again.raiiaf").stat().st_size == 0
