#!/usr/bin/env python3
"""Checks raiiaf-thumbnailer through the real program.

usage: thumbnailer-test.py RAIIAF_THUMBNAILER FIXTURES_DIR [RAIIAF]

- sizes: the longer edge is at most -s, the aspect is kept, never enlarged;
- quality: each thumbnail equals an area average (premultiplied alpha) of
  the full-size image, computed here independently with numpy;
- failures: exit 1, no output file, an existing output kept, no temporary
  file left behind;
- limits: an image of more than 2^28 pixels is refused before its pixels
  are decoded (needs the raiiaf tool, to pack such a file).
"""
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import thumbref  # noqa: E402

thumbnailer, fixtures = sys.argv[1], sys.argv[2]
raiiaf_tool = sys.argv[3] if len(sys.argv) > 3 else None
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def read_png(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG into an HxWxC array."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, ihdr
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, dtype=np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 255
        elif ftype == 1:
            for c in range(bpp):
                cur[c::bpp] = np.cumsum(line[c::bpp]) & 255
        else:
            cl = line.tolist()
            pl = prev.tolist()
            cu = [0] * stride
            for i in range(stride):
                a = cu[i - bpp] if i >= bpp else 0
                b = pl[i]
                if ftype == 3:
                    cu[i] = (cl[i] + ((a + b) >> 1)) & 255
                else:
                    c = pl[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cu[i] = (cl[i] + pred) & 255
            cur = np.array(cu, dtype=np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, bpp)


def area_average(img, out_w, out_h):
    return thumbref.area_average(img.astype(np.float64) / 255.0, out_w, out_h)


def run(*args):
    return subprocess.run([thumbnailer, *args], capture_output=True, text=True)


tmp = tempfile.mkdtemp(prefix="raiiaf-thumb-")
try:
    def thumb(fixture, size):
        out = os.path.join(tmp, f"{fixture}-{size}.png")
        r = run("-s", str(size), os.path.join(fixtures, fixture + ".raiiaf"), out)
        if r.returncode != 0:
            check(False, f"{fixture} -s {size}: exit {r.returncode}: {r.stderr.strip()}")
            return None
        return read_png(out)

    # (fixture, full size WxH, [(size, expected WxH)])
    cases = [
        ("astronaut-f32-zfp", (512, 512), [(256, (256, 256)), (100, (100, 100))]),
        ("logo-rgba-two-latents-raw", (500, 500), [(128, (128, 128)), (333, (333, 333))]),
        ("palette-zfp", (320, 240), [(100, (100, 75)), (64, (64, 48)), (7, (7, 5))]),
        ("camera-gray-f16-raw", (512, 512), [(64, (64, 64))]),
        ("gray16-sd3-zfp", (512, 512), [(48, (48, 48))]),
    ]
    for fixture, (fw, fh), scaled in cases:
        full = thumb(fixture, max(fw, fh))
        if full is None:
            continue
        check(full.shape[:2] == (fh, fw), f"{fixture}: full size {fw}x{fh}, got {full.shape[1]}x{full.shape[0]}")
        big = thumb(fixture, 4 * max(fw, fh))
        check(big is not None and big.shape == full.shape and (big == full).all(),
              f"{fixture}: -s {4 * max(fw, fh)} does not enlarge")
        if fixture.startswith(("camera-gray", "gray16")):
            check(full.shape[2] == 3 and (full[..., 0] == full[..., 1]).all() and
                  (full[..., 1] == full[..., 2]).all(), f"{fixture}: grey stays grey (R=G=B)")
        for size, (w, h) in scaled:
            t = thumb(fixture, size)
            if t is None:
                continue
            check(t.shape[:2] == (h, w), f"{fixture} -s {size}: {w}x{h}, got {t.shape[1]}x{t.shape[0]}")
            if t.shape[:2] != (h, w):
                continue
            ref, a = area_average(full, w, h)
            diff = np.abs(t.astype(np.int32) - ref)
            # Colour is meaningless where alpha is nearly 0: compare it where
            # the pixel is at least a little opaque.
            if full.shape[2] == 4:
                diff[..., :3] = np.where((a > 4 / 255)[..., None], diff[..., :3], 0)
            # The reference averages the 8-bit full-size image; the program
            # averages the decoded source (16 bits for 16-bit files): both
            # round once, so they may differ by 1 (2 for 16-bit sources).
            tolerance = 2 if fixture.startswith("gray16") else 1
            check(diff.max() <= tolerance,
                  f"{fixture} -s {size}: area average within {tolerance} (max diff {diff.max()})")

    # ---- Failures ----
    garbage = os.path.join(tmp, "garbage.raiiaf")
    with open(garbage, "wb") as f:
        f.write(b"this is not a raiiaf file\n" * 10)
    truncated = os.path.join(tmp, "truncated.raiiaf")
    with open(os.path.join(fixtures, "astronaut-f32-zfp.raiiaf"), "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])
    good = os.path.join(fixtures, "palette-zfp.raiiaf")

    faildir = os.path.join(tmp, "fail")
    os.mkdir(faildir)
    out = os.path.join(faildir, "out.png")
    for args, what in [
        (["-s", "64", garbage, out], "not a .raiiaf file"),
        (["-s", "64", truncated, out], "truncated file"),
        (["-s", "64", os.path.join(tmp, "missing.raiiaf"), out], "missing input"),
        (["-s", "0", good, out], "size 0"),
        (["-s", "abc", good, out], "size abc"),
        (["-s", "100000", good, out], "size too large"),
        ([good], "one argument"),
        (["-s", "64", good, os.path.join(tmp, "no-such-dir", "out.png")], "output folder missing"),
    ]:
        r = run(*args)
        check(r.returncode == 1 and r.stderr.strip() != "",
              f"{what}: exit 1 with a message (exit {r.returncode})")
        check(os.listdir(faildir) == [], f"{what}: nothing written ({os.listdir(faildir)})")

    with open(out, "wb") as f:
        f.write(b"previous thumbnail")
    r = run("-s", "64", truncated, out)
    check(r.returncode == 1 and open(out, "rb").read() == b"previous thumbnail"
          and os.listdir(faildir) == ["out.png"], "failure keeps the existing output untouched")
    r = run("-s", "64", good, out)
    check(r.returncode == 0 and read_png(out).shape == (48, 64, 3) and os.listdir(faildir) == ["out.png"],
          "success replaces the existing output, no temporary file left")

    def png_chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body)))

    def pack(png_bytes, name):
        png_path = os.path.join(tmp, name + ".png")
        with open(png_path, "wb") as f:
            f.write(png_bytes)
        path = os.path.join(tmp, name + ".raiiaf")
        p = subprocess.run([raiiaf_tool, "pack", "-o", path, "--image", png_path],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"raiiaf pack {name}: {p.stderr.strip()}")
        return path

    # ---- An interlaced (Adam7) image: decoded whole, same average ----
    if raiiaf_tool:
        w, h = 37, 23
        img = ((np.arange(h)[:, None] * 11 + np.arange(w)[None, :] * 5) % 256).astype(np.uint8)
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                  (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b""
        for x0, y0, dx, dy in passes:
            sub = img[y0::dy, x0::dx]
            if sub.size:
                raw += b"".join(b"\0" + bytes(r) for r in sub)
        interlaced = pack(b"\x89PNG\r\n\x1a\n" +
                          png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 1)) +
                          png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""),
                          "interlaced")
        r = run("-s", "16", interlaced, out + ".adam7")
        check(r.returncode == 0, f"interlaced image thumbnailed: {r.stderr.strip()}")
        if r.returncode == 0:
            got = read_png(out + ".adam7").astype(np.float64)
            rgb = np.repeat(img[:, :, None], 3, axis=2).astype(np.float64)
            want, _ = area_average(rgb, got.shape[1], got.shape[0])
            check(got.shape == (10, 16, 3) and np.abs(got - want).max() <= 1,
                  f"interlaced: area average (max diff {np.abs(got - want).max():.2f})")
            os.unlink(out + ".adam7")

    # ---- A large image goes row by row: memory stays far below its size ----
    if raiiaf_tool:
        side = 6000  # 108 MiB as RGB8
        comp = zlib.compressobj(9)
        row = b"\0" + bytes(range(256)) * (side // 256) + bytes(side % 256)
        idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
        large = pack(b"\x89PNG\r\n\x1a\n" +
                     png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)) +
                     png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""), "large")
        # A Python of its own, whose only child is the thumbnailer, measures
        # the thumbnailer's peak memory alone.
        measure = ("import resource, subprocess, sys; "
                   "rc = subprocess.run(sys.argv[1:]).returncode; "
                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")
        r = subprocess.run([sys.executable, "-c", measure, thumbnailer, "-s", "128", large,
                            out + ".large"], capture_output=True, text=True)
        rss_mib = int(r.stdout.split()[-1]) / 1024 if r.stdout.split() else 1e9
        check(r.returncode == 0 and read_png(out + ".large").shape == (128, 128, 3),
              f"{side}x{side} image thumbnailed: {r.stderr.strip()}")
        check(rss_mib < 32,
              f"... decoded row by row (largest child: {rss_mib:.0f} MiB for a "
              f"{side * side * 3 >> 20} MiB image)")
        if os.path.exists(out + ".large"):
            os.unlink(out + ".large")

    # ---- Limits: 17000 x 17000 grey (289 Mpixels, 1.1 GiB as RGBA16) ----
    if raiiaf_tool:
        side = 17000
        def chunk(kind, body):
            return (struct.pack(">I", len(body)) + kind + body +
                    struct.pack(">I", zlib.crc32(kind + body)))
        comp = zlib.compressobj(9)
        row = b"\0" * (side + 1)
        idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
        big_png = os.path.join(tmp, "big.png")
        with open(big_png, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" +
                    chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)) +
                    chunk(b"IDAT", idat) + chunk(b"IEND", b""))
        big = os.path.join(tmp, "big.raiiaf")
        p = subprocess.run([raiiaf_tool, "pack", "-o", big, "--image", big_png],
                           capture_output=True, text=True)
        if p.returncode != 0:
            check(False, f"raiiaf pack of a {side}x{side} PNG: {p.stderr.strip()}")
        else:
            r = run("-s", "64", big, out + ".big")
            rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            refused = r.returncode == 1 and ("limit" in r.stderr or "too large" in r.stderr)
            check(refused and not os.path.exists(out + ".big")
                  and os.listdir(faildir) == ["out.png"],
                  f"{side}x{side} image refused with a message: {r.stderr.strip()}")
            check(rss_mib < 256, f"... before decoding (largest child: {rss_mib:.0f} MiB)")
    else:
        print("skip: no raiiaf tool given, the pixel limit is not checked")

    r = run("--help")
    check(r.returncode == 0 and "Usage:" in r.stdout, "--help")
finally:
    shutil.rmtree(tmp)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
