"""A folder of .raiiaf to PNG on Dask's distributed scheduler (a local
cluster of 2 worker processes, loopback only, no dashboard) and on
multiprocessing: every PNG has the pixels Pillow decodes from the embedded
PNG and the `parameters` text."""
import os
import shutil

import pytest
from PIL import Image

import pyraiiaf
from pyraiiaf.batch import convert_folder
from conftest import FIXTURE_LIST, pillow_png


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    src = tmp_path_factory.mktemp("in")
    for i in range(3):
        for path, _ in FIXTURE_LIST:
            shutil.copy(path, src / f"{i}-{os.path.basename(path)}")
    return src


@pytest.mark.parametrize("engine", ["dask", "multiprocessing"])
def test_convert_folder(folder, tmp_path, engine):
    out = tmp_path / "png"
    done = convert_folder(str(folder), str(out), engine=engine, workers=2)
    sources = sorted(folder.glob("*.raiiaf"))
    assert len(done) == len(sources)
    for src in sources:
        png_path = out / (src.name[: -len(".raiiaf")] + ".png")
        f = pyraiiaf.open(str(src))
        with Image.open(png_path) as png:
            png.load()
            assert png.format == "PNG"
            assert png.info["parameters"] == f.parameters
            want = pillow_png(f.png)
            assert png.mode == want.mode and png.tobytes() == want.tobytes()
            assert png.info.get("icc_profile") == want.info.get("icc_profile")
    assert not list(out.glob("*.part"))
