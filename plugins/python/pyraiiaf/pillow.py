"""The RAIIAF format in Pillow. Importing this module registers it:

    import pyraiiaf.pillow
    from PIL import Image
    im = Image.open("photo.raiiaf")     # header, manifest and PNG header only
    im.load()                           # pixels, decoded by libraiiaf
    im.info["parameters"], im.info["raiiaf:prompt"], im.info.get("icc_profile")
    im.save("copy.raiiaf")              # latents and manifest carried over
    im.save("new.raiiaf", latents={"initial_noise": arr}, metadata={...})

The mode is the one Pillow's PNG plugin gives for the embedded PNG (1, L,
LA, I;16 (I in Pillow 9), RGB, RGBA, P; 16-bit colour reduced to 8 bits
and 16-bit grey + alpha opened as RGBA, as Pillow does),
and im.info holds what that plugin puts there (text chunks by keyword,
icc_profile, transparency, gamma, srgb, chromaticity, dpi, exif, xmp,
interlace), plus `parameters` (prompt and settings in the AUTOMATIC1111
layout) and the library's fields as "raiiaf:KEY" (raiiaf:prompt,
raiiaf:seed, raiiaf:latent-0, ...).
"""
from PIL import Image, ImageFile, ImagePalette, PngImagePlugin

from . import _raiiaf

FORMAT = "RAIIAF"
SOURCE_KEY = "raiiaf_source"   # im.info: the Reader of the opened file
TEXT_PREFIX = "raiiaf:"
# Library text keys that describe the file rather than set a field of it:
# derived on reading, never written back by set_text.
_DERIVED = ("latent-", "env-", "hardware-", "edit-history")

# (PNG colour type, bit depth) -> (Pillow mode, library format, raw mode,
# 16 -> 8 bits by the high byte as Pillow's PNG plugin does)
# 16-bit grey is I;16 in Pillow 10 and later, I in Pillow 9 (Debian 12): the
# mode is the one this Pillow's PNG plugin gives.
_GREY16 = getattr(PngImagePlugin, "_MODES", {}).get((16, 0), ("I;16",))[0]
_GREY_MODES = {1: ("1", _raiiaf.FMT_G8, "1;8", False), 16: (_GREY16, _raiiaf.FMT_G16, "I;16N", False)}
_MODES = {
    2: {8: ("RGB", _raiiaf.FMT_RGB8, "RGB", False), 16: ("RGB", _raiiaf.FMT_RGB16, "RGB", True)},
    3: ("P", _raiiaf.FMT_INDEX8, "P", False),
    # Pillow opens 16-bit grey + alpha as RGBA (grey repeated)
    4: {8: ("LA", _raiiaf.FMT_GA8, "LA", False), 16: ("RGBA", _raiiaf.FMT_GA16, "LA", True)},
    6: {8: ("RGBA", _raiiaf.FMT_RGBA8, "RGBA", False), 16: ("RGBA", _raiiaf.FMT_RGBA16, "RGBA", True)},
}


def _accept(prefix):
    return _raiiaf.check_signature(prefix[:6])


def _pillow_mode(info):
    ct, bits = info["color_type"], info["bit_depth"]
    if ct == 0:
        return _GREY_MODES.get(bits, ("L", _raiiaf.FMT_G8, "L", False))
    entry = _MODES[ct]
    return entry if ct == 3 else entry[bits]


class _ReaderFp:
    """Stands in for a file when an image is made from an opened Reader."""

    def __init__(self, reader):
        self.reader = reader

    def read(self, n=-1):
        return b""

    def seek(self, *args):
        return 0

    def tell(self):
        return 0

    def close(self):
        pass


class RaiiafImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "raiiaf AI image artifact (PNG + latents + metadata)"

    def _open(self):
        limit = Image.MAX_IMAGE_PIXELS
        max_pixels = 2 * int(limit) if limit else 0
        if isinstance(self.fp, _ReaderFp):
            reader = self.fp.reader
        elif self.filename:
            reader = _raiiaf.Reader(self.filename, max_pixels)
        else:
            reader = _raiiaf.Reader(self.fp, max_pixels)
        info = reader.image_info()
        colour = reader.png_colour()
        mode, fmt, rawmode, high = _pillow_mode(info)
        if isinstance(getattr(type(self), "mode", None), property):
            self._mode = mode       # Pillow >= 10.1
        else:
            self.mode = mode        # Pillow 9 (Debian 12)
        self._size = (info["width"], info["height"])
        self.info.update(_info(reader, info, colour, mode))
        self.info[SOURCE_KEY] = reader
        self._reader = reader
        if mode == "P":
            self.palette = ImagePalette.raw("RGB", colour["palette"])
        self.tile = [("raiiaf", (0, 0) + self._size, 0, (reader, fmt, rawmode, high))]

    @property
    def text(self):
        """The embedded PNG's text chunks, as PngImageFile.text."""
        return {k: v for k, v in self.info.items()
                if isinstance(v, str) and not k.startswith(TEXT_PREFIX) and k != "parameters"}


class _Decoder(ImageFile.PyDecoder):
    _pulls_fd = True

    def decode(self, buffer):
        reader, fmt, rawmode, high = self.args
        raw = Image._getdecoder(self.mode, "raw", rawmode)
        raw.setimage(self.im, self.state.extents())
        status = [(0, 0)]

        def consume(data):
            if high:  # Pillow keeps 16-bit colour as its high bytes
                import numpy as np
                data = (np.frombuffer(data, dtype="=u2") >> 8).astype(np.uint8).tobytes()
            status[0] = raw.decode(data)

        # Strips of about 1 MiB, each copied into Pillow's image while it
        # is in the cache: no second copy of the whole picture.
        reader.decode_strips(fmt, 1 << 20, consume)
        if status[0][0] >= 0:
            raise ValueError("not enough image data")
        if status[0][1] != 0:
            raise ValueError("cannot decode image data")
        return -1, 0


def _info(reader, info, colour, mode):
    """im.info as Pillow's PNG plugin fills it, plus parameters and ours."""
    out = {}
    if info["interlaced"]:
        out["interlace"] = 1
    if colour["gamma"] is not None:
        out["gamma"] = round(colour["gamma"] * 100000) / 100000.0
    if colour["chromaticities"] is not None:
        out["chromaticity"] = tuple(round(v * 100000) / 100000.0 for v in colour["chromaticities"])
    if colour["srgb_intent"] >= 0:
        out["srgb"] = colour["srgb_intent"]
    if info["ppm_x"] or info["ppm_y"]:
        out["dpi"] = (info["ppm_x"] * 0.0254, info["ppm_y"] * 0.0254)
    trns = colour["trns"]
    if mode == "P" and colour["palette_alpha"]:
        alpha = colour["palette_alpha"]
        if alpha.count(0) == 1 and alpha.count(255) == len(alpha) - 1:
            out["transparency"] = alpha.index(0)
        else:
            out["transparency"] = alpha
    elif trns is not None and mode in ("1", "L", _GREY16):
        out["transparency"] = trns[0]
    elif trns is not None and mode == "RGB":
        out["transparency"] = trns[1:4]
    icc = reader.icc_profile()
    if icc is not None:
        out["icc_profile"] = icc[0]
    meta = reader.png_metadata()
    for keyword, text, compressed, international, lang, tkey in meta["texts"]:
        out[keyword] = PngImagePlugin.iTXt(text, lang, tkey) if international else text
    if meta["xmp"] is not None:
        out["xmp"] = meta["xmp"].encode("utf-8")
    if meta["exif"] is not None:
        out["exif"] = b"Exif\x00\x00" + meta["exif"]
    parameters = reader.parameters()
    if parameters:
        out["parameters"] = parameters
    for key, value in reader.texts():
        out[TEXT_PREFIX + key] = value
    return out


def image_from_reader(reader):
    """A Pillow image of an opened _raiiaf.Reader (pixels on load())."""
    return RaiiafImageFile(_ReaderFp(reader))


# ---- writing ---------------------------------------------------------------

_PLAIN = {"L": _raiiaf.FMT_G8, "LA": _raiiaf.FMT_GA8, "RGB": _raiiaf.FMT_RGB8,
          "RGBA": _raiiaf.FMT_RGBA8}


def _pixels(im):
    """(image, library format, bytes, palette, palette alpha): the image's
    samples in a format the library writes. Grey or RGB with a transparent
    colour gains an alpha channel (the library writes tRNS for palettes
    only), so no pixel's transparency is lost."""
    import numpy as np
    mode = im.mode
    trns = im.info.get("transparency")
    if mode == "1":
        im, mode = im.convert("L"), "L"
    if mode == "PA":
        im, mode, trns = im.convert("RGBA"), "RGBA", None
    if mode == "P":
        pal = bytes(im.getpalette("RGB") or [])
        alpha = None
        if isinstance(trns, (bytes, bytearray)):
            alpha = bytes(trns)
        elif isinstance(trns, int):
            alpha = b"\xff" * trns + b"\x00"
        return _raiiaf.FMT_INDEX8, im.tobytes(), pal, alpha
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        a = np.asarray(im)
        if mode == "I":
            a = np.clip(a, 0, 65535)
        a = a.astype("=u2")
        if trns is not None and not isinstance(trns, (tuple, bytes)):
            alpha = np.where(a == trns, 0, 65535).astype("=u2")
            return _raiiaf.FMT_GA16, np.dstack([a, alpha]).tobytes(), None, None
        return _raiiaf.FMT_G16, a.tobytes(), None, None
    if mode in ("L", "RGB") and trns is not None:
        im = im.convert("LA" if mode == "L" else "RGBA")
        mode = im.mode
    if mode not in _PLAIN:
        raise OSError(f"cannot write mode {mode} as {FORMAT}")
    return _PLAIN[mode], im.tobytes(), None, None


def _png_texts(im, source):
    """(keyword, text, compressed, international) of the text chunks to keep:
    the image's text (PNG text chunks, our own file's), not what we derived."""
    derived = source.parameters() if source is not None else None
    text = getattr(im, "text", None)
    items = text.items() if isinstance(text, dict) else im.info.items()
    out = []
    for key, value in items:
        if not isinstance(value, str) or key.startswith(TEXT_PREFIX) or key == "compression":
            continue
        if key == "parameters" and value == derived:
            continue
        if key == "XML:com.adobe.xmp" and "xmp" in im.info:
            continue
        international = isinstance(value, PngImagePlugin.iTXt)
        out.append((key, str(value), False, international))
    return out


def encode_png(im, level=-1, source=None):
    """The image and its PNG metadata as PNG bytes, encoded by the library."""
    fmt, data, palette, alpha = _pixels(im)
    info = im.info
    xmp = info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    exif = info.get("exif")
    if isinstance(exif, Image.Exif):
        exif = exif.tobytes()
    if exif is not None and exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    dpi = info.get("dpi")
    ppm = (int(round(dpi[0] / 0.0254)), int(round(dpi[1] / 0.0254))) if dpi else (0, 0)
    return _raiiaf.encode_png(im.width, im.height, fmt, data, level=level,
                              icc=info.get("icc_profile") or None, palette=palette,
                              palette_alpha=alpha, gamma=float(info.get("gamma") or 0.0),
                              srgb_intent=int(info.get("srgb", -1)), ppm=ppm,
                              texts=_png_texts(im, source), xmp=xmp, exif=exif or None)


def apply_info_texts(writer, info, source):
    """raiiaf:KEY entries of im.info changed (or added) since the file was
    opened become manifest fields."""
    before = dict(source.texts()) if source is not None else {}
    for key, value in info.items():
        if not key.startswith(TEXT_PREFIX) or not isinstance(value, str):
            continue
        name = key[len(TEXT_PREFIX):]
        if name.startswith(_DERIVED) or before.get(name) == value:
            continue
        writer.set_text(name, value)


def _save(im, fp, filename):
    from . import build
    opts = im.encoderinfo
    writer = build(im, latents=opts.get("latents"), metadata=opts.get("metadata"),
                   environment=opts.get("environment"), source=opts.get("source"),
                   storage=opts.get("storage", "auto"),
                   compression_level=opts.get("compress_level", -1), texts=opts.get("texts"))
    fp.write(writer.write_memory())


def register():
    Image.register_open(FORMAT, RaiiafImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, ".raiiaf")
    Image.register_mime(FORMAT, "image/x-raiiaf")
    Image.register_decoder("raiiaf", _Decoder)


register()
