#!/usr/bin/python3
"""Tests of the `raiiaf` tool, run through the real program.

    tool_tests.py RAIIAF FIXTURES_DIR GROUP

GROUP is one of: fixtures, roundtrip, usage, corrupt, hostile-keys,
hostile-npy, crafted. Each group is one meson test (suite `tools`). Fixtures are the
reference files in FIXTURES_DIR with their NAME.expected.json.
"""
import glob
import hashlib
import json
import os
import shutil
import struct
import zlib
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from corruptions import corruptions  # noqa: E402

TOOL, FIXTURES, GROUP = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def run(*args, timeout=120):
    """Runs the tool; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run([TOOL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def expect_rc(want, *args):
    rc, out, err = run(*args)
    check(rc == want, f"raiiaf {' '.join(args)}: exit {rc}, expected {want}\n"
                      f"stdout: {out[-2000:]}\nstderr: {err[-2000:]}")
    return rc, out, err


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fixtures():
    paths = sorted(glob.glob(os.path.join(FIXTURES, "*.raiiaf")))
    if not paths:
        fail(f"no fixtures in {FIXTURES}")
    for path in paths:
        with open(path[: -len(".raiiaf")] + ".expected.json") as f:
            yield path, json.load(f)


def latent_records(expected):
    return [c for c in expected["chunks"] if c["type"] == "LATN"]


def info_json(path):
    rc, out, err = expect_rc(0, "info", "--json", path)
    lines = out.splitlines()
    check(len(lines) == 1, f"info --json {path}: {len(lines)} lines, expected 1")
    return json.loads(lines[0]) if lines else {}


def load_npy(path):
    arr = np.load(path, allow_pickle=False)
    return arr


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder)
                  for d, _, fs in os.walk(folder) for f in fs)


# ---- fixtures: every reference file through info, verify and extract ------

def check_extracted(folder, expected, name):
    """The extracted folder matches what the reference decoder returned."""
    with open(os.path.join(folder, "image.png"), "rb") as f:
        check(sha256(f.read()) == expected["image_sha256"], f"{name}: image sha256")
    for rec, want in zip(latent_records(expected), expected["latents"]):
        key = rec["extra"]["key"]
        arr = load_npy(os.path.join(folder, "latents", key + ".npy"))
        check(list(arr.shape) == want["shape"], f"{name}/{key}: shape {arr.shape}")
        check(arr.dtype == np.dtype(want["dtype"]), f"{name}/{key}: dtype {arr.dtype}")
        check(arr.dtype.byteorder in "<=|", f"{name}/{key}: byte order")
        check(sha256(np.ascontiguousarray(arr).tobytes()) == want["sha256"],
              f"{name}/{key}: latent sha256")
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)["raiiaf_metadata"]
    check(manifest["model_info"] == expected["model_info"], f"{name}: manifest.json model_info")
    check(manifest["chunks"] == expected["chunks"], f"{name}: manifest.json chunks")
    with open(os.path.join(folder, "env.json")) as f:
        env = json.load(f)
    check(isinstance(env.get("components"), list), f"{name}: env.json components")


def group_fixtures(tmp):
    for path, expected in fixtures():
        name = os.path.basename(path)
        doc = info_json(path)
        check(doc.get("file") == path, f"{name}: info file")
        hdr = dict(expected["header"])
        hdr.pop("magic")
        check(doc.get("header") == hdr, f"{name}: info header {doc.get('header')}")
        check(doc.get("model_info") == expected["model_info"], f"{name}: info model_info")
        check(doc.get("manifest", {}).get("raiiaf_metadata", {}).get("model_info")
              == expected["model_info"], f"{name}: info manifest")
        recs = latent_records(expected)
        got = doc.get("latents", [])
        check(len(got) == len(recs), f"{name}: {len(got)} latents")
        for g, rec, want in zip(got, recs, expected["latents"]):
            check(g["key"] == rec["extra"]["key"], f"{name}: latent key {g['key']}")
            check(g["shape"] == want["shape"], f"{name}: latent shape {g['shape']}")
            check(g["dtype"] == want["dtype"], f"{name}: latent dtype {g['dtype']}")
            check(g["storage"] == ("zfp" if rec["compressed"] else "raw"),
                  f"{name}: latent storage {g['storage']}")
            check(g["stored_bytes"] == rec["compressed_size"], f"{name}: stored bytes")
            check(g["bytes"] == rec["uncompressed_size"], f"{name}: bytes")
        data = [c for c in expected["chunks"] if c["type"] == "DATA"][0]
        check(doc.get("image", {}).get("bytes") == data["uncompressed_size"], f"{name}: image bytes")
        check("errors" not in doc, f"{name}: info errors {doc.get('errors')}")

        # The readable summary names the model, the prompt's first line and
        # each latent key.
        rc, out, _ = expect_rc(0, "info", path)
        check(expected["model_info"]["model_name"] in out, f"{name}: info shows the model")
        for rec in recs:
            check(rec["extra"]["key"] in out, f"{name}: info shows latent {rec['extra']['key']}")

        rc, out, _ = expect_rc(0, "verify", path)
        check(out == f"{path}: ok\n", f"{name}: verify printed {out!r}")

        folder = os.path.join(tmp, name)
        expect_rc(0, "extract", path, "-o", folder)
        check_extracted(folder, expected, name)

    # Several files at once: one document / one line each.
    paths = [p for p, _ in fixtures()]
    rc, out, _ = expect_rc(0, "info", "--json", *paths)
    docs = [json.loads(line) for line in out.splitlines()]
    check([d["file"] for d in docs] == paths, "info --json on several files")
    rc, out, _ = expect_rc(0, "info", "--json", "--pretty", paths[0])
    check(json.loads(out)["file"] == paths[0], "info --json --pretty")
    rc, out, _ = expect_rc(0, "verify", *paths)
    check(out.count(": ok\n") == len(paths), "verify on several files")


# ---- roundtrip: extract, pack, extract gives the same things --------------

def pack_args(folder, out, keys, extra=()):
    args = ["pack", "-o", out, "--image", os.path.join(folder, "image.png"),
            "--metadata", os.path.join(folder, "manifest.json"),
            "--env", os.path.join(folder, "env.json"), *extra]
    for key in keys:
        args += ["--latent", f"{key}={os.path.join(folder, 'latents', key + '.npy')}"]
    return args


def same_folders(a, b, name, same_manifest_chunks=False):
    for f in ("image.png", "env.json"):
        with open(os.path.join(a, f), "rb") as x, open(os.path.join(b, f), "rb") as y:
            check(x.read() == y.read(), f"{name}: {f} differs after a round trip")
    la = sorted(os.listdir(os.path.join(a, "latents"))) if os.path.isdir(os.path.join(a, "latents")) else []
    lb = sorted(os.listdir(os.path.join(b, "latents"))) if os.path.isdir(os.path.join(b, "latents")) else []
    check(la == lb, f"{name}: latent files {la} vs {lb}")
    for f in la:
        x, y = load_npy(os.path.join(a, "latents", f)), load_npy(os.path.join(b, "latents", f))
        check(x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(),
              f"{name}: latent {f} differs after a round trip")
    with open(os.path.join(a, "manifest.json")) as x, open(os.path.join(b, "manifest.json")) as y:
        ma, mb = json.load(x)["raiiaf_metadata"], json.load(y)["raiiaf_metadata"]
    check(ma["model_info"] == mb["model_info"], f"{name}: model_info differs after a round trip")
    extra_a = {k: v for k, v in ma.items() if k not in ("file_info", "chunks")}
    extra_b = {k: v for k, v in mb.items() if k not in ("file_info", "chunks")}
    check(extra_a == extra_b, f"{name}: manifest keys differ: {extra_a.keys()} vs {extra_b.keys()}")


def group_roundtrip(tmp):
    for path, expected in fixtures():
        name = os.path.basename(path)
        keys = [r["extra"]["key"] for r in latent_records(expected)]
        first = os.path.join(tmp, name + ".1")
        expect_rc(0, "extract", path, "-o", first)
        for storage in ("auto", "raw", "zfp"):
            packed = os.path.join(tmp, f"{name}.{storage}.raiiaf")
            expect_rc(0, *pack_args(first, packed, keys, ["--latent-storage", storage]))
            rc, out, _ = expect_rc(0, "verify", packed)
            second = os.path.join(tmp, f"{name}.{storage}.2")
            expect_rc(0, "extract", packed, "-o", second)
            same_folders(first, second, f"{name} ({storage})")
            check_extracted(second, dict(expected, chunks=json.load(
                open(os.path.join(second, "manifest.json")))["raiiaf_metadata"]["chunks"]),
                f"{name} re-packed ({storage})")
            doc = info_json(packed)
            if storage != "auto":
                check(all(l["storage"] == storage for l in doc["latents"]),
                      f"{name}: --latent-storage {storage} gave {[l['storage'] for l in doc['latents']]}")
            # No larger than the reference for the same pixels and latents.
            if storage == "auto":
                check(os.path.getsize(packed) <= os.path.getsize(path) + 256,
                      f"{name}: re-packed file is {os.path.getsize(packed)} bytes, the reference's "
                      f"{os.path.getsize(path)}")

    # model_info alone as --metadata, no --env, latents from np.save in
    # several header versions and both dtypes.
    path, expected = next(iter(fixtures()))
    folder = os.path.join(tmp, "np")
    os.makedirs(folder)
    meta = os.path.join(folder, "model_info.json")
    with open(meta, "w") as f:
        json.dump(expected["model_info"], f)
    rng = np.random.default_rng(5)
    arrays = {
        "f32": rng.standard_normal((1, 4, 8, 8)).astype(np.float32),
        "f16": rng.standard_normal((1, 4, 8, 8)).astype(np.float16),
        "v2": rng.standard_normal((2, 4, 8, 4)).astype(np.float32),
        "native": rng.standard_normal((1, 4, 4, 4)).astype("=f4"),
    }
    latent_args = []
    for key, arr in arrays.items():
        p = os.path.join(folder, key + ".npy")
        if key == "v2":
            with open(p, "wb") as f:
                np.lib.format.write_array(f, arr, version=(2, 0))
        else:
            np.save(p, arr)
        latent_args += ["--latent", f"{key}={p}"]
    image = os.path.join(tmp, os.path.basename(path) + ".1", "image.png")
    out = os.path.join(folder, "new.raiiaf")
    expect_rc(0, "pack", "-o", out, "--image", image, "--metadata", meta, *latent_args)
    expect_rc(0, "verify", out)
    doc = info_json(out)
    check(doc["model_info"]["prompt"] == expected["model_info"]["prompt"], "model_info-only metadata")
    check(doc.get("environment") is not None, "pack without --env records an environment")
    back = os.path.join(folder, "back")
    expect_rc(0, "extract", out, "-o", back)
    for key, arr in arrays.items():
        got = load_npy(os.path.join(back, "latents", key + ".npy"))
        check(got.dtype == arr.dtype.newbyteorder("<") and got.shape == arr.shape
              and got.tobytes() == arr.astype(arr.dtype.newbyteorder("<")).tobytes(),
              f"np.save latent {key} changed")
    # A key taken from the file name when there is no KEY=.
    out2 = os.path.join(folder, "bare.raiiaf")
    expect_rc(0, "pack", "-o", out2, "--image", image, "--latent", os.path.join(folder, "f16.npy"))
    check([l["key"] for l in info_json(out2)["latents"]] == ["f16"], "--latent FILE.npy key")

    # --compression re-encodes the pixels (the file still verifies and the
    # image decodes to the same size).
    out3 = os.path.join(folder, "recompressed.raiiaf")
    expect_rc(0, "pack", "-o", out3, "--image", image, "--compression", "9")
    expect_rc(0, "verify", out3)
    a, b = info_json(out)["image"], info_json(out3)["image"]
    check((a["width"], a["height"]) == (b["width"], b["height"]), "--compression keeps the size")

    # Refusals that keep existing files as they were.
    before = open(out, "rb").read()
    rc, _, err = expect_rc(1, "pack", "-o", out, "--image", image)
    check("exists" in err and out in err, f"pack over an existing file: {err!r}")
    check(open(out, "rb").read() == before, "pack changed an existing file without --force")
    expect_rc(0, "pack", "-o", out, "--image", image, "--force")
    check(open(out, "rb").read() != before, "pack --force did not replace the file")
    manifest = os.path.join(back, "manifest.json")
    before = open(manifest, "rb").read()
    with open(manifest, "wb") as f:
        f.write(b"changed")
    rc, _, err = expect_rc(1, "extract", out, "-o", back)
    check("exists" in err, f"extract over existing files: {err!r}")
    check(open(manifest, "rb").read() == b"changed", "extract replaced a file without --force")
    expect_rc(0, "extract", "--force", out, "-o", back + "/")
    rc, _, err = expect_rc(1, "extract", out, "-o", manifest)
    check("not a folder" in err, f"extract into a file: {err!r}")
    check(open(manifest, "rb").read() != b"changed", "extract --force did not replace the file")


# ---- usage: exit 2 for a wrong command line, 0 for help --------------------

def group_usage(tmp):
    fx = next(iter(fixtures()))[0]
    npy = os.path.join(tmp, "x.npy")
    np.save(npy, np.zeros((1, 4, 2, 2), np.float32))
    png = os.path.join(tmp, "x.png")
    with open(png, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
    usage = [
        [],
        ["frobnicate"],
        ["--bogus"],
        ["info"],
        ["info", "--bogus", fx],
        ["info", "--pretty", fx],
        ["verify"],
        ["verify", "-x", fx],
        ["extract", fx],
        ["extract", "-o"],
        ["extract", "-o", tmp],
        ["extract", fx, fx, "-o", tmp],
        ["pack", "--image", png],
        ["pack", "-o", os.path.join(tmp, "o.raiiaf")],
        ["pack", "-o", os.path.join(tmp, "o.raiiaf"), "--image", png, "stray"],
        ["pack", "-o", os.path.join(tmp, "o.raiiaf"), "--image", png, "--latent-storage", "lzma"],
        ["pack", "-o", os.path.join(tmp, "o.raiiaf"), "--image", png, "--compression", "12"],
        ["pack", "-o", os.path.join(tmp, "o.raiiaf"), "--image", png, "--compression", "x"],
        ["pack", "-o", os.path.join(tmp, "o.raiiaf"), "--image", png, "--latent", f"={npy}"],
        ["pack", "-o", os.path.join(tmp, "o.raiiaf"), "--image", png, "--latent", "k="],
        ["pack", "-o", os.path.join(tmp, "o.raiiaf"), "--image", png,
         "--latent", f"k={npy}", "--latent", f"k={npy}"],
    ]
    for args in usage:
        rc, out, err = expect_rc(2, *args)
        check(err.strip() != "", f"raiiaf {' '.join(args)}: no message on stderr")
    check(not os.path.exists(os.path.join(tmp, "o.raiiaf")), "a usage error wrote a file")
    for args in (["--help"], ["help"], ["help", "pack"], ["info", "--help"], ["verify", "-h"],
                 ["extract", "--help"], ["pack", "--help"]):
        rc, out, _ = expect_rc(0, *args)
        check("Usage:" in out, f"raiiaf {' '.join(args)}: no usage text")
    rc, out, _ = expect_rc(0, "--version")
    check(out.startswith("raiiaf ") and "libraiiaf" in out, f"--version: {out!r}")


# ---- corrupt: exit 1 naming the file, nothing written ----------------------

def group_corrupt(tmp):
    missing = os.path.join(tmp, "no-such-file.raiiaf")
    for cmd in (["info"], ["info", "--json"], ["verify"], ["extract", "-o", os.path.join(tmp, "m")]):
        rc, out, err = expect_rc(1, *cmd, missing)
        check(missing in out + err, f"{cmd[0]} on a missing file does not name it")
    check(not os.path.exists(os.path.join(tmp, "m")), "extract of a missing file made a folder")
    rc, out, err = expect_rc(1, "pack", "-o", os.path.join(tmp, "p.raiiaf"), "--image", missing)
    check(missing in err and not os.path.exists(os.path.join(tmp, "p.raiiaf")),
          "pack with a missing image")

    good = None
    count = 0
    for path, expected in fixtures():
        good = good or path
        name = os.path.basename(path)[: -len(".raiiaf")]
        if not name.startswith(("logo", "astronaut", "camera")):
            continue
        zfp_ends = {f"flip-LATN{c['index']}-end" for c in expected["chunks"]
                    if c["type"] == "LATN" and c["compressed"]}
        for label, data in corruptions(path, expected):
            bad = os.path.join(tmp, f"{name}-{label}.raiiaf")
            with open(bad, "wb") as f:
                f.write(data)
            count += 1
            if label in zfp_ends and run("verify", bad)[0] == 0:
                # The last bits of a zfp stream can be padding: a flip there
                # is harmless only if every payload still decodes exactly.
                folder = os.path.join(tmp, f"x-{name}-{label}")
                expect_rc(0, "extract", bad, "-o", folder)
                check_extracted(folder, expected, f"{name} {label}")
                os.unlink(bad)
                continue
            rc, out, err = expect_rc(1, "verify", bad)
            check(out.startswith(f"{bad}: error: ") and len(out.strip()) > len(bad) + 9,
                  f"verify {label}: {out!r}")
            folder = os.path.join(tmp, f"x-{name}-{label}")
            rc, out, err = expect_rc(1, "extract", bad, "-o", folder)
            check(bad in err, f"extract {label} does not name the file: {err!r}")
            check(not os.path.exists(folder) or not files_under(folder),
                  f"extract {label} left files: {files_under(folder)}")
            # info reads no latent payloads: it may succeed, but never crashes
            # and names the file when it fails.
            # It does read the image and the environment, so damage there or
            # in the header and manifest must show.
            must_fail = not label.startswith(("flip-LATN", "truncated-in-LATN"))
            for cmd in (["info"], ["info", "--json"]):
                rc, out, err = run(*cmd, bad)
                check(rc == 1 if must_fail else rc in (0, 1), f"{' '.join(cmd)} {label}: exit {rc}")
                if label.startswith("flip-ENVC") and rc == 1:
                    check("ENVC" in err, f"{' '.join(cmd)} {label}: the message does not name the "
                                         f"chunk: {err!r}")
                if rc == 1:
                    check(bad in err, f"{' '.join(cmd)} {label} does not name the file: {err!r}")
                if cmd[-1] == "--json" and out:
                    for line in out.splitlines():
                        json.loads(line)
            os.unlink(bad)
    check(count > 50, f"only {count} corrupt files were made")

    # A good file among bad ones: every file is reported, exit 1.
    not_raiiaf = os.path.join(tmp, "image.png")
    folder = os.path.join(tmp, "good")
    expect_rc(0, "extract", good, "-o", folder)
    shutil.copy(os.path.join(folder, "image.png"), not_raiiaf)
    rc, out, err = expect_rc(1, "verify", good, not_raiiaf, missing)
    lines = out.splitlines()
    check(lines[0] == f"{good}: ok" and lines[1].startswith(f"{not_raiiaf}: error:")
          and lines[2].startswith(f"{missing}: error:"), f"verify of mixed files: {out!r}")
    rc, out, err = expect_rc(1, "verify", "-q", good, not_raiiaf)
    check(out.startswith(f"{not_raiiaf}: error:") and good not in out, f"verify -q: {out!r}")
    rc, out, err = expect_rc(1, "info", "--json", good, missing)
    docs = [json.loads(line) for line in out.splitlines()]
    check(len(docs) == 2 and "error" in docs[1] and docs[1]["file"] == missing,
          f"info --json error document: {out!r}")


# ---- hostile latent keys ---------------------------------------------------

HOSTILE_KEYS = ["../escape", "a/b", "/abs", ".hidden", "..", ".", "x\ty\x1b[31m", "a_b",
                "dup", "ok-key.1", "é", "k" * 300]


def safe_name(key):
    ok = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+")
    name = "".join(c if c in ok else "_" for c in key[:200]) if key.isascii() else None
    return name


def group_hostile_keys(tmp):
    path = next(iter(fixtures()))[0]
    src = os.path.join(tmp, "src")
    expect_rc(0, "extract", path, "-o", src)
    rng = np.random.default_rng(1)
    args = []
    arrays = []
    for i, key in enumerate(HOSTILE_KEYS):
        arr = rng.standard_normal((1, 4, 4, 4)).astype(np.float32)
        p = os.path.join(tmp, f"k{i}.npy")
        np.save(p, arr)
        arrays.append(arr)
        args += ["--latent", f"{key}={p}"]
    out = os.path.join(tmp, "keys.raiiaf")
    rc, _, err = run("pack", "-o", out, "--image", os.path.join(src, "image.png"), *args)
    if rc != 0:
        # The library may refuse such keys when writing; then there is
        # nothing to extract, and the refusal must be clean.
        check(rc == 1 and not os.path.exists(out), f"pack with hostile keys: exit {rc} {err!r}")
        return
    keys = [l["key"] for l in info_json(out)["latents"]]
    check(keys == HOSTILE_KEYS, f"keys stored as {keys}")

    arena = os.path.join(tmp, "arena")
    folder = os.path.join(arena, "inside")
    os.makedirs(arena)
    rc, _, err = expect_rc(0, "extract", out, "-o", folder)
    written = files_under(arena)
    check(all(w.startswith("inside/") for w in written), f"files outside the folder: {written}")
    latents = [w for w in written if w.startswith("inside/latents/")]
    check(len(latents) == len(HOSTILE_KEYS), f"{len(latents)} latent files: {latents}")
    for w in latents:
        base = os.path.basename(w)
        check(not base.startswith(".") and base.endswith(".npy") and len(base) <= 255,
              f"unsafe latent file name {base!r}")
    check("\x1b" not in err, "a warning printed a raw escape character")
    for i, key in enumerate(HOSTILE_KEYS):
        safe = safe_name(key)
        if safe == key and not key.startswith("."):
            check(os.path.exists(os.path.join(folder, "latents", key + ".npy")),
                  f"safe key {key!r} not kept")
        else:
            check(f"latent {i} key" in err, f"no warning for key {key!r}: {err!r}")
    # Every array came out once, under some name.
    got = sorted(load_npy(os.path.join(arena, w)).tobytes() for w in latents)
    check(got == sorted(a.tobytes() for a in arrays), "latent contents after sanitising")


# ---- hostile .npy inputs ---------------------------------------------------

def npy_bytes(header, data=b"", major=1, header_len=None):
    h = header.encode("latin-1")
    n = len(h) if header_len is None else header_len
    prefix = b"\x93NUMPY" + bytes([major, 0]) + (struct.pack("<H", n) if major == 1
                                                   else struct.pack("<I", n))
    return prefix + h + data


def group_hostile_npy(tmp):
    path = next(iter(fixtures()))[0]
    src = os.path.join(tmp, "src")
    expect_rc(0, "extract", path, "-o", src)
    image = os.path.join(src, "image.png")
    ok_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 2, 2), }\n"
    zeros = bytes(64)
    cases = {
        "empty": b"",
        "bad-magic": b"\x93NUMPX\x01\x00" + struct.pack("<H", len(ok_header)) + ok_header.encode() + zeros,
        "version-9": npy_bytes(ok_header, zeros, major=9),
        "header-len-huge": npy_bytes(ok_header, zeros, major=2, header_len=0xFFFFFFF0),
        "header-truncated": npy_bytes(ok_header, b"", header_len=len(ok_header) + 500),
        "data-short": npy_bytes(ok_header, zeros[:63]),
        "data-long": npy_bytes(ok_header, zeros + b"x"),
        "shape-overflow": npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (4294967296, 4294967296, 4294967296, 2), }\n", zeros),
        "shape-huge": npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (100000, 100000, 100000, 100000), }\n", zeros),
        "shape-negative": npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }\n", zeros),
        "shape-9-dims": npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                  "'shape': (1,1,1,1,1,1,1,1,16), }\n", zeros),
        "big-endian": npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 4, 2, 2), }\n", zeros),
        "float64": npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 4, 2, 1), }\n", zeros),
        "int32": npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 4, 2, 2), }\n", zeros),
        "object": npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (1, 4, 2, 2), }\n", zeros),
        "structured": npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (16,), }\n", zeros),
        "fortran": npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 4, 2, 2), }\n", zeros),
        "not-a-dict": npy_bytes("__import__('os').system('false')\n", zeros),
        "extra-key": npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (16,), 'x': 1}\n", zeros),
        "missing-shape": npy_bytes("{'descr': '<f4', 'fortran_order': False}\n", zeros),
        "nan": npy_bytes(ok_header, struct.pack("<16f", *([float("nan")] * 16))),
    }
    out = os.path.join(tmp, "out")
    os.makedirs(out)
    for label, data in cases.items():
        p = os.path.join(tmp, label + ".npy")
        with open(p, "wb") as f:
            f.write(data)
        target = os.path.join(out, label + ".raiiaf")
        rc, _, err = expect_rc(1, "pack", "-o", target, "--image", image, "--latent", f"k={p}")
        check(p in err, f"{label}: the message does not name the .npy: {err!r}")
        check(len(err.strip().splitlines()) >= 1 and len(err) < 2000, f"{label}: message {err!r}")
    check(files_under(out) == [], f"failed packs left files: {files_under(out)}")
    # A folder and a device are not .npy files.
    expect_rc(1, "pack", "-o", os.path.join(out, "d.raiiaf"), "--image", image, "--latent", f"k={tmp}")
    expect_rc(1, "pack", "-o", os.path.join(out, "d.raiiaf"), "--image", image,
              "--latent", "k=/dev/zero")
    # Bad metadata and environment JSON are refused too.
    bad_json = os.path.join(tmp, "bad.json")
    with open(bad_json, "w") as f:
        f.write("{\"model_name\": ")
    for opt in ("--metadata", "--env"):
        rc, _, err = expect_rc(1, "pack", "-o", os.path.join(out, "j.raiiaf"), "--image", image,
                               opt, bad_json)
        check(bad_json in err, f"{opt} with bad JSON: {err!r}")
    # Not a PNG as --image.
    rc, _, err = expect_rc(1, "pack", "-o", os.path.join(out, "i.raiiaf"), "--image", bad_json)
    check(bad_json in err, f"--image that is not a PNG: {err!r}")
    check(files_under(out) == [], f"failed packs left files: {files_under(out)}")

# ---- crafted: files written here, byte by byte, with what our writer
# would never produce (hostile keys, duplicate keys, a non-PNG image) ------

def zstd_raw_frame(data):
    """A zstd frame of raw (stored) blocks with its content size, which
    any zstd decoder reads; enough to build test files without zstd."""
    n = len(data)
    if n < 256:
        fcs_flag, fcs = 0, bytes([n])
    elif n < 65536 + 256:
        fcs_flag, fcs = 1, struct.pack("<H", n - 256)
    else:
        fcs_flag, fcs = 2, struct.pack("<I", n)
    out = bytearray(struct.pack("<I", 0xFD2FB528) + bytes([fcs_flag << 6 | 1 << 5]) + fcs)
    pos = 0
    while True:
        block = data[pos:pos + 131072]
        pos += len(block)
        last = pos >= n
        out += struct.pack("<I", len(block) << 3 | int(last))[:3] + block
        if last:
            return bytes(out)


def craft(image, latents, model_info=None, env=None):
    """A .raiiaf laid out as the format describes: raw LATN chunks, then
    DATA, ENVC and META as zstd frames."""
    body, records = bytearray(), []
    off = 33
    for key, arr in latents:
        flags = {"float32": b"F32\0", "float16": b"F16\0"}[str(arr.dtype)]
        payload = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        chunk = b"LATN" + flags + struct.pack("<I", len(payload)) + payload
        records.append({"index": len(records), "type": "LATN", "flags": flags[:3].decode(),
                        "offset": off, "compressed_size": len(chunk),
                        "uncompressed_size": len(payload), "hash": sha256(payload),
                        "extra": {"shape": list(arr.shape), "dtype": str(arr.dtype), "key": key},
                        "compressed": False, "len_header": 12, "len_data": len(payload)})
        body += chunk
        off += len(chunk)
    env = env if env is not None else json.dumps({"env_version": 1, "components": []}, indent=2).encode()
    for kind, payload in (("DATA", image), ("ENVC", env)):
        chunk = zstd_raw_frame(kind.encode() + b"0000" + struct.pack("<I", len(payload)) + payload)
        records.append({"index": len(records), "type": kind, "flags": "0000", "offset": off,
                        "compressed_size": len(chunk), "uncompressed_size": len(payload),
                        "hash": sha256(payload), "extra": {}, "compressed": True,
                        "len_header": None, "len_data": None})
        body += chunk
        off += len(chunk)
    model_info = model_info or {"model_name": "crafted", "version": "1", "date": "2026-01-01T00:00:00",
                                "prompt": "p", "tags": []}
    manifest = {"raiiaf_metadata": {
        "file_info": {"magic": "raiiaf", "version_major": 1, "version_minor": 0,
                      "file_size": 0, "chunk_count": len(records)},
        "model_info": model_info, "chunks": records}}
    text = json.dumps(manifest, indent=2).encode()
    meta = zstd_raw_frame(b"META0000" + struct.pack("<I", len(text)) + text)
    total = 33 + len(body) + len(meta)
    header = struct.pack("<6sBBBIIIQI", b"raiiaf", 1, 0, 0, off, len(meta), len(records), total, 0)
    return header + bytes(body) + meta


def check_hostile_keys(tmp, label, png, keys, arrays, must_open):
    path = os.path.join(tmp, label + ".raiiaf")
    with open(path, "wb") as f:
        f.write(craft(png, list(zip(keys, arrays))))
    arena = os.path.join(tmp, "arena-" + label)
    folder = os.path.join(arena, "out")
    os.makedirs(arena)
    rc, out, err = run("extract", path, "-o", folder)
    check(rc == 0 if must_open else rc in (0, 1), f"extract of {label} keys: exit {rc} {err!r}")
    check("\x1b" not in err and "\x07" not in err, "raw control characters in messages")
    written = files_under(arena)
    check(all(w.startswith("out/") for w in written), f"files outside the folder: {written}")
    if rc == 0:
        latents = [w for w in written if w.startswith("out/latents/")]
        check(len(latents) == len(keys), f"{len(latents)} latent files for {len(keys)} keys")
        check(all(not os.path.basename(w).startswith(".") for w in latents), f"hidden files {latents}")
        def safe(key):
            return key and key.isascii() and not key.startswith(".") and \
                all(c.isalnum() or c in "._+-" for c in key)
        for key in filter(safe, keys):
            check(os.path.exists(os.path.join(folder, "latents", key + ".npy")),
                  f"safe key {key!r} not kept")
        check(err.count("warning") >= sum(1 for k in keys if not safe(k)), f"warnings: {err!r}")
        got = sorted(load_npy(os.path.join(arena, w)).tobytes() for w in latents)
        check(got == sorted(a.tobytes() for a in arrays), "latent contents")
    else:
        check(written == [], f"a refused file left {written}")
        check(path in err, f"refusal does not name the file: {err!r}")
    for cmd in (["info"], ["info", "--json"], ["verify"]):
        rc, out, err = run(*cmd, path)
        check(rc == 0 if must_open else rc in (0, 1), f"{cmd} on {label} keys: exit {rc}")
        check("\x1b" not in out + err and "\x07" not in out + err,
              f"{cmd}: raw control characters in the output")


def group_crafted(tmp):
    fx = next(iter(fixtures()))[0]
    src = os.path.join(tmp, "src")
    expect_rc(0, "extract", fx, "-o", src)
    png = open(os.path.join(src, "image.png"), "rb").read()
    rng = np.random.default_rng(3)

    def latent(dtype=np.float32):
        return rng.standard_normal((1, 4, 4, 4)).astype(dtype)

    # The crafting itself is right: a plain crafted file is good.
    plain = os.path.join(tmp, "plain.raiiaf")
    arr = latent()
    with open(plain, "wb") as f:
        f.write(craft(png, [("noise", arr), ("half", latent(np.float16))]))
    rc, out, _ = expect_rc(0, "verify", plain)
    expect_rc(0, "extract", plain, "-o", os.path.join(tmp, "plain"))
    check(load_npy(os.path.join(tmp, "plain", "latents", "noise.npy")).tobytes() == arr.tobytes(),
          "crafted latent")

    # Keys that are valid in the format but not as file names: every latent
    # is extracted inside the folder, under a safe name, with a warning.
    keys = ["../../escape", "/etc/passwd", "..", ".", ".hidden", "dup_", "dup/",
            "\x1b]0;title\x07", "c:\\win", "é", "ok"]
    check_hostile_keys(tmp, "valid", png, keys, [latent() for _ in keys], must_open=True)
    # A NUL in a key, two latents with one key, an empty key: the library
    # may refuse the file; if it does not, the extraction is still safe.
    keys = ["a\x00b", "dup", "dup", ""]
    check_hostile_keys(tmp, "odd", png, keys, [latent() for _ in keys], must_open=False)

    # An image chunk that is not PNG: its bytes are still extracted, under
    # a name that does not claim PNG, and info says so.
    gif = b"GIF89a" + bytes(range(256)) * 4
    notpng = os.path.join(tmp, "notpng.raiiaf")
    with open(notpng, "wb") as f:
        f.write(craft(gif, [("noise", latent())]))
    folder = os.path.join(tmp, "notpng")
    rc, out, err = run("extract", notpng, "-o", folder)
    if check(rc == 0, f"extract of a non-PNG image: exit {rc} {err!r}"):
        check(open(os.path.join(folder, "image.bin"), "rb").read() == gif, "non-PNG bytes")
        check(not os.path.exists(os.path.join(folder, "image.png")), "non-PNG written as image.png")
        check("PNG" in err, f"no warning about the non-PNG image: {err!r}")
    rc, out, err = run("info", "--json", notpng)
    if check(rc == 0, f"info of a non-PNG image: exit {rc} {err!r}"):
        doc = json.loads(out)
        check(doc["image"] == {"type": "unknown", "bytes": len(gif)}, f"info image: {doc['image']}")
    rc, out, err = run("info", notpng)
    check(rc == 0 and "not a PNG" in out, f"info (text) of a non-PNG image: {out!r}")


# ---- limits: what readers refuse is not written; odd names in JSON -----------

def adam7_png(width, height):
    """An all-black 8-bit grey Adam7 PNG, made here with zlib."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    z = zlib.compressobj(9)
    idat = bytearray()
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                           (1, 0, 2, 2), (0, 1, 1, 2)):
        w, h = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        if w > 0 and h > 0:
            row = bytes(1 + w)
            for _ in range(h):
                idat += z.compress(row)
    idat += z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", bytes(idat)) +
            chunk(b"IEND", b""))


def group_limits(tmp):
    path = next(iter(fixtures()))[0]
    src = os.path.join(tmp, "src")
    expect_rc(0, "extract", path, "-o", src)
    with open(os.path.join(src, "manifest.json")) as f:
        manifest = json.load(f)
    # Under the reader's 8 MiB as given, over it once the writer adds
    # records and indents: refused before anything is written.
    manifest["raiiaf_metadata"]["model_info"]["prompt"] = "a" * (6 * 1024 * 1024)
    manifest["raiiaf_metadata"]["numbers"] = [0] * 300000
    big = os.path.join(tmp, "big.json")
    with open(big, "w") as f:
        json.dump(manifest, f, separators=(",", ":"))
    check(os.path.getsize(big) < 8 * 1024 * 1024, "the manifest given is under the limit")
    out = os.path.join(tmp, "big.raiiaf")
    rc, _, err = run("pack", "-o", out, "--image", os.path.join(src, "image.png"), "--metadata", big)
    check(rc == 1 and "readers refuse" in err and "manifest" in err,
          f"pack of an over-limit manifest: exit {rc} {err!r}")
    check(not os.path.exists(out), "an over-limit file was written")
    leftovers = [n for n in os.listdir(tmp) if n.startswith(".big")]
    check(not leftovers, f"temporary files left: {leftovers}")

    # The thumbnailer decodes an interlaced image whole: within a budget.
    thumbnailer = os.path.join(os.path.dirname(TOOL), "thumbnailer", "raiiaf-thumbnailer")
    if os.path.exists(thumbnailer):
        for side, ok in ((600, True), (5000, False)):
            crafted = os.path.join(tmp, f"adam7-{side}.raiiaf")
            with open(crafted, "wb") as f:
                f.write(craft(adam7_png(side, side), []))
            expect_rc(0, "verify", crafted)
            thumb = os.path.join(tmp, f"adam7-{side}.png")
            p = subprocess.run([thumbnailer, "-s", "128", crafted, thumb], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=120)
            err = p.stderr.decode("utf-8", "replace")
            if ok:
                check(p.returncode == 0 and os.path.exists(thumb), f"thumbnail of a {side}px Adam7: {err!r}")
            else:
                check(p.returncode == 1 and "interlaced" in err and not os.path.exists(thumb),
                      f"a {side}px Adam7 over the thumbnailer's budget: exit {p.returncode} {err!r}")

    # A path that is not UTF-8 comes out of info --json as valid JSON.
    odd = os.path.join(os.fsencode(tmp), b"caf\xe9-\xff.raiiaf")
    with open(path, "rb") as f, open(odd, "wb") as g:
        g.write(f.read())
    for args in ([], ["--pretty"]):
        p = subprocess.run([TOOL, "info", "--json", *args, os.fsdecode(odd)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        try:
            doc = json.loads(p.stdout.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            fail(f"info --json {args} of a non-UTF-8 path: {e}: {p.stdout[:200]!r}")
            continue
        check(p.returncode == 0 and doc["file"].endswith("caf\\xe9-\\xff.raiiaf"),
              f"info --json {args}: file {doc.get('file')!r}")


GROUPS = {
    "fixtures": group_fixtures,
    "roundtrip": group_roundtrip,
    "usage": group_usage,
    "corrupt": group_corrupt,
    "hostile-keys": group_hostile_keys,
    "hostile-npy": group_hostile_npy,
    "crafted": group_crafted,
    "limits": group_limits,
}

if __name__ == "__main__":
    if GROUP not in GROUPS:
        sys.exit(f"unknown group {GROUP}; one of {', '.join(GROUPS)}")
    with tempfile.TemporaryDirectory(prefix="raiiaf-tool-test-") as tmp:
        try:
            GROUPS[GROUP](tmp)
        except Exception as e:  # an unexpected crash of the test is a failure
            import traceback
            traceback.print_exc()
            fail(f"{type(e).__name__}: {e}")
    if failures:
        print(f"{len(failures)} failure(s) in {GROUP}", file=sys.stderr)
        sys.exit(1)
    print(f"{GROUP}: all checks passed")
