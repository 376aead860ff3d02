#!/usr/bin/python3
"""The AI tools' PNG metadata through the real `raiiaf` tool.

    ai_tests.py RAIIAF GROUP

GROUP: import (each tool's layout packs into the manifest's fields, every
text chunk recorded as it was), roundtrip (PNG -> .raiiaf -> PNG gives
back every text chunk; --latent adds latents), bad (text matching no
layout, broken JSON, a 50 MB workflow made here: the pixels import, the
chunk is kept, the conversion never fails), diff (raiiaf diff, --ignore).
The test PNGs are built by tests/ai_pngs.py from the tools' layouts.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ai_pngs import (big_workflow_png, cases, chunk, import_problems, png,  # noqa: E402
                     png_texts, recorded, text_chunk)  # noqa: E402

TOOL, GROUP = sys.argv[1], sys.argv[2]
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg, file=sys.stderr)
    return cond


def run(*args):
    p = subprocess.run([TOOL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def pack(tmp, name, data, *extra):
    src = os.path.join(tmp, name + ".png")
    out = os.path.join(tmp, name + ".raiiaf")
    with open(src, "wb") as f:
        f.write(data)
    rc, _, err = run("pack", "-f", "-o", out, "--image", src, *extra)
    check(rc == 0, f"{name}: pack exit {rc}: {err}")
    return out


def extract(tmp, path, name):
    folder = os.path.join(tmp, name + ".x")
    rc, _, err = run("extract", "--force", path, "-o", folder)
    check(rc == 0, f"{name}: extract exit {rc}: {err}")
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)["raiiaf_metadata"]
    with open(os.path.join(folder, "image.png"), "rb") as f:
        image = f.read()
    return manifest, image, folder


def check_import(name, manifest, data, exp):
    for problem in import_problems(name, manifest, data, exp):
        check(False, problem)


def group_import(tmp):
    for name, (data, exp) in cases().items():
        out = pack(tmp, name, data)
        manifest, _, _ = extract(tmp, out, name)
        check_import(name, manifest, data, exp)
        rc, text, err = run("info", "--json", out)
        check(rc == 0, f"{name}: info exit {rc}: {err}")
        if exp["tool"]:
            check(exp["tool"] in text, f"{name}: info --json does not name {exp['tool']}: {text[:300]}")
    # --metadata given: its fields win, the rest is filled in
    data, exp = cases()["a1111"]
    meta = os.path.join(tmp, "meta.json")
    with open(meta, "w") as f:
        json.dump({"model_name": "my model", "prompt": "my prompt", "version": "2"}, f)
    out = pack(tmp, "given", data, "--metadata", meta)
    manifest, _, _ = extract(tmp, out, "given")
    mi = manifest["model_info"]
    check(mi["model_name"] == "my model" and mi["prompt"] == "my prompt",
          f"--metadata overwritten by the import: {mi}")
    check(mi.get("negative_prompt") == "blurry, low quality" and mi.get("generation_settings"),
          f"--metadata: the import did not fill the rest: {mi}")
    # --no-import: nothing read
    out = pack(tmp, "noimport", data, "--no-import")
    manifest, _, _ = extract(tmp, out, "noimport")
    check("ai_metadata" not in manifest and not manifest["model_info"]["prompt"],
          f"--no-import still imported: {manifest}")


def raw_text_chunks(data):
    """Type and bytes of every tEXt, zTXt and iTXt chunk, in order."""
    out, pos = [], 8
    while pos + 12 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        if ctype in (b"tEXt", b"zTXt", b"iTXt"):
            out.append((ctype, data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    return out


def group_roundtrip(tmp):
    for name, (data, exp) in cases().items():
        out = pack(tmp, name, data)
        _, image, _ = extract(tmp, out, name)
        check(image == data, f"{name}: extracted image.png differs from the PNG packed")
        check(png_texts(image) == png_texts(data), f"{name}: text chunks differ after extract")
        # extract + pack gives the same manifest fields and record
        folder = os.path.join(tmp, name + ".x")
        out2 = os.path.join(tmp, name + "-2.raiiaf")
        rc, _, err = run("pack", "-f", "-o", out2, "--image", os.path.join(folder, "image.png"),
                         "--metadata", os.path.join(folder, "manifest.json"))
        check(rc == 0, f"{name}: re-pack exit {rc}: {err}")
        m1, _, _ = extract(tmp, out, name + "-a")
        m2, _, _ = extract(tmp, out2, name + "-b")
        check(m1["model_info"] == m2["model_info"] and m1.get("ai_metadata") == m2.get("ai_metadata"),
              f"{name}: extract + pack changed the metadata")
    # latents added to an imported PNG
    data, exp = cases()["comfyui"]
    arr = np.arange(1 * 4 * 3 * 2, dtype=np.float32).reshape(1, 4, 3, 2)
    npy = os.path.join(tmp, "noise.npy")
    np.save(npy, arr)
    out = pack(tmp, "withlatent", data, "--latent", "initial_noise=" + npy)
    manifest, image, folder = extract(tmp, out, "withlatent")
    check(image == data, "with a latent: image bytes changed")
    check(manifest["model_info"]["prompt"] == exp["model_info"]["prompt"], "with a latent: prompt lost")
    got = np.load(os.path.join(folder, "latents", "initial_noise.npy"))
    check(np.array_equal(got, arr), "with a latent: latent values differ")
    # re-encoded pixels (-c): the PNG keeps every text chunk byte for
    # byte, and the manifest records them
    out = pack(tmp, "recompressed", data, "-c", "9")
    manifest, image, _ = extract(tmp, out, "recompressed")
    check(image != data, "-c: the image was not re-encoded")
    check(raw_text_chunks(image) == raw_text_chunks(data),
          "-c: the re-encoded PNG's text chunks are not the first PNG's, byte for byte")
    check(recorded(manifest) == png_texts(data), "-c: the manifest lost the text chunks")
    # -c with a workflow too large for the manifest: recorded by size, and
    # in the re-encoded PNG
    big, n = big_workflow_png(6 << 20)
    out = pack(tmp, "recompressed-big", big, "-c", "1")
    manifest, image, _ = extract(tmp, out, "recompressed-big")
    rec = [c for c in manifest["ai_metadata"]["png_text"] if c["keyword"] == "workflow"]
    check(len(rec) == 1 and rec[0].get("in_image") is True and rec[0]["size"] == n,
          f"-c, large workflow: record {rec}")
    check(raw_text_chunks(image) == raw_text_chunks(big),
          "-c, large workflow: not in the re-encoded PNG, byte for byte")


def group_bad(tmp):
    for name in ("bad-parameters", "bad-json"):
        data, exp = cases()[name]
        out = pack(tmp, name, data)
        manifest, image, _ = extract(tmp, out, name)
        check_import(name, manifest, data, exp)
        check(image == data, f"{name}: image changed")
    # a text chunk with broken zlib data and one without a keyword: the
    # PNG packs; what cannot be read is left to the PNG
    broken = png([text_chunk("tEXt", "parameters", "Steps: 1, Sampler: a, Seed: 1"),
                  chunk(b"zTXt", b"prompt\0\0not zlib"), chunk(b"tEXt", b"\0no keyword"),
                  chunk(b"iTXt", b"workflow\0\1\0en")])
    out = pack(tmp, "broken-chunks", broken)
    manifest, image, _ = extract(tmp, out, "broken-chunks")
    check(image == broken, "broken chunks: image changed")
    check([c["keyword"] for c in manifest["ai_metadata"]["png_text"]] == ["parameters"],
          f"broken chunks: record {manifest.get('ai_metadata')}")
    # a 50 MB workflow: pixels and the graph's fields import, the chunk is
    # recorded by size and digest, the PNG keeps it byte for byte
    data, n = big_workflow_png()
    out = pack(tmp, "big", data)
    manifest, image, _ = extract(tmp, out, "big")
    check(image == data, "big workflow: image bytes changed")
    rec = [c for c in manifest["ai_metadata"]["png_text"] if c["keyword"] == "workflow"]
    check(len(rec) == 1 and rec[0].get("in_image") and rec[0]["size"] == n and "text" not in rec[0],
          f"big workflow: record {rec}")
    check(manifest["model_info"]["prompt"] == cases()["comfyui"][1]["model_info"]["prompt"],
          "big workflow: the API graph's prompt was not taken")
    rc, _, err = run("verify", out)
    check(rc == 0, f"big workflow: verify exit {rc}: {err}")
    rc, text, err = run("info", out)
    check(rc == 0 and "ComfyUI" in text, f"big workflow: info exit {rc}: {err}")


def group_diff(tmp):
    c = cases()
    # one date for all: two packs differ by it otherwise
    meta = os.path.join(tmp, "date.json")
    with open(meta, "w") as f:
        json.dump({"date": "2026-01-01T00:00:00.000000+00:00"}, f)
    a = pack(tmp, "a", c["a1111"][0], "--metadata", meta)
    b = pack(tmp, "b", c["a1111-no-negative"][0], "--metadata", meta)
    rc, out, err = run("diff", a, a)
    check(rc == 0, f"diff A A: exit {rc}: {out}{err}")
    rc, out, err = run("diff", "--json", a, b)
    check(rc == 1, f"diff A B: exit {rc}: {err}")
    d = json.loads(out) if rc == 1 else {}
    what = {x["field"] for x in d.get("differences", [])}
    for f in ("prompt", "negative-prompt", "seed", "steps", "sampler", "cfg-scale", "model"):
        check(f in what, f"diff --json: {f} not among the differences {sorted(what)}")
    check(d.get("image", {}).get("same_pixels") is False, f"diff --json image: {d.get('image')}")
    rc, out, err = run("diff", a, b)
    check(rc == 1 and "prompt" in out and "Negative" not in err, f"diff A B text: {rc} {out} {err}")
    # the same pixels in another PNG encoding: same pixels, other bytes
    rc, out, err = run("pack", "-f", "-o", os.path.join(tmp, "a-c9.raiiaf"), "--image",
                       os.path.join(tmp, "a.png"), "-c", "0", "--metadata", meta)
    rc, out, err = run("diff", "--json", a, os.path.join(tmp, "a-c9.raiiaf"))
    d = json.loads(out) if out else {}
    check(d.get("image", {}).get("same_pixels") is True and d["image"].get("same_bytes") is False,
          f"diff re-encoded: {d.get('image')}")
    # latents: same values, then a max difference
    arr = np.linspace(-1, 1, 24, dtype=np.float32).reshape(1, 4, 3, 2)
    n1, n2 = os.path.join(tmp, "n1.npy"), os.path.join(tmp, "n2.npy")
    np.save(n1, arr)
    arr2 = arr.copy()
    arr2[0, 1, 2, 1] += 0.25
    np.save(n2, arr2)
    l1 = pack(tmp, "l1", c["a1111"][0], "--latent", "noise=" + n1, "--metadata", meta)
    l1b = pack(tmp, "l1b", c["a1111"][0], "--latent", "noise=" + n1, "--latent-storage", "raw",
               "--metadata", meta)
    l2 = pack(tmp, "l2", c["a1111"][0], "--latent", "noise=" + n2, "--metadata", meta)
    rc, out, err = run("diff", "--json", l1, l1b)
    d = json.loads(out) if out else {}
    lat = d.get("latents", [{}])[0] if d.get("latents") else {}
    check(rc == 0 and lat.get("same") is True, f"diff raw vs zfp latent: {rc} {lat} {err}")
    rc, out, err = run("diff", "--json", l1, l2)
    d = json.loads(out) if out else {}
    lat = d.get("latents", [{}])[0] if d.get("latents") else {}
    check(rc == 1 and lat.get("same") is False and abs(lat.get("max_abs_diff", 0) - 0.25) < 1e-6,
          f"diff latents: {rc} {lat}")
    rc, out, err = run("diff", l1, a)
    check(rc == 1 and "noise" in out, f"diff latent only in A: {rc} {out}")
    # --ignore: two packs of one PNG differ by their date alone
    d1 = pack(tmp, "d1", c["a1111"][0])
    time.sleep(0.01)
    d2 = pack(tmp, "d2", c["a1111"][0])
    rc, out, err = run("diff", "--json", d1, d2)
    d = json.loads(out) if out else {}
    check(rc == 1 and [x["field"] for x in d.get("differences", [])] == ["date"],
          f"diff of two packs: the date differs: {rc} {out} {err}")
    rc, out, err = run("diff", "--ignore", "date", d1, d2)
    check(rc == 0 and out.strip() == "same", f"diff --ignore date: {rc} {out} {err}")
    rc, out, err = run("diff", "--ignore=file", d1, d2)
    check(rc == 0, f"diff --ignore=file (the date's section): {rc} {out} {err}")
    rc, out, err = run("diff", "-i", "date", "--json", d1, d2)
    d = json.loads(out) if out else {}
    check(rc == 0 and d.get("same") is True and d.get("ignored") == ["date"] and
          d.get("image", {}).get("same_bytes") is True, f"diff -i date --json: {rc} {out}")
    # fields, a manifest key, sections, the image
    rc, out, err = run("diff", "--json", "--ignore", "prompt,negative_prompt,model_name",
                       "--ignore", "generation_settings,Lora hashes", a, b)
    d = json.loads(out) if out else {}
    what = {x["field"] for x in d.get("differences", [])}
    check(rc == 1 and not what & {"prompt", "negative-prompt", "model", "seed", "steps",
                                  "sampler", "cfg-scale"} and d["image"]["same_pixels"] is False,
          f"diff --ignore fields and settings: the image still differs: {rc} {sorted(what)}")
    rc, out, err = run("diff", "--json", "--ignore", ",".join(["prompt", "model", "settings", "image"]),
                       a, b)
    d = json.loads(out) if out else {}
    check(rc == 0 and d.get("image") is None and d.get("differences") == [],
          f"diff --ignore prompt,model,settings,image: {rc} {out} {err}")
    # latents: all, or one by key
    rc, out, err = run("diff", "--ignore", "latents", l1, l2)
    check(rc == 0, f"diff --ignore latents: {rc} {out}")
    rc, out, err = run("diff", "--ignore", "latent:noise", "--json", l1, l2)
    d = json.loads(out) if out else {}
    check(rc == 0 and d.get("latents") == [], f"diff --ignore latent:noise: {rc} {out}")
    rc, out, err = run("diff", "--ignore", "latent:other", l1, l2)
    check(rc == 1, f"diff --ignore latent:other leaves noise: {rc} {out}")
    # the environment: one library version changed
    folder = extract(tmp, l1, "envsrc")[2]
    with open(os.path.join(folder, "env.json")) as f:
        env = json.load(f)
    env2 = json.loads(json.dumps(env).replace("name=os;version=", "name=os;version=9 ", 1))
    check(env2 != env, "the environment names its OS")
    e1, e2 = os.path.join(tmp, "e1.json"), os.path.join(tmp, "e2.json")
    for path, e in ((e1, env), (e2, env2)):
        with open(path, "w") as f:
            json.dump(e, f)
    v1 = pack(tmp, "v1", c["a1111"][0], "--env", e1, "--metadata", meta)
    v2 = pack(tmp, "v2", c["a1111"][0], "--env", e2, "--metadata", meta)
    rc, out, err = run("diff", "--json", v1, v2)
    d = json.loads(out) if out else {}
    check(rc == 1 and {x["section"] for x in d.get("differences", [])} == {"environment"},
          f"diff of two environments: {rc} {out}")
    rc, out, err = run("diff", "--ignore", "environment", v1, v2)
    check(rc == 0, f"diff --ignore environment: {rc} {out}")
    # usage
    for bad in ("", "date,", "a,,b"):
        rc, out, err = run("diff", "--ignore", bad, a, b)
        check(rc == 2 and "--ignore" in err, f"diff --ignore {bad!r}: exit {rc} {err}")
    # errors: exit 2
    rc, out, err = run("diff", a, os.path.join(tmp, "missing.raiiaf"))
    check(rc == 2, f"diff with a missing file: exit {rc}")
    rc, out, err = run("diff", a)
    check(rc == 2, f"diff with one file: exit {rc}")
    with open(os.path.join(tmp, "junk.raiiaf"), "wb") as f:
        f.write(b"raiiaf" + b"\0" * 40)
    rc, out, err = run("diff", a, os.path.join(tmp, "junk.raiiaf"))
    check(rc == 2 and err, f"diff with a corrupt file: exit {rc} {err}")


GROUPS = {"import": group_import, "roundtrip": group_roundtrip, "bad": group_bad,
          "diff": group_diff}

with tempfile.TemporaryDirectory() as tmp:
    GROUPS[GROUP](tmp)
if failures:
    print(f"{len(failures)} failure(s)", file=sys.stderr)
    sys.exit(1)
print("ok")
