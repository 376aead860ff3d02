"""PNGs as the AI image tools write them, built here from their documented
layouts (no copied files), with what an import must find in each.

    from ai_pngs import cases, png_texts, big_workflow_png

Each case: name -> (png bytes, expected), expected = {"tool": str or None,
"model_info": {field: value}, "settings": {key: value} (generation
settings, or None when none may be taken), "negative": str or None}.
png_texts(png) lists a PNG's text chunks as (type, keyword, language,
translated keyword, compressed, text) tuples, text decoded.
"""
import json
import struct
import zlib


def chunk(ctype, data):
    body = ctype + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def text_chunk(kind, keyword, text, lang="", translated="", compressed=False):
    kw = keyword.encode("latin-1")
    if kind == "tEXt":
        return chunk(b"tEXt", kw + b"\0" + text.encode("latin-1"))
    if kind == "zTXt":
        return chunk(b"zTXt", kw + b"\0\0" + zlib.compress(text.encode("latin-1")))
    data = text.encode("utf-8")
    if compressed:
        data = zlib.compress(data)
    return chunk(b"iTXt", kw + b"\0" + bytes([1 if compressed else 0, 0]) +
                 lang.encode("ascii") + b"\0" + translated.encode("utf-8") + b"\0" + data)


def png(texts, width=16, height=12, seed=1):
    """An RGB PNG whose pixels depend on seed, with the text chunks given
    (bytes of text_chunk) before the image data."""
    rows = b"".join(b"\0" + bytes(((x * 7 + y * 13 + seed * 31) & 0xFF) for x in range(width * 3))
                    for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            b"".join(texts) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def png_texts(data):
    """The text chunks of a PNG, in order."""
    out, pos = [], 8
    while pos + 12 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        ctype, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if ctype == b"tEXt":
            k, t = body.split(b"\0", 1)
            out.append(("tEXt", k.decode("latin-1"), "", "", False, t.decode("latin-1")))
        elif ctype == b"zTXt":
            k, t = body.split(b"\0", 1)
            out.append(("zTXt", k.decode("latin-1"), "", "", True,
                        zlib.decompress(t[1:]).decode("latin-1")))
        elif ctype == b"iTXt":
            k, rest = body.split(b"\0", 1)
            comp, rest = rest[0], rest[2:]
            lang, rest = rest.split(b"\0", 1)
            trans, t = rest.split(b"\0", 1)
            if comp:
                t = zlib.decompress(t)
            out.append(("iTXt", k.decode("latin-1"), lang.decode(), trans.decode("utf-8"),
                        bool(comp), t.decode("utf-8")))
        elif ctype == b"IEND":
            break
    return out


def comfy_graph(samplers=1):
    """A ComfyUI API graph: checkpoint, LoRA, two text encoders, sampler(s)."""
    g = {
        "4": {"inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"},
              "class_type": "CheckpointLoaderSimple", "_meta": {"title": "Load Checkpoint"}},
        "10": {"inputs": {"lora_name": "detail.safetensors", "strength_model": 0.8,
                          "strength_clip": 0.8, "model": ["4", 0], "clip": ["4", 1]},
               "class_type": "LoraLoader"},
        "6": {"inputs": {"text": 'a "red" fox,\nsitting, in snow \u2013 4k', "clip": ["10", 1]},
              "class_type": "CLIPTextEncode"},
        "7": {"inputs": {"text": "blurry, watermark", "clip": ["10", 1]},
              "class_type": "CLIPTextEncode"},
        "5": {"inputs": {"width": 16, "height": 12, "batch_size": 1},
              "class_type": "EmptyLatentImage"},
        "3": {"inputs": {"seed": 156680208700286, "steps": 20, "cfg": 8, "sampler_name": "euler",
                         "scheduler": "normal", "denoise": 1, "model": ["10", 0],
                         "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]},
              "class_type": "KSampler"},
        "8": {"inputs": {"samples": ["3", 0], "vae": ["4", 2]}, "class_type": "VAEDecode"},
        "9": {"inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]},
              "class_type": "SaveImage"},
    }
    if samplers == 2:
        g["11"] = {"inputs": {"noise_seed": 5, "steps": 10, "cfg": 4.5, "sampler_name": "dpmpp_2m",
                              "scheduler": "karras", "add_noise": "enable", "start_at_step": 0,
                              "end_at_step": 10, "return_with_leftover_noise": "disable",
                              "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
                              "latent_image": ["3", 0]},
                   "class_type": "KSamplerAdvanced"}
    return g


def comfy_workflow(nodes=8, pad=0):
    """A ComfyUI UI graph (nodes, links), padded with `pad` bytes of notes."""
    wf = {"last_node_id": nodes, "last_link_id": 9,
          "nodes": [{"id": i, "type": "CLIPTextEncode" if i == 6 else "KSampler" if i == 3
                     else "Note", "pos": [10 * i, 20], "size": [400, 200], "flags": {},
                     "order": i, "mode": 0, "inputs": [], "outputs": [],
                     "properties": {}, "widgets_values": ["x"]} for i in range(1, nodes + 1)],
          "links": [[1, 4, 0, 3, 0, "MODEL"]], "groups": [], "config": {}, "extra": {},
          "version": 0.4}
    if pad:
        note = "lorem ipsum, dolor \"sit\" amet\n" * (pad // 30 + 1)
        wf["extra"]["notes"] = [note[: pad // 5]] * 4
    return json.dumps(wf)


def comfy_ui_graph():
    """A ComfyUI UI graph alone: nodes with widgets_values, links."""
    def node(i, t, widgets, inputs=()):
        return {"id": i, "type": t, "pos": [i * 10, 0], "size": [300, 100], "flags": {},
                "order": i, "mode": 0, "outputs": [], "properties": {},
                "inputs": [{"name": n, "type": "X", "link": l} for n, l in inputs],
                "widgets_values": widgets}
    return json.dumps({
        "last_node_id": 10, "last_link_id": 4,
        "nodes": [node(4, "CheckpointLoaderSimple", ["dreamshaper_8.safetensors"]),
                  node(10, "LoraLoader", ["detail.safetensors", 1, 1],
                       [("model", 1), ("clip", None)]),
                  node(6, "CLIPTextEncode", ["a tiny house, \"cozy\", snow"], [("clip", None)]),
                  node(7, "CLIPTextEncode", ["ugly"], [("clip", None)]),
                  node(3, "KSampler", [987654321, "randomize", 28, 6.5, "dpmpp_2m", "karras", 1],
                       [("model", 2), ("positive", 3), ("negative", 4), ("latent_image", None)])],
        "links": [[1, 4, 0, 10, 0, "MODEL"], [2, 10, 0, 3, 0, "MODEL"],
                  [3, 6, 0, 3, 1, "CONDITIONING"], [4, 7, 0, 3, 2, "CONDITIONING"]],
        "groups": [], "config": {}, "extra": {}, "version": 0.4})


A1111_PROMPT = 'a cat, "quoted words", with commas\nsecond line: more'
A1111 = (A1111_PROMPT + "\nNegative prompt: blurry, low quality\n"
         'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, '
         'Seed: 1234567890, Size: 16x12, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, '
         'Lora hashes: "add_detail: 7c6bad76eb54, more, \\"x\\": 12", Version: v1.9.4')


def cases():
    c = {}
    c["a1111"] = (png([text_chunk("tEXt", "parameters", A1111)]), {
        "tool": "AUTOMATIC1111",
        "model_info": {"prompt": A1111_PROMPT, "negative_prompt": "blurry, low quality",
                       "model_name": "sd_xl_base_1.0"},
        "settings": {"seed": 1234567890, "steps": 20, "sampler": "DPM++ 2M", "cfg_scale": 7.0,
                     "scheduler": "Karras"},
        "a1111": {"Lora hashes": 'add_detail: 7c6bad76eb54, more, "x": 12',
                  "Version": "v1.9.4", "Model hash": "31e35c80fc"}})
    noneg = "portrait of a woman, smiling\nSteps: 30, Sampler: Euler a, CFG scale: 5.5, Seed: 7, Model: m1"
    c["a1111-no-negative"] = (png([text_chunk("zTXt", "parameters", noneg)], seed=2), {
        "tool": "AUTOMATIC1111",
        "model_info": {"prompt": "portrait of a woman, smiling", "model_name": "m1"},
        "absent": ["negative_prompt"],
        "settings": {"seed": 7, "steps": 30, "sampler": "Euler a", "cfg_scale": 5.5}})
    jp = "\u732b\u306e\u7d75, \u6771\u4eac\nNegative prompt: \u307c\u3084\u3051\nSteps: 25, Sampler: Euler, CFG scale: 6, Seed: 99, Model: anime"
    c["a1111-itxt"] = (png([text_chunk("iTXt", "parameters", jp, "ja", "\u30d1\u30e9\u30e1\u30fc\u30bf",
                                       compressed=True),
                            text_chunk("iTXt", "Title", "\u00e9t\u00e9 \u2603")], seed=3), {
        "tool": "AUTOMATIC1111",
        "model_info": {"prompt": "\u732b\u306e\u7d75, \u6771\u4eac",
                       "negative_prompt": "\u307c\u3084\u3051", "model_name": "anime"},
        "settings": {"seed": 99, "steps": 25, "sampler": "Euler", "cfg_scale": 6.0}})
    swarm = json.dumps({"sui_image_params": {
        "prompt": "a fox, \"sly\"", "negativeprompt": "ugly", "model": "OfficialStableDiffusion/sd_xl_base_1.0",
        "seed": 42, "steps": 25, "cfgscale": 7.5, "sampler": "euler", "scheduler": "karras",
        "width": 16, "height": 12}, "sui_extra_data": {"date": "2024-01-01"}}, indent=2)
    c["swarmui"] = (png([text_chunk("tEXt", "parameters", swarm)], seed=4), {
        "tool": "SwarmUI",
        "model_info": {"prompt": 'a fox, "sly"', "negative_prompt": "ugly",
                       "model_name": "OfficialStableDiffusion/sd_xl_base_1.0"},
        "settings": {"seed": 42, "steps": 25, "sampler": "euler", "cfg_scale": 7.5,
                     "scheduler": "karras"}})
    fooocus = json.dumps({
        "prompt": "a castle on a hill", "negative_prompt": "", "styles": "['Fooocus V2']",
        "performance": "Speed", "steps": 30, "resolution": "(16, 12)", "guidance_scale": 4,
        "sharpness": 2, "base_model": "juggernautXL_v8Rundiffusion.safetensors",
        "refiner_model": "None", "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras",
        "seed": "5678", "version": "Fooocus v2.5.0"})
    c["fooocus"] = (png([text_chunk("tEXt", "parameters", fooocus),
                         text_chunk("tEXt", "fooocus_scheme", "fooocus")], seed=5), {
        "tool": "Fooocus",
        "model_info": {"prompt": "a castle on a hill",
                       "model_name": "juggernautXL_v8Rundiffusion.safetensors"},
        "settings": {"seed": 5678, "steps": 30, "sampler": "dpmpp_2m_sde_gpu", "cfg_scale": 4.0,
                     "scheduler": "karras"}})
    c["comfyui"] = (png([text_chunk("tEXt", "prompt", json.dumps(comfy_graph())),
                         text_chunk("tEXt", "workflow", comfy_workflow())], seed=6), {
        "tool": "ComfyUI",
        "model_info": {"prompt": 'a "red" fox,\nsitting, in snow \u2013 4k',
                       "negative_prompt": "blurry, watermark",
                       "model_name": "sd_xl_base_1.0.safetensors"},
        "settings": {"seed": 156680208700286, "steps": 20, "sampler": "euler", "cfg_scale": 8.0,
                     "scheduler": "normal"}})
    c["comfyui-two-samplers"] = (png([text_chunk("tEXt", "prompt", json.dumps(comfy_graph(2))),
                                      text_chunk("tEXt", "workflow", comfy_workflow())], seed=7), {
        "tool": "ComfyUI",
        "model_info": {"model_name": "sd_xl_base_1.0.safetensors"},
        "absent": ["prompt", "negative_prompt"],
        "settings": None, "note": "2 sampler nodes"})
    c["comfyui-workflow-only"] = (png([text_chunk("zTXt", "workflow", comfy_ui_graph())], seed=15), {
        "tool": "ComfyUI",
        "model_info": {"prompt": 'a tiny house, "cozy", snow', "negative_prompt": "ugly",
                       "model_name": "dreamshaper_8.safetensors"},
        "settings": {"seed": 987654321, "steps": 28, "sampler": "dpmpp_2m", "cfg_scale": 6.5,
                     "scheduler": "karras"}})
    invoke = json.dumps({
        "generation_mode": "txt2img", "positive_prompt": "a robot, chrome", "negative_prompt": "text",
        "width": 16, "height": 12, "seed": 3141592653, "steps": 40, "cfg_scale": 7.5,
        "scheduler": "dpmpp_2m", "model": {"key": "k1", "hash": "blake3:00", "name": "Juggernaut XL",
                                           "base": "sdxl", "type": "main"}})
    c["invokeai"] = (png([text_chunk("tEXt", "invokeai_metadata", invoke),
                          text_chunk("tEXt", "invokeai_graph", '{"id": "g", "nodes": {}, "edges": []}')],
                         seed=8), {
        "tool": "InvokeAI",
        "model_info": {"prompt": "a robot, chrome", "negative_prompt": "text",
                       "model_name": "Juggernaut XL"},
        "settings": {"seed": 3141592653, "steps": 40, "sampler": "dpmpp_2m", "cfg_scale": 7.5}})
    sdm = json.dumps({"model": "stable diffusion", "model_weights": "stable-diffusion-1.5",
                      "model_hash": "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",
                      "app_id": "invoke-ai/InvokeAI", "app_version": "2.2.5",
                      "image": {"prompt": [{"prompt": "a lighthouse at dusk", "weight": 1.0}],
                                "steps": 50, "cfg_scale": 7.5, "threshold": 0, "perlin": 0,
                                "height": 12, "width": 16, "seed": 2233, "seamless": False,
                                "type": "txt2img", "sampler": "k_lms", "variations": []}})
    dream = '"a lighthouse at dusk" -s 50 -S 2233 -W 16 -H 12 -C 7.5 -A k_lms'
    c["invokeai-sd-metadata"] = (png([text_chunk("tEXt", "Dream", dream),
                                      text_chunk("tEXt", "sd-metadata", sdm)], seed=9), {
        "tool": "InvokeAI",
        "model_info": {"prompt": "a lighthouse at dusk", "model_name": "stable-diffusion-1.5"},
        "settings": {"seed": 2233, "steps": 50, "sampler": "k_lms", "cfg_scale": 7.5}})
    c["invokeai-dream"] = (png([text_chunk("tEXt", "Dream", '"an \\"old\\" map, sepia" -s 12 -S 77 -W 16 -H 12 -C 9 -A ddim')],
                               seed=10), {
        "tool": "InvokeAI",
        "model_info": {"prompt": 'an "old" map, sepia'},
        "settings": {"seed": 77, "steps": 12, "sampler": "ddim", "cfg_scale": 9.0}})
    nai = json.dumps({"prompt": "1girl, solo, smile", "steps": 28, "height": 12, "width": 16,
                      "scale": 5.0, "seed": 1111, "n_samples": 1, "sampler": "k_euler_ancestral",
                      "noise_schedule": "karras", "uc": "lowres, bad anatomy"})
    c["novelai"] = (png([text_chunk("tEXt", "Title", "NovelAI generated image"),
                         text_chunk("tEXt", "Description", "1girl, solo, smile"),
                         text_chunk("tEXt", "Software", "NovelAI"),
                         text_chunk("tEXt", "Source", "NovelAI Diffusion V4 4F8E1B6F"),
                         text_chunk("tEXt", "Generation time", "1.53"),
                         text_chunk("tEXt", "Comment", nai)], seed=11), {
        "tool": "NovelAI",
        "model_info": {"prompt": "1girl, solo, smile", "negative_prompt": "lowres, bad anatomy",
                       "model_name": "NovelAI Diffusion V4 4F8E1B6F"},
        "settings": {"seed": 1111, "steps": 28, "sampler": "k_euler_ancestral", "cfg_scale": 5.0,
                     "scheduler": "karras"}})
    c["bad-parameters"] = (png([text_chunk("tEXt", "parameters", "just some words, no settings\nat all")],
                               seed=12), {
        "tool": None, "model_info": {}, "absent": ["prompt"], "settings": None,
        "note": "matches no known layout"})
    c["bad-json"] = (png([text_chunk("tEXt", "prompt", '{"3": {"class_type": "KSampler", '),
                          text_chunk("zTXt", "workflow", "{not json at all")], seed=13), {
        "tool": "ComfyUI", "model_info": {}, "absent": ["prompt"], "settings": None})
    return c


def big_workflow_png(size=50 << 20):
    """A ComfyUI PNG whose workflow (tEXt) is `size` bytes of JSON."""
    wf = comfy_workflow(pad=size)
    wf = wf[:-1] + " " * max(0, size - len(wf)) + "}" if len(wf) < size else wf
    return png([text_chunk("tEXt", "prompt", json.dumps(comfy_graph())),
                text_chunk("tEXt", "workflow", wf)], seed=14), len(wf)


def recorded(manifest):
    """The manifest's record of the text chunks, as png_texts() lists them."""
    return [(c["chunk"], c["keyword"], c.get("language", ""), c.get("translated_keyword", ""),
             c["compressed"], c.get("text"))
            for c in manifest.get("ai_metadata", {}).get("png_text", [])]


def import_problems(name, manifest, data, exp, same_chunks=True):
    """What an imported manifest gets wrong against the case's expectation;
    same_chunks: the record must list the PNG's chunks exactly (a host that
    sees only keywords and texts is checked on those)."""
    bad = []
    mi = manifest["model_info"]
    ai = manifest.get("ai_metadata", {})
    if ai.get("tool") != exp["tool"]:
        bad.append(f"{name}: tool {ai.get('tool')!r}, expected {exp['tool']!r}")
    for k, v in exp["model_info"].items():
        if mi.get(k) != v:
            bad.append(f"{name}: model_info.{k} = {mi.get(k)!r}, expected {v!r}")
    for k in exp.get("absent", []):
        if mi.get(k):
            bad.append(f"{name}: model_info.{k} = {mi.get(k)!r}, expected nothing")
    gs = mi.get("generation_settings")
    if exp["settings"] is None:
        if gs is not None or "generation_settings" in ai:
            bad.append(f"{name}: settings {gs} {ai.get('generation_settings')}, expected none")
    elif gs != exp["settings"] or any(type(gs[k]) is not type(v) for k, v in exp["settings"].items()):
        bad.append(f"{name}: generation_settings {gs}, expected {exp['settings']}")
    for k, v in exp.get("a1111", {}).items():
        if ai.get("settings", {}).get(k) != v:
            bad.append(f"{name}: A1111 {k} = {ai.get('settings', {}).get(k)!r}, expected {v!r}")
    if "note" in exp and not any(exp["note"] in n for n in ai.get("notes", [])):
        bad.append(f"{name}: notes {ai.get('notes')} do not say {exp['note']!r}")
    if same_chunks:
        if recorded(manifest) != png_texts(data):
            bad.append(f"{name}: recorded chunks {recorded(manifest)}, the PNG's {png_texts(data)}")
    else:
        got = {(r[1], r[5]) for r in recorded(manifest)}
        want = {(t[1], t[5]) for t in png_texts(data)}
        if not got <= want or not got:
            bad.append(f"{name}: recorded texts {sorted(got)}, the PNG's {sorted(want)}")
    return bad
