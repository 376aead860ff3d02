#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-aimeta (tests/fuzz/corpus/aimeta): the
PNGs of tests/ai_pngs.py (each AI tool's layout) and the same texts as
keyword\\0text pairs, the form a host's texts take.
Run: python3 tests/fuzz/make-aimeta-seeds.py tests/fuzz/corpus/aimeta"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ai_pngs import cases, png_texts  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, (data, _) in cases().items():
    with open(os.path.join(out, name + ".png"), "wb") as f:
        f.write(data)
    pairs = b"".join(t[1].encode("utf-8") + b"\0" + t[5].encode("utf-8") + b"\0"
                     for t in png_texts(data))
    with open(os.path.join(out, name + ".texts"), "wb") as f:
        f.write(pairs)
