#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-npy (tests/fuzz/corpus/npy): small arrays
in every form the tool's .npy reader takes, made with NumPy here.
Run: python3 tests/fuzz/make-npy-seeds.py tests/fuzz/corpus/npy"""
import io
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
arrays = {
    "f32-1x4x8x8": rng.standard_normal((1, 4, 8, 8)).astype("<f4"),
    "f16-1x4x4x4": rng.standard_normal((1, 4, 4, 4)).astype("<f2"),
    "f32-vector": np.arange(5, dtype="<f4"),
    "f32-scalar": np.array(1.5, dtype="<f4"),
    "f32-native": rng.standard_normal((2, 3)).astype("=f4"),
    "f32-fortran-1d": np.asfortranarray(np.ones((1, 6), dtype="<f4")),
    "f32-empty": np.zeros((0, 4), dtype="<f4"),
}
for name, a in arrays.items():
    np.save(os.path.join(out, name + ".npy"), a)
# Header format versions 2.0 and 3.0.
for version in ((2, 0), (3, 0)):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arrays["f16-1x4x4x4"], version=version)
    with open(os.path.join(out, "f16-v%d.npy" % version[0]), "wb") as f:
        f.write(buf.getvalue())
