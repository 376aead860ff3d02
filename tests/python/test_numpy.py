"""pyraiiaf.open / pyraiiaf.write: values against each fixture's
expected.json (what the reference decoded), round trips bit for bit."""
import io
import json

import numpy as np
import pytest
from PIL import Image

import pyraiiaf
from conftest import sha256


def test_fixture_values(fixture):
    path, expected = fixture
    for source in (path, open(path, "rb").read(), open(path, "rb")):
        f = pyraiiaf.open(source)
        hdr = f.header
        for key in ("version_major", "version_minor", "flags", "chunk_table_offset",
                    "chunk_table_size", "chunk_count", "file_size", "reserved"):
            assert hdr[key] == expected["header"][key], key
        assert sha256(f.png) == expected["image_sha256"]
        assert f.manifest["raiiaf_metadata"]["model_info"] == expected["model_info"]
        lat = f.latents
        assert len(lat) == len(expected["latents"])
        for (key, arr), want, rec in zip(lat.items(), expected["latents"],
                                         [c for c in expected["chunks"] if c["type"] == "LATN"]):
            assert key == rec.get("extra", {}).get("key", key)
            assert list(arr.shape) == want["shape"]
            assert arr.dtype == np.dtype(want["dtype"])
            assert sha256(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()) \
                == want["sha256"]
        assert isinstance(f.environment, dict)
        f.verify()
        assert f.texts["prompt"] == expected["model_info"]["prompt"]


def _latents():
    rng = np.random.default_rng(7)
    return {
        "z_last": rng.standard_normal((1, 4, 16, 16)).astype(np.float32),
        "a_first": rng.standard_normal((1, 4, 8, 8)).astype(np.float16),
        "m_mid": np.array([[[[0.0, -0.0, 1e-38, 65504.0]]]], dtype=np.float32),
    }


@pytest.mark.parametrize("storage", ["auto", "raw", "zfp"])
def test_write_roundtrip(tmp_path, storage):
    lat = _latents()
    img = Image.fromarray(np.arange(24 * 32 * 3, dtype=np.uint8).reshape(24, 32, 3))
    meta = {"model_name": "sdxl", "version": "1.0", "prompt": "a red fox",
            "tags": ["fox"], "generation_settings": {"seed": 5, "steps": 20, "sampler": "euler"}}
    env = {"python": "3.13", "custom": {"x": 1}}
    out = tmp_path / "w.raiiaf"
    pyraiiaf.write(out, img, latents=lat, metadata=meta, environment=env, storage=storage)
    f = pyraiiaf.open(out)
    assert list(f.latents) == list(lat), "latent order changed"
    for key, arr in lat.items():
        got = f.latents[key]
        assert got.dtype == arr.dtype and got.shape == arr.shape
        assert got.tobytes() == arr.tobytes(), key
    mi = f.manifest["raiiaf_metadata"]["model_info"]
    assert mi["prompt"] == "a red fox" and mi["generation_settings"]["seed"] == 5
    assert f.environment == env
    assert f.image().tobytes() == img.tobytes()
    f.verify()
    # to a file object, and the same from an ndarray
    buf = io.BytesIO()
    pyraiiaf.write(buf, np.asarray(img), latents=lat, metadata=meta)
    g = pyraiiaf.open(buf.getvalue())
    assert list(g.latents) == list(lat)


def test_carry_over_and_replace(tmp_path, fixture):
    path, expected = fixture
    f = pyraiiaf.open(path)
    out = tmp_path / "copy.raiiaf"
    pyraiiaf.write(out, f.image(), source=f)
    g = pyraiiaf.open(out)
    assert list(g.latents) == list(f.latents)
    for key in f.latents:
        assert g.latents[key].tobytes() == f.latents[key].tobytes()
    assert g.manifest["raiiaf_metadata"]["model_info"]["prompt"] == expected["model_info"]["prompt"]
    # latents given: exactly these, in the given order
    rev = dict(reversed(list(f.latents.items())))
    pyraiiaf.write(out, f.image(), source=f, latents=rev)
    assert list(pyraiiaf.open(out).latents) == list(rev)
    pyraiiaf.write(out, f.image(), source=f, latents={})
    assert pyraiiaf.open(out).latents == {}


def test_bad_latents_and_errors(tmp_path):
    img = Image.new("RGB", (4, 4))
    out = tmp_path / "bad.raiiaf"
    with pytest.raises(pyraiiaf.Error, match="float64"):
        pyraiiaf.write(out, img, latents={"x": np.zeros((1, 4, 2, 2))})
    nan = np.zeros((1, 4, 2, 2), dtype=np.float32)
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(pyraiiaf.Error) as e:
        pyraiiaf.write(out, img, latents={"x": nan})
    assert e.value.code and str(e.value)
    assert not out.exists(), "a failed write left a file"
    with pytest.raises(pyraiiaf.Error) as e:
        pyraiiaf.open(tmp_path / "missing.raiiaf")
    assert "missing.raiiaf" in str(e.value)
    with pytest.raises(pyraiiaf.Error):
        pyraiiaf.open(b"not a raiiaf file at all, just text")
    assert isinstance(e.value, OSError)



def test_one_reader_many_threads(fixture):
    """One opened file used from several threads at once (each call lets
    the GIL go while the library works): images of the same file loaded
    strip by strip, latents decoded, the file verified, all at the same
    time; every thread gets what one thread alone gets, never a crash."""
    import threading
    path, expected = fixture
    alone = pyraiiaf.open(path)
    want_latents = [a.tobytes() for a in alone.latents.values()]
    want_pixels = alone.image().tobytes()
    shared = pyraiiaf.open(path)
    reader = shared._reader
    failures = []

    def work(n):
        try:
            for _ in range(4):
                if n % 3 == 0:
                    got = [reader.decode_latent(i).tobytes() for i in range(reader.latent_count())]
                    if got != want_latents:
                        failures.append("latents differ")
                elif n % 3 == 1:
                    if shared.image().tobytes() != want_pixels:
                        failures.append("pixels differ")
                else:
                    reader.verify()
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(repr(e))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]


def test_reader_used_from_its_own_call(fixture):
    """A Reader called again from inside one of its own calls (here from
    the strip consumer of decode_strips) refuses at once, never waits on
    itself; the reader keeps working afterwards."""
    from pyraiiaf import _raiiaf
    path, expected = fixture
    r = _raiiaf.Reader(path)
    fmt = r.image_info()["format"]
    with pytest.raises(RuntimeError, match="its own calls"):
        r.decode_strips(fmt, 1 << 20, lambda data: r.image_info())
    strips = []
    r.decode_strips(fmt, 1 << 20, strips.append)
    assert b"".join(strips) == r.decode_image(fmt)
