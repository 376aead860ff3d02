#!/usr/bin/python3
"""bench/python.py [BUILD_DIR] [ROUNDS]

Speed of pyraiiaf, measured inside one Python process (no interpreter
start-up), median of ROUNDS interleaved runs (default 7: each round runs
every measurement once, so a loaded machine slows them alike), on the
512x512 astronaut fixture (zfp latent), the 500x500 logo fixture (two raw
latents) and a 4096x4096 file made here (a photo and a 1x4x512x512 float32
latent, zfp and raw):
  - Image.open(x.raiiaf).load() against Image.open(x.png).load() on the
    same PNG (the embedded one): the issue's target is no slower (ratio
    <= 1.0);
  - pyraiiaf.open(x).latents (open and read every latent) against the
    reference package's file_decoder, only when RAIIAF_REF names a folder
    holding the reference's raiiaf/ package (its columns are skipped
    otherwise): the target is at least 10x faster. With zfp latents the
    libzfp column is zfpy's decode of the latent's zfp stream alone: both
    sides call that same libzfp decoder.
Figures only: nothing here passes or fails.

Run in the development environment from the repository root (the
reference folder must be inside the repository's tree, e.g. an ignored
build folder, for the environment to see it):
  packaging/devenv bench/python.py build
  packaging/devenv env RAIIAF_REF=$PWD/build-ref bench/python.py build
"""
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
import types
import warnings

build = sys.argv[1] if len(sys.argv) > 1 else "build"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(build, "plugins", "python"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import pyraiiaf  # noqa: E402
import pyraiiaf.pillow  # noqa: E402,F401

Image.MAX_IMAGE_PIXELS = None
PHOTO = "/usr/share/backgrounds/gnome/adwaita-d.jpg"


def interleaved_medians(fns):
    """Median seconds of each function, the functions run in turn in every
    round (a loaded machine slows them alike)."""
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, ts in zip(fns, times):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return [statistics.median(ts) for ts in times]


def zfp_stream(path):
    """The zfp stream of the file's first latent, if it is stored as zfp."""
    r = pyraiiaf.open(path)
    rec = next(c for c in r.manifest["raiiaf_metadata"]["chunks"] if c["type"] == "LATN")
    if not rec.get("compressed"):
        return None
    with open(path, "rb") as f:
        f.seek(rec["offset"] + rec["len_header"])
        return f.read(rec["len_data"])


def reference_decoder():
    ref = os.environ.get("RAIIAF_REF")
    if not ref or not os.path.isdir(os.path.join(ref, "raiiaf")):
        return None
    sys.path.insert(0, ref)
    # torch and pynvml only describe the environment in the reference.
    torch = types.ModuleType("torch")
    torch.__version__ = "0"
    torch.version = types.SimpleNamespace(cuda=None)
    torch.cuda = types.SimpleNamespace(is_available=lambda: False)
    sys.modules.setdefault("torch", torch)
    sys.modules.setdefault("pynvml", types.ModuleType("pynvml"))
    from raiiaf import raiiafFileHandler
    handler = raiiafFileHandler()

    def decode(path):
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            return handler.file_decoder(path)["chunks"]["latent"]
    return decode


def make_large(work, storage):
    path = os.path.join(work, f"large-4096-{storage}.raiiaf")
    photo = Image.open(PHOTO).convert("RGB").resize((4096, 4096))
    lat = np.random.default_rng(0).standard_normal((1, 4, 512, 512)).astype(np.float32)
    pyraiiaf.write(path, photo, latents={"initial_noise": lat}, storage=storage,
                   metadata={"model_name": "bench", "prompt": "a large photo",
                             "generation_settings": {"seed": 1, "steps": 1, "sampler": "euler"}})
    return path


def main():
    ref = reference_decoder()
    with tempfile.TemporaryDirectory(dir=build) as work:
        fixtures = os.path.join(top, "tests", "fixtures")
        files = [("512 zfp", os.path.join(fixtures, "astronaut-f32-zfp.raiiaf")),
                 ("500 raw", os.path.join(fixtures, "logo-rgba-two-latents-raw.raiiaf")),
                 ("4096 zfp", make_large(work, "zfp")),
                 ("4096 raw", make_large(work, "raw"))]
        print(f"median of {rounds} interleaved runs, seconds (inside one process)")
        print("targets: load ratio <= 1.00; latents >= 10x faster than the reference")
        print(f"{'file':<10} {'raiiaf load':>12} {'PNG load':>10} {'ratio':>6}   "
              f"{'latents':>9} {'reference':>10} {'speed-up':>9} {'libzfp':>8}")
        for label, path in files:
            png = os.path.join(work, label + ".png")
            with open(png, "wb") as f:
                f.write(pyraiiaf.open(path).png)
            fns = [lambda: Image.open(path).load(), lambda: Image.open(png).load(),
                   lambda: pyraiiaf.open(path).latents]
            if ref is not None:
                fns.append(lambda: ref(path))
                stream = zfp_stream(path)
                if stream is not None:  # the zfp decode alone, as the reference calls it
                    import zfpy
                    fns.append(lambda: zfpy.decompress_numpy(stream))
            t = interleaved_medians(fns)
            ours, theirs, lat = t[:3]
            line = f"{label:<10} {ours:>12.4f} {theirs:>10.4f} {ours / theirs:>6.2f}   {lat:>9.4f}"
            if ref is not None:
                line += f" {t[3]:>10.4f} {t[3] / lat:>8.1f}x"
                line += f" {t[4]:>8.4f}" if len(t) > 4 else f" {'-':>8}"
            else:
                line += f" {'(RAIIAF_REF unset)':>20}"
            print(line)
        if ref is not None:
            print("libzfp: zfpy.decompress_numpy on the latent's zfp stream alone, the "
                  "floor of both sides' zfp latents")

main()
