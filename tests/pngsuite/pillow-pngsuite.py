"""The Pillow host of check-hosts.py, run in one Python process with
PYTHONPATH on the build tree's pyraiiaf. Reads lines from stdin:

  open NAME PNG RAIIAF    Image.open(RAIIAF) from its path and from a file
                          object equals Image.open(PNG) (pillowcheck:
                          mode, size, pixels, palette, info)
  refuse NAME RAIIAF      Image.open(RAIIAF).load() raises pyraiiaf.Error
                          or Pillow's own error, from a path and from a
                          file object

and prints "NAME STEP ok" or "NAME STEP what differs" for each, then DONE.

SPDX-License-Identifier: MIT
"""
import io
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from PIL import Image  # noqa: E402

import pyraiiaf  # noqa: E402
import pyraiiaf.pillow  # noqa: E402,F401 - registers the format
from pillowcheck import png_differences  # noqa: E402

REFUSALS = (pyraiiaf.Error, OSError, SyntaxError, ValueError)


def sources(path):
    with open(path, "rb") as f:
        data = f.read()
    return (("path", path), ("file object", io.BytesIO(data)))


def compare(png, raiiaf):
    want = Image.open(png)
    want.load()
    diffs = []
    for how, source in sources(raiiaf):
        im = Image.open(source)
        if im.format != "RAIIAF":
            diffs.append("%s: format %s" % (how, im.format))
        diffs += ["%s: %s" % (how, d) for d in png_differences(im, want)]
    return "; ".join(diffs) or "ok"


def refuse(raiiaf):
    opened = []
    for how, source in sources(raiiaf):
        try:
            Image.open(source).load()
            opened.append(how)
        except REFUSALS:
            pass
    return "opens from " + " and ".join(opened) if opened else "ok"


def main():
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            verdict = compare(*words[2:4]) if words[0] == "open" else refuse(words[2])
        except Exception as e:  # one image's surprise must not hide the others'
            verdict = "%s: %s" % (type(e).__name__, e)
        print(words[1], words[0], " ".join(verdict.split()), flush=True)
    print("DONE", flush=True)


main()
