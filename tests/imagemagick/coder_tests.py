#!/usr/bin/env python3
"""Tests of the ImageMagick coder through the real `magick` program, or with
ImageMagick 6 through `convert`, `identify` and `mogrify`.

    coder_tests.py GROUP     GROUP: fixtures exact commands write roundtrip corrupt valgrind

Environment (set by meson):
    RAIIAF_IM_MAJOR           7 (default) or 6: which ImageMagick's commands
    RAIIAF_MAGICK             ImageMagick 7's program (default `magick`), e.g.
                              magick-im7.q16hdri for Debian's Q16HDRI build
    RAIIAF_IM_ABI             the build the coder was made for (Q16,
                              Q16HDRI): the program must be that build
    MAGICK_CODER_MODULE_PATH  the build folder holding raiiaf.so/.la, then
                              ImageMagick's own coder folder
    RAIIAF_IM_PROBE           the raiiaf-probe helper (libraiiaf's view)
    RAIIAF_FIXTURES           the reference fixtures folder
    RAIIAF_TOOL               optional: the `raiiaf` command-line tool

Every check prints one line; the exit status is 1 if any failed, 77 when
the group cannot run here (meson counts that as skipped).
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

FIXTURES = [
    "astronaut-f32-zfp",
    "camera-gray-f16-raw",
    "gray16-sd3-zfp",
    "logo-rgba-two-latents-raw",
    "palette-zfp",
]

failures = []
checks = 0


def check(condition, name, detail=""):
    global checks
    checks += 1
    if condition:
        print(f"ok   {name}")
    else:
        failures.append(name)
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))
    return condition


def main_groups(groups, prefix):
    """main() of a test script run as `SCRIPT GROUP`: runs groups[GROUP]
    in a temporary folder, prints the count of checks; exit status 0, 1 (a
    check failed), 2 (usage) or 77 (skipped)."""
    import tempfile
    if len(sys.argv) != 2 or sys.argv[1] not in groups:
        print(f"usage: {sys.argv[0]} {'|'.join(groups)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix=prefix) as work:
        rc = groups[sys.argv[1]](work)
    if rc == 77:
        return 77
    print(f"{checks - len(failures)}/{checks} checks passed")
    return 1 if failures or rc else 0


def run(args, stdin=None, cwd=None, timeout=300):
    proc = subprocess.run(args, input=stdin, cwd=cwd, capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


IM6 = os.environ.get("RAIIAF_IM_MAJOR") == "6"
MAGICK = os.environ.get("RAIIAF_MAGICK") or "magick"


def command(args):
    """`magick ARGS` as ImageMagick 7 spells it, or the ImageMagick 6 form:
    `identify`/`mogrify`/`convert` on their own, `convert` for the rest."""
    if not IM6:
        return [MAGICK, *args]
    if args and args[0] in ("identify", "mogrify", "convert"):
        return list(args)
    return ["convert", *args]


def magick(*args, stdin=None, cwd=None):
    return run(command(args), stdin=stdin, cwd=cwd)


def text_of(data):
    return data.decode("utf-8", "replace").strip()


def probe_dump(path, into):
    """libraiiaf's own view of a file, independent of ImageMagick."""
    os.makedirs(into, exist_ok=True)
    rc, _, err = run([PROBE, "dump", path, into])
    if rc != 0:
        return None, text_of(err)
    with open(os.path.join(into, "info.json"), encoding="utf-8") as f:
        info = json.load(f)
    return info, ""


def probe_verify(path):
    rc, _, err = run([PROBE, "verify", path])
    if rc == 0 and TOOL:
        rc, _, err = run([TOOL, "verify", path])
    return rc == 0, text_of(err)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def sha256_file(path):
    return hashlib.sha256(read_bytes(path)).hexdigest()


def pixels(spec):
    """All samples as 16-bit RGBA, whatever the image's own layout."""
    rc, out, err = magick(spec, "-depth", "16", "RGBA:-")
    return (out if rc == 0 else None), text_of(err)


def describe(spec, ping=False):
    fmt = "%w %h %z %[channels] %[colorspace] %[type] %[gamma] %r"
    args = ["identify"] + (["-ping"] if ping else []) + ["-format", fmt, spec]
    rc, out, err = magick(*args)
    return (text_of(out) if rc == 0 else None), text_of(err)


def png_chunks(path):
    data = read_bytes(path)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, chunks = 8, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((kind.decode("latin-1"), data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_texts(path):
    """Keyword -> text of every tEXt, zTXt and iTXt chunk."""
    texts = {}
    for kind, body in png_chunks(path):
        if kind == "tEXt":
            key, _, value = body.partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == "zTXt":
            key, _, rest = body.partition(b"\0")
            texts[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == "iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _lang, _, rest = rest.partition(b"\0")
            _tkey, _, value = rest.partition(b"\0")
            if compressed:
                value = zlib.decompress(value)
            texts[key.decode("latin-1")] = value.decode("utf-8")
    if IM6:
        # ImageMagick 6's PNG writer puts UTF-8 bytes into tEXt/zTXt (which
        # PNG defines as Latin-1) where 7 writes iTXt: read them as it
        # meant them (README: "ImageMagick 6").
        for key, value in texts.items():
            try:
                texts[key] = value.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
    return texts


def jpeg_comments(path):
    data = read_bytes(path)
    pos, comments = 2, []
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: no more metadata
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker == 0xFE:
            comments.append(data[pos + 4:pos + 2 + length])
        pos += 2 + length
    return comments


def properties(spec, keys):
    """Values of image properties, read in one `magick identify` call."""
    sep = "<<raiiaf-test-separator>>"
    fmt = sep.join(f"%[{k}]" for k in keys)
    rc, out, err = magick("identify", "-format", fmt, spec)
    if rc != 0:
        return None, text_of(err)
    return out.decode("utf-8").split(sep), ""


def zstd_raw_frame(payload, claimed_size=None):
    """A zstd frame of raw (stored) blocks: valid zstd without a compressor.
    claimed_size makes the frame header lie about the content size."""
    size = len(payload) if claimed_size is None else claimed_size
    frame = b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", size)
    blocks = [payload[i:i + 65536] for i in range(0, len(payload), 65536)] or [b""]
    for i, block in enumerate(blocks):
        last = 1 if i == len(blocks) - 1 else 0
        frame += struct.pack("<I", (len(block) << 3) | last)[:3] + block
    return frame


def zstd_payload(frame):
    """The content of a frame made by zstd_raw_frame."""
    pos, out = 4 + 1 + 8, b""
    while True:
        header = int.from_bytes(frame[pos:pos + 3], "little")
        size = header >> 3
        out += frame[pos + 3:pos + 3 + size]
        pos += 3 + size
        if header & 1:
            return out


def build_raiiaf(image_bytes, prompt="crafted by the test"):
    """A minimal .raiiaf (one uncompressed DATA chunk, no latents) around
    any bytes, following the format page; used to put a non-PNG image in."""
    data = b"DATA0000" + struct.pack("<I", len(image_bytes)) + image_bytes
    record = {"index": 0, "type": "DATA", "flags": "0000", "offset": 33,
              "compressed_size": len(data), "uncompressed_size": len(image_bytes),
              "hash": hashlib.sha256(image_bytes).hexdigest(), "extra": {},
              "compressed": False, "len_header": None, "len_data": None}
    manifest = {"raiiaf_metadata": {
        "file_info": {"magic": "raiiaf", "version_major": 1, "version_minor": 0,
                      "file_size": 0, "chunk_count": 1},
        "model_info": {"model_name": "m", "version": "1", "date": "2026-01-01T00:00:00+00:00",
                       "prompt": prompt, "tags": []},
        "chunks": [record]}}
    text = json.dumps(manifest, indent=2).encode()
    meta = zstd_raw_frame(b"META0000" + struct.pack("<I", len(text)) + text)
    meta_offset = 33 + len(data)
    total = meta_offset + len(meta)
    header = b"raiiaf" + bytes([1, 0, 0]) + struct.pack("<IIIQI", meta_offset, len(meta), 1,
                                                         total, 0)
    return header + data + meta


def with_manifest(data, exp, manifest_text):
    """The file with its META chunk (the last one, as the reference writes
    it) replaced by one holding manifest_text."""
    meta_offset = exp["header"]["chunk_table_offset"]
    meta = zstd_raw_frame(b"META0000" + struct.pack("<I", len(manifest_text)) + manifest_text)
    total = meta_offset + len(meta)
    header = data[:9] + struct.pack("<II", meta_offset, len(meta)) + data[17:21] + \
        struct.pack("<Q", total) + data[29:33]
    return header + data[33:meta_offset] + meta


def lying_manifests(name, manifest):
    """Manifests whose records lie in the ways a hostile file could."""
    def edit(fn):
        m = json.loads(json.dumps(manifest))
        fn(m["raiiaf_metadata"])
        return json.dumps(m, indent=2).encode()

    def records(kind):
        return lambda md: [r for r in md["chunks"] if r["type"] == kind]

    latn, data = records("LATN"), records("DATA")

    def setter(select, key, value):
        def fn(md):
            for r in select(md):
                r[key] = value
        return fn

    def set_extra(key, value):
        def fn(md):
            for r in latn(md):
                r["extra"][key] = value
        return fn

    cases = [
        ("not-json", b"{\"raiiaf_metadata\": "),
        ("json-array", b"[1, 2, 3]"),
        ("no-model-info", edit(lambda md: md.pop("model_info"))),
        ("no-records", edit(lambda md: md.__setitem__("chunks", []))),
        ("unknown-type", edit(setter(data, "type", "XXXX"))),
        ("duplicate-data", edit(lambda md: md["chunks"].append(dict(data(md)[0])))),
        ("data-offset-past-end", edit(setter(data, "offset", 10 ** 9))),
        ("data-size-huge", edit(setter(data, "compressed_size", 2 ** 40))),
        ("data-uncompressed-huge", edit(setter(data, "uncompressed_size", 2 ** 40))),
        ("data-uncompressed-small", edit(setter(data, "uncompressed_size", 10))),
        ("data-not-compressed", edit(setter(data, "compressed", False))),
        ("data-hash-wrong", edit(setter(data, "hash", "00" * 32))),
        ("data-offset-string", edit(setter(data, "offset", "33"))),
        ("data-offset-negative", edit(setter(data, "offset", -1))),
        ("latent-shape-huge", edit(set_extra("shape", [1, 4, 64, 6400000]))),
        ("latent-shape-mismatch", edit(set_extra("shape", [1, 4, 64, 65]))),
        ("latent-shape-5d", edit(set_extra("shape", [1, 1, 4, 64, 64]))),
        ("latent-dtype-float64", edit(set_extra("dtype", "float64"))),
        ("latent-len-header-huge", edit(setter(latn, "len_header", 2 ** 31))),
        ("latent-offset-in-header", edit(setter(latn, "offset", 0))),
        ("latent-hash-wrong", edit(setter(latn, "hash", "11" * 32))),
    ]
    return cases


# Manifest edits that the format allows or the library tolerates on reading:
# model_info is required by the reference only when writing; a latent may
# be reshaped to any shape with the same element count; len_header of an
# uncompressed latent is fixed by the format and not needed to read it.
TOLERATED = {"no-model-info", "latent-shape-5d", "latent-len-header-huge"}


def fixture(name):
    return os.path.join(FIXTURES_DIR, name + ".raiiaf")


def expected(name):
    with open(os.path.join(FIXTURES_DIR, name + ".expected.json"), encoding="utf-8") as f:
        return json.load(f)


def latent_files(dump_dir, count, suffix):
    return [read_bytes(os.path.join(dump_dir, f"latent-{i}.{suffix}")) for i in range(count)]


# ---------------------------------------------------------------------------
# fixtures: pixels, identify/ping and properties of every reference file
# ---------------------------------------------------------------------------
def test_fixtures(work):
    for name in FIXTURES:
        path = fixture(name)
        dump_dir = os.path.join(work, name)
        info, err = probe_dump(path, dump_dir)
        if not check(info is not None, f"{name}: libraiiaf reads the fixture", err):
            continue
        png = os.path.join(dump_dir, "image.png")
        exp = expected(name)
        check(sha256_file(png) == exp["image_sha256"], f"{name}: embedded image sha256")

        ours, err = pixels(path)
        theirs, err2 = pixels("png:" + png)
        check(ours is not None and ours == theirs,
              f"{name}: pixels equal the embedded PNG decoded by magick", err or err2)
        d_ours, err = describe(path)
        d_theirs, _ = describe("png:" + png)
        check(d_ours is not None and d_ours == d_theirs,
              f"{name}: size/depth/channels/colorspace/type/gamma as the PNG's",
              f"{d_ours!r} vs {d_theirs!r} {err}")
        p_ours, err = describe(path, ping=True)
        p_theirs, _ = describe("png:" + png, ping=True)
        check(p_ours is not None and p_ours.split()[:3] == p_theirs.split()[:3],
              f"{name}: -ping gives the size and depth", f"{p_ours!r} vs {p_theirs!r} {err}")
        rc, out, err = magick("identify", path)
        line = text_of(out)
        w, h = info["image"]["width"], info["image"]["height"]
        check(rc == 0 and f" RAIIAF {w}x{h} " in line and line.startswith(path),
              f"{name}: identify names the format and size", line + text_of(err))
        rc, out, err = magick("identify", "-format", "%B", path)
        check(rc == 0 and text_of(out) == str(os.path.getsize(path)),
              f"{name}: identify gives the .raiiaf file size", text_of(out) + text_of(err))

        # Properties: the library's text pairs and the manifest itself.
        pairs = info["text"]
        keys = [f"raiiaf:{k}" for k, _ in pairs] + ["parameters", "comment"]
        values, err = properties(path, keys)
        if check(values is not None, f"{name}: properties readable", err):
            for (k, v), got in zip(pairs, values):
                check(got == v, f"{name}: property raiiaf:{k}", f"{got!r} != {v!r}")
            check(values[len(pairs)] == info["parameters"] and info["parameters"] != "",
                  f"{name}: property parameters is the A1111 text")
            check(values[len(pairs) + 1] == info["parameters"],
                  f"{name}: property comment is the A1111 text")
        mi = exp["model_info"]
        want = {
            "raiiaf:model": mi["model_name"],
            "raiiaf:model-version": mi["version"],
            "raiiaf:prompt": mi["prompt"],
            "raiiaf:date": mi["date"],
            "raiiaf:tags": ", ".join(mi["tags"]),
            "raiiaf:seed": str(mi["generation_settings"]["seed"]),
            "raiiaf:steps": str(mi["generation_settings"]["steps"]),
            "raiiaf:sampler": mi["generation_settings"]["sampler"],
            "raiiaf:scheduler": mi["generation_settings"]["scheduler"],
            "raiiaf:hardware-os": mi["hardware_info"]["os"],
        }
        values, err = properties(path, list(want))
        if values is not None:
            for (k, v), got in zip(want.items(), values):
                check(got == v, f"{name}: {k} equals the manifest", f"{got!r} != {v!r}")
        for i, latent in enumerate(exp["latents"]):
            vals, _ = properties(path, [f"raiiaf:latent-{i}"])
            shape = "x".join(str(n) for n in latent["shape"])
            key = exp["chunks"][i]["extra"]["key"]
            check(vals is not None and key in vals[0] and shape in vals[0],
                  f"{name}: raiiaf:latent-{i} names key and shape", repr(vals))
        rc, out, _ = magick("identify", "-verbose", path)
        verbose = out.decode("utf-8", "replace")
        check(rc == 0 and f"raiiaf:prompt: {mi['prompt']}" in verbose
              and "raiiaf-manifest" in verbose and "raiiaf-latent-0" in verbose,
              f"{name}: identify -verbose lists properties and profiles")
        check(rc == 0 and "Format: RAIIAF" in verbose, f"{name}: verbose format is RAIIAF")

        # Profiles carry the stored latents bit for bit (seen through MIFF,
        # which keeps every profile, then a .raiiaf written from it).
        miff = os.path.join(work, name + ".miff")
        again = os.path.join(work, name + "-again.raiiaf")
        rc1, _, e1 = magick(path, miff)
        rc2, _, e2 = magick(miff, again)
        info2, err = probe_dump(again, dump_dir + "-again") if rc1 == rc2 == 0 else (None, "")
        check(info2 is not None, f"{name}: raiiaf -> miff -> raiiaf works",
              text_of(e1) + text_of(e2) + err)
        if info2 is not None:
            n = len(info["latents"])
            check(latent_files(dump_dir, n, "stored") ==
                  latent_files(dump_dir + "-again", len(info2["latents"]), "stored"),
                  f"{name}: latents survive as profiles bit for bit")


# ---------------------------------------------------------------------------
# commands: what users type
# ---------------------------------------------------------------------------
def test_commands(work):
    src = fixture("palette-zfp")
    info, _ = probe_dump(src, os.path.join(work, "dump"))
    prompt = [v for k, v in info["text"] if k == "prompt"][0]
    ref_pixels, _ = pixels(src)

    out = os.path.join(work, "x.png")
    rc, _, err = magick(src, out)
    check(rc == 0 and os.path.exists(out), "magick x.raiiaf x.png", text_of(err))
    if rc == 0:
        texts = png_texts(out)
        check(texts.get("parameters") == info["parameters"],
              "x.png carries the A1111 'parameters' text", repr(texts.get("parameters")))
        check(texts.get("raiiaf:prompt") == prompt, "x.png carries raiiaf:prompt")
        check(any(k.startswith("Raw profile type raiiaf-latent-0") for k in texts),
              "x.png carries the latent profile by default")
        check(pixels(out)[0] == ref_pixels, "x.png has the same pixels")

    out = os.path.join(work, "lean.png")
    rc, _, err = magick("-define", "raiiaf:profiles=false", src, out)
    check(rc == 0 and not any(k.startswith("Raw profile type raiiaf")
                              for k in png_texts(out)),
          "-define raiiaf:profiles=false keeps profiles out of the PNG", text_of(err))
    check(rc == 0 and png_texts(out).get("parameters") == info["parameters"],
          "... but keeps the prompt text")

    out = os.path.join(work, "x.jpg")
    rc, _, err = magick("convert", src, out)
    check(rc == 0 and os.path.exists(out), "magick convert x.raiiaf x.jpg", text_of(err))
    if rc == 0:
        comments = jpeg_comments(out)
        check(any(prompt.encode("utf-8") in c for c in comments),
              "x.jpg carries the prompt as a JPEG comment", repr(comments)[:200])

    # mogrify over a folder of .raiiaf files
    batch = os.path.join(work, "batch")
    os.makedirs(batch)
    for name in ("palette-zfp", "camera-gray-f16-raw"):
        shutil.copy(fixture(name), batch)
    rc, _, err = magick("mogrify", "-format", "png", "*.raiiaf", cwd=batch)
    check(rc == 0 and os.path.exists(os.path.join(batch, "palette-zfp.png"))
          and os.path.exists(os.path.join(batch, "camera-gray-f16-raw.png")),
          "magick mogrify -format png *.raiiaf", text_of(err))

    # A file without the extension needs the raiiaf: prefix.
    bare = os.path.join(work, "noextension")
    shutil.copy(src, bare)
    rc, out, err = magick("identify", "-format", "%m %w %h", "raiiaf:" + bare)
    check(rc == 0 and text_of(out) == "RAIIAF 320 240", "raiiaf:FILE without extension",
          text_of(out) + text_of(err))
    check(pixels("raiiaf:" + bare)[0] == ref_pixels, "raiiaf:FILE pixels")

    # stdin and stdout
    rc, out, err = magick("raiiaf:-", "-depth", "16", "RGBA:-", stdin=read_bytes(src))
    check(rc == 0 and out == ref_pixels, "raiiaf:- reads stdin", text_of(err))
    rc, out, err = magick(src, "raiiaf:-")
    check(rc == 0 and out[:6] == b"raiiaf", "raiiaf:- writes stdout", text_of(err))

    # One property by -format
    rc, out, _ = magick("identify", "-format", "%[raiiaf:prompt]", src)
    check(rc == 0 and out.decode("utf-8") == prompt, "-format '%[raiiaf:prompt]'")

    # -extract / [geometry] applies once, on the whole image
    rc, out, err = magick("identify", "-format", "%w %h", src + "[10x10+5+5]")
    check(rc == 0 and text_of(out) == "10 10", "x.raiiaf[10x10+5+5] crops once",
          text_of(out) + text_of(err))

    # PNG made by ImageMagick turns back into a .raiiaf with the latents
    png = os.path.join(work, "x.png")
    back = os.path.join(work, "back.raiiaf")
    rc, _, err = magick(png, back)
    info2, err2 = probe_dump(back, os.path.join(work, "back"))
    check(rc == 0 and info2 is not None, "x.png -> back.raiiaf", text_of(err) + err2)
    if info2 is not None:
        n = len(info["latents"])
        check(latent_files(os.path.join(work, "dump"), n, "stored") ==
              latent_files(os.path.join(work, "back"), len(info2["latents"]), "stored"),
              "raiiaf -> png -> raiiaf keeps the latents bit for bit")
        check(read_bytes(os.path.join(work, "dump", "environment.json")) ==
              read_bytes(os.path.join(work, "back", "environment.json")),
              "raiiaf -> png -> raiiaf keeps the environment")


# ---------------------------------------------------------------------------
# write: plain images into .raiiaf, defines, multi-image, failures
# ---------------------------------------------------------------------------
def test_write(work):
    gradient = ["-size", "64x48", "gradient:red-blue"]
    cases = [
        # name, magick args making the PNG, expected (PNG colour type, bit depth)
        ("rgb8.png", gradient + ["-depth", "8"], (2, 8)),
        ("rgb16.png", gradient + ["-depth", "16"], (2, 16)),
        ("grey8.png", ["-size", "64x48", "gradient:", "-depth", "8"], (0, 8)),
        ("grey16.png", ["-size", "64x48", "gradient:", "-depth", "16"], (0, 16)),
        ("rgba8.png", gradient + ["-alpha", "set", "-channel", "A", "-evaluate", "set", "50%",
                                  "+channel", "-depth", "8"], (6, 8)),
        ("PNG32:rgba-opaque.png", gradient + ["-alpha", "set", "-depth", "8"], (2, 8)),
        ("greya16.png", ["-size", "64x48", "gradient:", "-alpha", "set", "-channel", "A",
                         "-evaluate", "set", "25%", "+channel", "-depth", "16"], (4, 16)),
    ]
    for spec, args, (color_type, depth) in cases:
        prefix, _, name = spec.rpartition(":")
        png = os.path.join(work, name)
        rc, _, err = magick(*args, (prefix + ":" if prefix else "") + png)
        assert rc == 0, text_of(err)
        out = os.path.join(work, name.replace(".png", ".raiiaf"))
        rc, _, err = magick(png, out)
        if not check(rc == 0, f"write {name}", text_of(err)):
            continue
        ok, err = probe_verify(out)
        check(ok, f"{name}: written file verifies in libraiiaf", err)
        info, err = probe_dump(out, out + ".d")
        if info is None:
            check(False, f"{name}: dump", err)
            continue
        check((info["image"]["color_type"], info["image"]["bit_depth"]) == (color_type, depth),
              f"{name}: stored as PNG colour type {color_type}, {depth} bits",
              repr(info["image"]))
        check(pixels(out)[0] == pixels(png)[0], f"{name}: pixels kept")
        env = read_bytes(os.path.join(out + ".d", "environment.json")).decode()
        check("imagemagick" in env.lower(), f"{name}: environment names ImageMagick")

    # -depth 8 on a 16-bit image
    png = os.path.join(work, "rgb16.png")
    out = os.path.join(work, "depth8.raiiaf")
    rc, _, err = magick(png, "-depth", "8", out)
    info, _ = probe_dump(out, out + ".d") if rc == 0 else (None, "")
    check(info is not None and info["image"]["bit_depth"] == 8, "-depth 8 writes 8 bits",
          text_of(err))

    # metadata from -define on a plain image
    out = os.path.join(work, "meta.raiiaf")
    rc, _, err = magick(os.path.join(work, "rgb8.png"),
                        "-define", "raiiaf:prompt=a red fox, watercolour",
                        "-define", "raiiaf:model=sdxl-turbo",
                        "-define", "raiiaf:Model-Version=1.1",  # any case
                        "-define", "raiiaf:tags=fox, red",
                        "-define", "raiiaf:seed=1234",
                        "-define", "raiiaf:steps=4",
                        "-define", "raiiaf:sampler=euler_a",
                        "-define", "raiiaf:compression-level=9", out)
    info, err2 = probe_dump(out, out + ".d") if rc == 0 else (None, "")
    if check(info is not None, "write with metadata defines", text_of(err) + err2):
        text = dict(info["text"])
        check(text.get("prompt") == "a red fox, watercolour", "define raiiaf:prompt", repr(text))
        check(text.get("model") == "sdxl-turbo", "define raiiaf:model")
        check(text.get("model-version") == "1.1", "define raiiaf:model-version")
        check(text.get("tags") == "fox, red", "define raiiaf:tags")
        check(text.get("seed") == "1234", "define raiiaf:seed")
        check(text.get("steps") == "4", "define raiiaf:steps")
        check(text.get("sampler") == "euler_a", "define raiiaf:sampler")
        rc, out_, _ = magick("identify", "-format", "%[raiiaf:prompt]", out)
        check(out_.decode() == "a red fox, watercolour", "prompt reads back through magick")

    # bad defines: an error, no output, an existing output untouched
    target = os.path.join(work, "keep.raiiaf")
    with open(target, "wb") as f:
        f.write(b"precious")
    for define in ("raiiaf:compression-level=12", "raiiaf:latent-storage=gzip",
                   "raiiaf:seed=-5"):
        rc, _, err = magick(os.path.join(work, "rgb8.png"), "-define", define, target)
        check(rc != 0 and b"raiiaf" in err and read_bytes(target) == b"precious",
              f"-define {define}: error, existing output untouched", text_of(err))
    fresh = os.path.join(work, "fresh.raiiaf")
    rc, _, err = magick(os.path.join(work, "rgb8.png"), "-define",
                        "raiiaf:compression-level=x", fresh)
    check(rc != 0 and not os.path.exists(fresh), "failed write leaves no file", text_of(err))

    # -quality as ImageMagick's PNG coder reads it: level quality / 10
    # (5: level 0, stored; 95: level 9); the define wins over it.
    png_sizes = {}
    for label, args in (("q5", ["-quality", "5"]), ("q95", ["-quality", "95"]),
                        ("q5-define9", ["-quality", "5", "-define", "raiiaf:compression-level=9"])):
        out = os.path.join(work, f"quality-{label}.raiiaf")
        rc, _, err = magick(os.path.join(work, "rgb8.png"), *args, out)
        info, err2 = probe_dump(out, out + ".d") if rc == 0 else (None, "")
        if check(info is not None, f"write {' '.join(args)}", text_of(err) + err2):
            png_sizes[label] = os.path.getsize(os.path.join(out + ".d", "image.png"))
    if len(png_sizes) == 3:
        check(png_sizes["q5"] > png_sizes["q95"], "-quality 5 stores, -quality 95 compresses",
              repr(png_sizes))
        check(png_sizes["q5-define9"] == png_sizes["q95"],
              "-define raiiaf:compression-level wins over -quality", repr(png_sizes))

    # multi-image input
    frames = os.path.join(work, "frames.miff")
    rc, _, err = magick("-size", "16x16", "xc:red", "xc:lime", "xc:blue", frames)
    assert rc == 0, text_of(err)
    out = os.path.join(work, "multi.raiiaf")
    rc, _, err = magick(frames, out)
    check(rc == 0 and os.path.exists(out) and b"first" in err,
          "adjoin: first image written with a warning", text_of(err))
    rc, out_, _ = magick(out, "-format", "%[pixel:p{0,0}]", "info:")
    check(b"red" in out_ or b"255,0,0" in out_, "adjoin: the first frame", text_of(out_))
    rc, _, err = magick(frames, "+adjoin", os.path.join(work, "frame.raiiaf"))
    names = [os.path.join(work, f"frame-{i}.raiiaf") for i in range(3)]
    check(rc == 0 and all(os.path.exists(n) for n in names), "+adjoin: one file per frame",
          text_of(err))
    if all(os.path.exists(n) for n in names):
        rc, out_, _ = magick(names[2], "-format", "%[pixel:p{0,0}]", "info:")
        check(b"blue" in out_ or b"0,0,255" in out_, "+adjoin: third file is the third frame")

    # CMYK input is converted; the image written next is still CMYK.
    cmyk = os.path.join(work, "cmyk.jpg")
    rc, _, err = magick(os.path.join(work, "rgb8.png"), "-colorspace", "CMYK", cmyk)
    out = os.path.join(work, "cmyk.raiiaf")
    after = os.path.join(work, "after.jpg")
    rc, _, err = magick(cmyk, "-write", out, after)
    info, err2 = probe_dump(out, out + ".d") if rc == 0 else (None, "")
    check(info is not None and info["image"]["color_type"] == 2, "CMYK written as RGB",
          text_of(err) + err2)
    rc, cs, _ = magick("identify", "-format", "%[colorspace]", after)
    check(text_of(cs) == "CMYK", "the caller's image keeps its colour space", text_of(cs))

    # ICC profile travels into the embedded PNG and back
    icc_candidates = ["/usr/share/color/icc/ghostscript/a98.icc",
                      "/usr/share/color/icc/ghostscript/rommrgb.icc"]
    icc = next((p for p in icc_candidates if os.path.exists(p)), None)
    if icc:
        png = os.path.join(work, "icc.png")
        rc, _, err = magick(os.path.join(work, "rgb8.png"), "-profile", icc, png)
        out = os.path.join(work, "icc.raiiaf")
        rc2, _, err2 = magick(png, out)
        rc3, got, err3 = magick(out, "icc:-")
        check(rc == rc2 == rc3 == 0 and got == read_bytes(icc),
              "ICC profile kept in the .raiiaf", text_of(err + err2 + err3))
    else:
        print("skip ICC profile check: no ICC file on this system")


# ---------------------------------------------------------------------------
# roundtrip: x.raiiaf -> edit -> y.raiiaf keeps everything
# ---------------------------------------------------------------------------
def test_roundtrip(work):
    for name in FIXTURES:
        src = fixture(name)
        a_dir, b_dir = os.path.join(work, name + ".a"), os.path.join(work, name + ".b")
        info_a, _ = probe_dump(src, a_dir)
        out = os.path.join(work, name + "-half.raiiaf")
        rc, _, err = magick(src, "-resize", "50%", out)
        if not check(rc == 0, f"{name}: magick x.raiiaf -resize 50% y.raiiaf", text_of(err)):
            continue
        ok, err = probe_verify(out)
        check(ok, f"{name}: y.raiiaf verifies", err)
        info_b, err = probe_dump(out, b_dir)
        if not check(info_b is not None, f"{name}: y.raiiaf dumps", err):
            continue
        n = len(info_a["latents"])
        check(len(info_b["latents"]) == n, f"{name}: latent count kept")
        check(latent_files(a_dir, n, "stored") == latent_files(b_dir, n, "stored"),
              f"{name}: stored latents bit for bit")
        check(latent_files(a_dir, n, "bin") == latent_files(b_dir, n, "bin"),
              f"{name}: decoded latents equal")
        check(read_bytes(os.path.join(a_dir, "environment.json")) ==
              read_bytes(os.path.join(b_dir, "environment.json")),
              f"{name}: environment kept")
        text_a = {k: v for k, v in info_a["text"] if k != "edit-history"}
        text_b = {k: v for k, v in info_b["text"] if k != "edit-history"}
        check(text_a == text_b, f"{name}: metadata kept",
              repr(set(text_a.items()) ^ set(text_b.items()))[:300])
        manifest = json.loads(read_bytes(os.path.join(b_dir, "manifest.json")))
        record = json.dumps(manifest)
        check("ImageMagick" in record and "re-encoded" in record,
              f"{name}: manifest records the re-encoding by ImageMagick")
        w, h = info_a["image"]["width"], info_a["image"]["height"]
        check((info_b["image"]["width"], info_b["image"]["height"]) ==
              ((w + 1) // 2, (h + 1) // 2), f"{name}: new size")
        # The resized image quantized to the stored depth the standard way
        # (ImageMagick's PNG writer rounds some values the other way).
        depth = str(info_b["image"]["bit_depth"])
        rc, want, err = magick(src, "-resize", "50%", "-depth", depth, "RGBA:-")
        rc2, got, err2 = magick(out, "-depth", depth, "RGBA:-")
        check(rc == rc2 == 0 and got == want,
              f"{name}: pixels are those of the resized image", text_of(err + err2))
        check(info_b["image"]["bit_depth"] == max(8, info_a["image"]["bit_depth"]),
              f"{name}: depth kept", repr((info_a["image"], info_b["image"])))
        # The embedded PNG's colour chunks survive the re-encoding. (An
        # iCCP holding the sRGB profile is taken as plain sRGB by
        # ImageMagick's PNG reader, and a pHYs without a unit carries no
        # resolution: neither reaches ImageMagick, as with a plain PNG.)
        kinds_a = {k for k, _ in png_chunks(os.path.join(a_dir, "image.png"))}
        kinds_b = {k for k, _ in png_chunks(os.path.join(b_dir, "image.png"))}
        for kind in ("sRGB", "gAMA"):
            if kind in kinds_a:
                check(kind in kinds_b, f"{name}: {kind} chunk kept", repr(sorted(kinds_b)))
    # latent storage re-encoding
    src = fixture("logo-rgba-two-latents-raw")
    a_dir = os.path.join(work, "storage.a")
    info_a, _ = probe_dump(src, a_dir)
    for storage, code in (("zfp", 2), ("raw", 1)):
        out = os.path.join(work, f"storage-{storage}.raiiaf")
        rc, _, err = magick(src, "-define", f"raiiaf:latent-storage={storage}", out)
        info_b, err2 = probe_dump(out, out + ".d") if rc == 0 else (None, "")
        if check(info_b is not None, f"latent-storage={storage} writes", text_of(err) + err2):
            check(all(l["storage"] == code for l in info_b["latents"]),
                  f"latent-storage={storage}: stored as asked", repr(info_b["latents"]))
            n = len(info_a["latents"])
            check(latent_files(a_dir, n, "bin") == latent_files(out + ".d", n, "bin"),
                  f"latent-storage={storage}: values unchanged")


# ---------------------------------------------------------------------------
# aimeta: the AI tools' PNG text through magick (PNGs built by
# tests/ai_pngs.py from each tool's layout)
# ---------------------------------------------------------------------------
def test_aimeta(work):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ai_pngs import big_workflow_png, cases, import_problems, png_texts

    for name, (data, exp) in cases().items():
        src = os.path.join(work, name + ".png")
        with open(src, "wb") as f:
            f.write(data)
        out = os.path.join(work, name + ".raiiaf")
        rc, _, err = magick(src, out)
        if not check(rc == 0, f"{name}: magick a.png x.raiiaf", text_of(err)):
            continue
        info, err = probe_dump(out, out + ".d")
        if not check(info is not None, f"{name}: x.raiiaf dumps", err):
            continue
        manifest = json.loads(read_bytes(os.path.join(out + ".d", "manifest.json")))
        manifest = manifest["raiiaf_metadata"]
        # ImageMagick's PNG reader drops a compressed iTXt: the
        # compressed iTXt parameters of this case never reach the coder.
        if name != "a1111-itxt":
            problems = import_problems(name, manifest, data, exp, same_chunks=False)
            check(not problems, f"{name}: prompt, settings and text imported", "; ".join(problems))
        # the embedded PNG carries the texts too
        embedded = {(t[1], t[5]) for t in png_texts(read_bytes(os.path.join(out + ".d", "image.png")))}
        # What ImageMagick's own PNG reader hands on: 7 drops a compressed
        # iTXt, 6 (6.9.11) every iTXt (a plain PNG -> PNG loses them too).
        wanted = {(t[1], t[5]) for t in png_texts(data)
                  if not (t[0] == "iTXt" and (t[4] or IM6))}
        check(wanted <= embedded, f"{name}: the embedded PNG holds the texts",
              repr(sorted(k for k, _ in wanted - embedded)))
        # ... and every text chunk of the PNG, byte for byte and in order
        # (type, keyword, compression, language, translated keyword, text),
        # those ImageMagick's reader drops included: the coder reads them
        # from the PNG file; the manifest records them all
        got = png_texts(read_bytes(os.path.join(out + ".d", "image.png")))
        check(got == png_texts(data), f"{name}: the embedded PNG holds every text chunk as it was",
              f"{got!r} != {png_texts(data)!r}")
        problems = import_problems(name, manifest, data, exp)
        check(not problems, f"{name}: the import records every chunk as it was", "; ".join(problems))
        # back to PNG: every text chunk of the first PNG, same keyword and text
        back = os.path.join(work, name + ".out.png")
        rc, _, err = magick(out, back)
        if not check(rc == 0, f"{name}: magick x.raiiaf b.png", text_of(err)):
            continue
        got = {(t[1], t[5]) for t in png_texts(read_bytes(back))}
        check(wanted <= got, f"{name}: b.png gives back every text chunk",
              repr(sorted(k for k, _ in wanted - got)))
        # and through a re-encoding .raiiaf -> .raiiaf
        again = os.path.join(work, name + "-half.raiiaf")
        rc, _, err = magick(out, "-resize", "50%", again)
        info2, err2 = probe_dump(again, again + ".d") if rc == 0 else (None, text_of(err))
        if check(info2 is not None, f"{name}: magick x.raiiaf -resize 50% y.raiiaf", err2):
            m2 = json.loads(read_bytes(os.path.join(again + ".d", "manifest.json")))
            m2 = m2["raiiaf_metadata"]
            check(m2.get("ai_metadata") == manifest.get("ai_metadata") and
                  m2["model_info"].get("prompt") == manifest["model_info"].get("prompt"),
                  f"{name}: the re-encoded file keeps the record and the prompt")
    aimeta_user_choices(work)
    # a large workflow: the pixels convert, nothing fails
    data, n = big_workflow_png(12 << 20)
    src = os.path.join(work, "big.png")
    with open(src, "wb") as f:
        f.write(data)
    out = os.path.join(work, "big.raiiaf")
    rc, _, err = magick(src, out)
    check(rc == 0, "12 MB workflow: magick a.png x.raiiaf", text_of(err))
    info, err = probe_dump(out, out + ".d") if rc == 0 else (None, "")
    if check(info is not None, "12 MB workflow: x.raiiaf dumps", err):
        manifest = json.loads(read_bytes(os.path.join(out + ".d", "manifest.json")))
        mi = manifest["raiiaf_metadata"]["model_info"]
        check(mi["prompt"] == cases()["comfyui"][1]["model_info"]["prompt"],
              "12 MB workflow: the API graph's prompt taken")
        # ImageMagick's reader drops a text over 8 MB; the coder does not
        got = png_texts(read_bytes(os.path.join(out + ".d", "image.png")))
        check(got == png_texts(data), "12 MB workflow: the embedded PNG keeps every chunk as it was",
              repr([(t[1], len(t[5])) for t in got]))
        rec = [c for c in manifest["raiiaf_metadata"]["ai_metadata"]["png_text"]
               if c["keyword"] == "workflow"]
        check(len(rec) == 1 and rec[0].get("in_image") is True and rec[0].get("size") == n,
              "12 MB workflow: recorded by size, in the image", repr(rec))


def aimeta_user_choices(work):
    """What the user does to the texts in the command wins over the PNG
    file's chunks: -set, +set, -strip, -define png:exclude-chunk."""
    from ai_pngs import cases, png_texts

    def convert(case, *ops):
        data = cases()[case][0]
        src = os.path.join(work, case + ".png")
        with open(src, "wb") as f:
            f.write(data)
        label = case + " " + " ".join(ops)
        out = os.path.join(work, "choice.raiiaf")
        if os.path.exists(out):
            os.unlink(out)
        rc, _, err = magick(src, *ops, out)
        dump = os.path.join(work, "choice.d")
        shutil.rmtree(dump, ignore_errors=True)
        info, err2 = probe_dump(out, dump) if rc == 0 else (None, text_of(err))
        if not check(info is not None, f"{label}: converts", err2):
            return None, None, data
        manifest = json.loads(read_bytes(os.path.join(dump, "manifest.json")))["raiiaf_metadata"]
        return png_texts(read_bytes(os.path.join(dump, "image.png"))), manifest, data

    # -strip: no text chunk, nothing imported
    got, manifest, _ = convert("comfyui", "-strip")
    if got is not None:
        check(got == [] and "ai_metadata" not in manifest and not manifest["model_info"]["prompt"],
              "-strip: no text goes out", f"{got!r} {manifest.get('ai_metadata')}")
    got, manifest, _ = convert("a1111-itxt", "-define", "png:exclude-chunk=tEXt,zTXt,iTXt")
    if got is not None:
        check(got == [] and "ai_metadata" not in manifest,
              "-define png:exclude-chunk: no text goes out", repr(got))
    # -set on a text ImageMagick read: the new text, in the chunk's kind
    new = "a dog\nSteps: 5, Sampler: Euler, CFG scale: 3, Seed: 11, Model: m2"
    got, manifest, data = convert("a1111-no-negative", "-set", "parameters", new)
    if got is not None:
        check(got == [("zTXt", "parameters", "", "", True, new)],
              "-set parameters: the user's text as zTXt", repr(got))
        check(manifest["model_info"]["prompt"] == "a dog" and
              manifest["model_info"]["generation_settings"]["seed"] == 11,
              "-set parameters: the manifest takes the user's text", repr(manifest["model_info"]))
    # -set on a compressed iTXt ImageMagick 7 cannot read (6: no iTXt at
    # all): the user's text, with the chunk's language and translated
    # keyword; the other chunk as it was
    got, manifest, data = convert("a1111-itxt", "-set", "parameters", new)
    if got is not None:
        want = [t if t[1] != "parameters" else t[:5] + (new,) for t in png_texts(data)]
        check(got == want, "-set parameters on a compressed iTXt: replaced in kind", repr(got))
    got, _, data = convert("a1111-itxt", "-set", "Title", "\u00e9t\u00e9 \u2603 2")
    if got is not None:
        want = [t if t[1] != "Title" else t[:5] + ("\u00e9t\u00e9 \u2603 2",)
                for t in png_texts(data)]
        check(got == want, "-set Title on an iTXt: replaced in kind", repr(got))
    # +set: the text goes
    got, manifest, data = convert("comfyui", "+set", "workflow")
    if got is not None:
        want = [t for t in png_texts(data) if t[1] != "workflow"]
        check(got == want, "+set workflow: left out, the prompt graph kept", repr(got))
    # a text the user adds follows the file's chunks
    got, _, data = convert("comfyui", "-set", "parameters", new)
    if got is not None:
        check(got == png_texts(data) + [("tEXt", "parameters", "", "", False, new)],
              "-set of a new AI text: after the file's chunks", repr(got))
    # the same text set again changes nothing (a text ImageMagick's -set
    # takes as it is: no backslash, no percent sign)
    old = png_texts(cases()["a1111-no-negative"][0])[0][5]
    got, _, data = convert("a1111-no-negative", "-set", "parameters", old)
    if got is not None:
        check(got == png_texts(data), "-set of the same text: the chunk as it was", repr(got))


# ---------------------------------------------------------------------------
# corrupt: every damaged file gives an error, no output, no crash
# ---------------------------------------------------------------------------
def corrupt_variants(name):
    data = read_bytes(fixture(name))
    exp = expected(name)
    size = len(data)
    variants = [("empty", b""), ("bad-magic", b"RAIIAF" + data[6:]),
                ("version-99", data[:6] + b"\x63" + data[7:]),
                ("file-size-lie", data[:21] + struct.pack("<Q", size + 100) + data[29:]),
                ("table-offset-out", data[:9] + struct.pack("<I", size + 10) + data[13:]),
                ("chunk-count-lie", data[:17] + struct.pack("<I", 200) + data[21:]),
                ("trailing-garbage", data + b"\0" * 64)]
    for cut in (3, 6, 20, 32, 33, 100, size // 3, size // 2, size - 200, size - 1):
        variants.append((f"truncated-{cut}", data[:cut]))
    chunks = [(c["type"], c["offset"], c["compressed_size"], c["compressed"])
              for c in exp["chunks"]]
    chunks.append(("META", exp["header"]["chunk_table_offset"],
                   exp["header"]["chunk_table_size"], True))
    for i, (kind, offset, length, compressed) in enumerate(chunks):
        # The last bytes of a zfp stream may be padding that no value uses
        # (the sha256 covers the decoded values): flip inside the data.
        last = length - 16 if kind == "LATN" and compressed else length - 1
        for where in (2, 5, length // 2, last):
            b = bytearray(data)
            b[offset + where] ^= 0x5A
            variants.append((f"chunk{i}-{kind}-flip{where}", bytes(b)))
    return variants


def test_corrupt(work):
    for name in ("logo-rgba-two-latents-raw", "astronaut-f32-zfp"):
        for label, data in corrupt_variants(name):
            bad = os.path.join(work, f"{name}-{label}.raiiaf")
            with open(bad, "wb") as f:
                f.write(data)
            out = os.path.join(work, "out.png")
            rc, _, err = magick(bad, out)
            crashed = rc < 0 or rc >= 128
            check(not crashed and rc != 0 and b"raiiaf" in err.lower()
                  and not os.path.exists(out),
                  f"{name} {label}: convert fails cleanly",
                  f"rc={rc} out={os.path.exists(out)} {text_of(err)[:200]}")
            if os.path.exists(out):
                os.unlink(out)
            rc, _, err = magick("identify", bad)
            check(rc >= 0 and rc < 128, f"{name} {label}: identify does not crash",
                  f"rc={rc}")
            os.unlink(bad)
    # Manifests that lie (through a valid zstd frame, so the lie is read).
    for name in ("logo-rgba-two-latents-raw", "astronaut-f32-zfp"):
        data, exp = read_bytes(fixture(name)), expected(name)
        info, err = probe_dump(fixture(name), os.path.join(work, name + ".dump"))
        manifest = json.loads(read_bytes(os.path.join(work, name + ".dump", "manifest.json")))
        for label, text in lying_manifests(name, manifest):
            bad = os.path.join(work, f"{name}-{label}.raiiaf")
            with open(bad, "wb") as f:
                f.write(with_manifest(data, exp, text))
            out = os.path.join(work, "out.png")
            rc, _, err = magick(bad, out)
            if label in TOLERATED:
                # Not a lie the library must refuse: it reads, or fails
                # cleanly, but never crashes or leaves half an output.
                check((rc == 0 and os.path.exists(out)) or
                      (0 < rc < 128 and not os.path.exists(out)),
                      f"{name} manifest {label}: read or clean failure", f"rc={rc}")
            else:
                check(0 < rc < 128 and b"raiiaf" in err and not os.path.exists(out),
                      f"{name} manifest {label}: convert fails cleanly",
                      f"rc={rc} {text_of(err)[:200]}")
            if os.path.exists(out):
                os.unlink(out)
        # The unchanged manifest through the same path still reads: the
        # failures above come from the lies, not from the rewriting.
        same = os.path.join(work, f"{name}-same-manifest.raiiaf")
        with open(same, "wb") as f:
            f.write(with_manifest(data, exp, json.dumps(manifest, indent=2).encode()))
        rc, _, err = magick(same, os.path.join(work, "same.png"))
        check(rc == 0, f"{name}: rewritten but truthful manifest reads", text_of(err))

    # A zstd frame that claims far more than it holds (a "bomb" claim).
    png = os.path.join(work, "small.png")
    magick("-size", "8x8", "xc:red", png)
    small = read_bytes(png)
    for claimed in (2 ** 33, len(small) + 12 + 1):
        crafted = bytearray(build_raiiaf(small))
        frame = zstd_raw_frame(b"DATA0000" + struct.pack("<I", len(small)) + small, claimed)
        text_start = 33 + 12 + len(small)
        manifest = json.loads(zstd_payload(bytes(crafted[text_start:]))[12:])
        record = manifest["raiiaf_metadata"]["chunks"][0]
        record.update(compressed=True, compressed_size=len(frame))
        text = json.dumps(manifest).encode()
        meta = zstd_raw_frame(b"META0000" + struct.pack("<I", len(text)) + text)
        body = frame + meta
        header = b"raiiaf" + bytes([1, 0, 0]) + struct.pack(
            "<IIIQI", 33 + len(frame), len(meta), 1, 33 + len(body), 0)
        bomb = os.path.join(work, f"bomb-{claimed}.raiiaf")
        with open(bomb, "wb") as f:
            f.write(header + body)
        rc, _, err = magick(bomb, os.path.join(work, "bomb.png"))
        check(0 < rc < 128 and b"raiiaf" in err, f"zstd frame claiming {claimed} bytes",
              f"rc={rc} {text_of(err)[:200]}")

    # A damaged latent does not stop a ping, which promises not to read it.
    data = bytearray(read_bytes(fixture("logo-rgba-two-latents-raw")))
    data[33 + 1000] ^= 0xFF
    bad = os.path.join(work, "bad-latent.raiiaf")
    with open(bad, "wb") as f:
        f.write(data)
    rc, out, err = magick("identify", bad)
    check(rc == 0 and b"500x500" in out, "ping reads no latent", text_of(err))
    rc, _, err = magick(bad, os.path.join(work, "bad.png"))
    check(rc != 0 and (b"sha256" in err.lower() or b"hash" in err.lower()),
          "a full read checks the latent and names the problem", text_of(err))
    # A hand-built file around a PNG reads; around a JPEG it is an error
    # that says the image is not PNG.
    for kind in ("png", "jpg"):
        image = os.path.join(work, "inner." + kind)
        rc, _, err = magick("-size", "20x10", "gradient:", image)
        crafted = os.path.join(work, f"crafted-{kind}.raiiaf")
        with open(crafted, "wb") as f:
            f.write(build_raiiaf(read_bytes(image)))
        out = os.path.join(work, f"crafted-{kind}.png")
        rc, _, err = magick(crafted, out)
        if kind == "png":
            check(rc == 0 and pixels(out)[0] == pixels(image)[0],
                  "hand-built file with a PNG reads", text_of(err))
        else:
            check(rc != 0 and b"png" in err.lower() and not os.path.exists(out),
                  "a DATA chunk holding JPEG is an error naming it", text_of(err))

    # policy.xml applies to our coder like any other.
    policy_dir = os.path.join(work, "policy")
    os.makedirs(policy_dir)
    with open(os.path.join(policy_dir, "policy.xml"), "w") as f:
        f.write('<policymap>\n  <policy domain="coder" rights="none" pattern="RAIIAF"/>\n'
                '</policymap>\n')
    os.environ["MAGICK_CONFIGURE_PATH"] = policy_dir
    try:
        out = os.path.join(work, "policy.png")
        rc, _, err = magick(fixture("palette-zfp"), out)
        check(rc != 0 and not os.path.exists(out) and b"policy" in err.lower(),
              "policy.xml can forbid the RAIIAF coder", text_of(err))
        # A profile size limit that would drop a latent is an error, not a
        # silent loss; without the profiles the file reads.
        with open(os.path.join(policy_dir, "policy.xml"), "w") as f:
            f.write('<policymap>\n  <policy domain="system" name="max-profile-size" '
                    'value="10000"/>\n</policymap>\n')
        rc, _, err = magick(fixture("palette-zfp"), out)
        if IM6:
            # ImageMagick 6 has no max-profile-size: nothing is dropped.
            check(rc == 0 and any(k.startswith("Raw profile type raiiaf-latent-0")
                                  for k in png_texts(out)),
                  "ImageMagick 6 (no max-profile-size) keeps the latent", text_of(err))
        else:
            check(rc != 0 and not os.path.exists(out) and b"max-profile-size" in err,
                  "a latent over max-profile-size is refused, not dropped", text_of(err))
        rc, _, err = magick("-define", "raiiaf:profiles=false", fixture("palette-zfp"), out)
        check(rc == 0 and os.path.exists(out), "... and reads without the profiles",
              text_of(err))
    finally:
        del os.environ["MAGICK_CONFIGURE_PATH"]

    # ImageMagick's resource limits apply to our reads.
    rc, _, err = magick("-limit", "width", "100", fixture("palette-zfp"),
                        os.path.join(work, "limited.png"))
    check(rc != 0 and not os.path.exists(os.path.join(work, "limited.png")),
          "-limit width applies", text_of(err))
    rc, _, err = magick("identify", "-limit", "area", "1000", fixture("palette-zfp"))
    check(rc != 0, "-limit area applies to a ping", text_of(err))
    rc, _, err = magick("-limit", "memory", "200KB", fixture("astronaut-f32-zfp"),
                        os.path.join(work, "mem.png"))
    check(rc != 0 and b"memory" in err and not os.path.exists(os.path.join(work, "mem.png")),
          "-limit memory counts the latents", text_of(err))


# ---------------------------------------------------------------------------
# exact: every 8- and 16-bit sample value comes back unchanged, written and
# read, compared with libraiiaf's own decoding (a Q16HDRI ImageMagick holds
# floats; a rounding step too many would show here)
# ---------------------------------------------------------------------------
def exact_samples(depth, channels):
    """Raw big-endian samples (ImageMagick's raw layout with -endian MSB)
    holding every value of the depth in each channel, in varied orders."""
    top = (1 << depth) - 1
    count = top + 1
    out = []
    for i in range(count):
        values = (i, top - i, (i * 40503) & top, (i * 7 + 3) & top)[:channels]
        out.extend(values)
    return struct.pack(">%d%s" % (len(out), "H" if depth == 16 else "B"), *out), count


def test_exact(work):
    for depth, channels, raw in ((8, 3, "rgb"), (8, 4, "rgba"), (16, 3, "rgb"),
                                 (16, 4, "rgba")):
        name = f"{raw}{depth}"
        data, count = exact_samples(depth, channels)
        width = 256
        height = count // width
        src = os.path.join(work, name + ".raw")
        with open(src, "wb") as f:
            f.write(data)
        out = os.path.join(work, name + ".raiiaf")
        geometry = ["-size", f"{width}x{height}", "-depth", str(depth), "-endian", "MSB"]
        rc, _, err = magick(*geometry, f"{raw}:{src}", out)
        if not check(rc == 0, f"{name}: every value written to .raiiaf", text_of(err)):
            continue
        decoded = os.path.join(work, name + ".px")
        rc, _, err = run([PROBE, "pixels", out, decoded])
        if not check(rc == 0, f"{name}: libraiiaf decodes the written file", text_of(err)):
            continue
        header, _, samples = read_bytes(decoded).partition(b"\n")
        if depth == 16:
            host = struct.unpack("=%dH" % (len(samples) // 2), samples)
            samples = struct.pack(">%dH" % len(host), *host)
        check(header.split()[:2] == [str(width).encode(), str(height).encode()]
              and samples == data,
              f"{name}: libraiiaf decodes exactly the samples given to magick",
              header.decode("ascii", "replace"))
        rc, back, err = magick(out, "-depth", str(depth), "-endian", "MSB", f"{raw}:-")
        check(rc == 0 and back == data,
              f"{name}: magick reads back exactly the samples libraiiaf stored", text_of(err))
        # Through an edit that keeps the values (a flop twice) and a second
        # write: still every value.
        again = os.path.join(work, name + "-again.raiiaf")
        rc, _, err = magick(out, "-flop", "-flop", again)
        rc2, back, err2 = (magick(again, "-depth", str(depth), "-endian", "MSB", f"{raw}:-")
                           if rc == 0 else (rc, b"", b""))
        check(rc == rc2 == 0 and back == data,
              f"{name}: read, flopped twice and written again, every value kept",
              text_of(err + err2))


# ---------------------------------------------------------------------------
# valgrind: no leak or bad access from our coder or the library
# ---------------------------------------------------------------------------
def valgrind_report(args, work, label, stdin=None):
    log = os.path.join(work, label + ".valgrind")
    rc, _, err = run(["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                      "--num-callers=40", f"--log-file={log}", *command(args)], stdin=stdin,
                     timeout=600)
    with open(log, encoding="utf-8", errors="replace") as f:
        text = f.read()
    ours = []
    current = []
    for line in text.splitlines():
        body = line.split("== ", 1)[-1] if line.startswith("==") else line
        if body.strip() == "" or not line.startswith("=="):
            if any("raiiaf" in l.lower() for l in current) and any(
                    ("definitely lost" in l or "indirectly lost" in l or "Invalid" in l
                     or "uninitialised" in l) for l in current):
                ours.append("\n".join(current))
            current = []
        else:
            current.append(body)
    return rc, ours, text_of(err)


def test_valgrind(work):
    if shutil.which("valgrind") is None:
        print("valgrind not installed: skipped")
        sys.exit(77)
    src = fixture("palette-zfp")
    cases = [
        ("read", [src, os.path.join(work, "v.png")]),
        ("write", [src, "-resize", "50%", os.path.join(work, "v.raiiaf")]),
        ("write-new", ["-size", "32x32", "gradient:", "-define", "raiiaf:prompt=x",
                       "-define", "raiiaf:latent-storage=raw", os.path.join(work, "n.raiiaf")]),
        ("corrupt", [os.path.join(work, "corrupt.raiiaf"), os.path.join(work, "c.png")]),
        ("stdin", ["raiiaf:-", os.path.join(work, "s.png")]),
        ("ping", ["identify", src]),
    ]
    data = bytearray(read_bytes(src))
    data[40] ^= 0xFF
    with open(os.path.join(work, "corrupt.raiiaf"), "wb") as f:
        f.write(data)
    for label, args in cases:
        rc, ours, err = valgrind_report(args, work, label,
                                        read_bytes(src) if label == "stdin" else None)
        check(rc == 0 or label == "corrupt", f"valgrind {label}: magick ran", err)
        check(not ours, f"valgrind {label}: no leak or bad access in raiiaf code",
              "\n\n".join(ours)[:3000])
        with open(os.path.join(work, label + ".valgrind"), encoding="utf-8",
                  errors="replace") as f:
            log = f.read()
        # ImageMagick itself is clean here, so any loss or error counts.
        check("definitely lost: 0 bytes" in log or "no leaks are possible" in log,
              f"valgrind {label}: nothing definitely lost", log[-1500:])
        check("ERROR SUMMARY: 0 errors" in log, f"valgrind {label}: no memory errors",
              log[-1500:])


GROUPS = {
    "fixtures": test_fixtures,
    "exact": test_exact,
    "commands": test_commands,
    "write": test_write,
    "roundtrip": test_roundtrip,
    "corrupt": test_corrupt,
    "valgrind": test_valgrind,
    "aimeta": test_aimeta,
}


def main():
    global PROBE, TOOL, FIXTURES_DIR
    if len(sys.argv) != 2 or sys.argv[1] not in GROUPS:
        print(f"usage: {sys.argv[0]} {'|'.join(GROUPS)}", file=sys.stderr)
        return 2
    PROBE = os.environ["RAIIAF_IM_PROBE"]
    TOOL = os.environ.get("RAIIAF_TOOL") or None
    FIXTURES_DIR = os.environ["RAIIAF_FIXTURES"]
    if shutil.which(command(["convert"])[0]) is None:
        print("%s not found: skipped" % command(["convert"])[0])
        return 77
    with tempfile.TemporaryDirectory(prefix="raiiaf-im-") as work:
        # A throwaway HOME so that no user configuration or cache interferes.
        for var in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
            os.environ[var] = os.path.join(work, "home")
        os.makedirs(os.path.join(work, "home"))
        os.environ.pop("MAGICK_CONFIGURE_PATH", None)
        abi = os.environ.get("RAIIAF_IM_ABI")
        if abi and not IM6:
            # "Version: ImageMagick 7.1.1-43 Q16-HDRI x86_64 ...": the third
            # word names the build, which a coder must match to load.
            rc, out, err = magick("-version")
            words = text_of(out).split()
            check(rc == 0 and len(words) > 3 and words[3].replace("-", "") == abi,
                  f"{MAGICK} is ImageMagick's {abi} build", text_of(out)[:200])
        rc, out, err = magick("identify", "-format", "%m", fixture("palette-zfp"))
        if not check(rc == 0 and text_of(out) == "RAIIAF", "magick loads the raiiaf coder",
                     text_of(err)):
            return 1
        GROUPS[sys.argv[1]](work)
    print(f"{checks - len(failures)}/{checks} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
