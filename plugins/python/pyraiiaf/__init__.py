"""pyraiiaf: .raiiaf files (an image, its latent tensors and metadata) in
Python, through the C library libraiiaf.

    import pyraiiaf
    f = pyraiiaf.open("photo.raiiaf")          # a path, bytes or a file object
    f.latents["initial_noise"]                 # NumPy array, the file's dtype and shape
    f.manifest["raiiaf_metadata"]["model_info"]["prompt"]
    f.image()                                  # a Pillow image (pixels on load())
    pyraiiaf.write("new.raiiaf", image, latents={"initial_noise": arr},
                   metadata={"model_name": "sdxl", "prompt": "a cat"})

    import pyraiiaf.pillow                     # Image.open("x.raiiaf") from now on

Every failure of the library raises pyraiiaf.Error (an OSError) with the
library's message and its error code in .code. The reference package owns
the name `raiiaf`; this one is `pyraiiaf`.
"""
import json as _json
import os as _os

from . import _raiiaf
from ._raiiaf import Error  # noqa: F401

__all__ = ["Error", "RaiiafFile", "open", "write", "register", "library_version"]
__version__ = "0.1.0"
library_version = _raiiaf.library_version

_STORAGE = {"auto": _raiiaf.STORAGE_AUTO, "raw": _raiiaf.STORAGE_RAW, "zfp": _raiiaf.STORAGE_ZFP}


def _reader(source, max_pixels=0):
    """A _raiiaf.Reader over a path, bytes-like object or binary file object."""
    if isinstance(source, _raiiaf.Reader):
        return source
    return _raiiaf.Reader(source, max_pixels)


class RaiiafFile:
    """One opened .raiiaf file. The header and manifest are read at once;
    the environment, latents and pixels when asked for."""

    def __init__(self, source, max_pixels=0):
        self._reader = _reader(source, max_pixels)
        self._latents = None
        self._manifest = None

    @property
    def header(self):
        return self._reader.header()

    @property
    def manifest(self):
        """The manifest as a dict ({"raiiaf_metadata": {...}})."""
        if self._manifest is None:
            self._manifest = _json.loads(self._reader.manifest_json())
        return self._manifest

    @property
    def environment(self):
        """The environment as a dict ({} when the file has none)."""
        text = self._reader.env_json()
        return _json.loads(text) if text is not None else {}

    @property
    def latent_info(self):
        """[{key, dtype, shape, storage, decoded_size, stored_size}] in file order."""
        return [self._reader.latent_info(i) for i in range(self._reader.latent_count())]

    @property
    def latents(self):
        """{key: ndarray} in file order, decoded (and checked) on first use."""
        if self._latents is None:
            r = self._reader
            out = {}
            for i in range(r.latent_count()):
                out[r.latent_info(i)["key"]] = r.decode_latent(i)
            self._latents = out
        return self._latents

    @property
    def texts(self):
        """What a person reads, as ordered (key, value) pairs in a dict:
        model, prompt, seed, steps, ... (the library's flattened view)."""
        return dict(self._reader.texts())

    @property
    def parameters(self):
        """Prompt and settings in the AUTOMATIC1111 `parameters` layout."""
        return self._reader.parameters()

    @property
    def png(self):
        """The embedded PNG's bytes, exactly as stored."""
        return self._reader.image_data()

    def image(self):
        """The image as a Pillow image (mode as Pillow's PNG plugin gives
        it); pixels are decoded on load()."""
        from . import pillow
        return pillow.image_from_reader(self._reader)

    def verify(self):
        """Checks every payload and decodes every pixel; raises Error."""
        self._reader.verify()


def open(source, max_pixels=0):  # noqa: A001 - the module's reading entry point
    """Opens a .raiiaf from a path, bytes (or any bytes-like object) or a
    binary file object. max_pixels: the largest width x height accepted
    (0: the library's default)."""
    return RaiiafFile(source, max_pixels)


def _add_latents(writer, latents, storage):
    writer.clear_latents()
    import numpy as np
    for key, arr in latents.items():
        if isinstance(arr, (bytes, bytearray, memoryview)):
            writer.add_latent_stored(arr)
            continue
        a = np.asarray(arr)
        if a.dtype not in (np.float32, np.float16):
            raise Error(f"latent {key!r}: dtype {a.dtype} (a .raiiaf holds float32 or float16; "
                        "convert it first)")
        writer.add_latent(str(key), np.ascontiguousarray(a), _STORAGE[storage])


def build(image, latents=None, metadata=None, environment=None, source=None,
          storage="auto", compression_level=-1, texts=None, software=None):
    """A _raiiaf.Writer holding everything of a file (see write()).

    source: a RaiiafFile or Reader the image came from: its manifest fields,
    environment and latents are carried over unless given here."""
    from . import pillow
    if isinstance(source, RaiiafFile):
        source = source._reader
    if source is None and hasattr(image, "info"):
        source = image.info.get(pillow.SOURCE_KEY)
    writer = _raiiaf.Writer(source) if source is not None else _raiiaf.Writer()
    name, version, action = software or ("pyraiiaf", __version__, "edited")
    writer.set_software(name, version, action if source is not None else None)
    writer.set_image_png(pillow.encode_png(image, compression_level, source))
    if metadata is not None:
        writer.set_metadata_json(metadata if isinstance(metadata, str) else _json.dumps(metadata))
    if hasattr(image, "info"):
        pillow.apply_info_texts(writer, image.info, source)
    for key, value in (texts or {}).items():
        writer.set_text(key, None if value is None else str(value))
    if environment is not None:
        writer.set_env_json(environment if isinstance(environment, str)
                            else _json.dumps(environment))
    if latents is not None:
        _add_latents(writer, latents, storage)
    elif storage != "auto" and source is not None:
        writer.set_latent_storage(_STORAGE[storage])
    return writer


def write(target, image, latents=None, metadata=None, environment=None, source=None,
          storage="auto", compression_level=-1, texts=None):
    """Writes a .raiiaf.

    target: a path (written all or nothing: an error leaves an existing file
    as it was) or a binary file object.
    image: a Pillow image, or a NumPy array (H x W, H x W x 2/3/4; uint8 or
    uint16).
    latents: {key: float32/float16 array} in the order to store them; None
    keeps the latents of `source` (or of the file the image was opened
    from), {} writes none.
    metadata: a model_info dict ({"model_name", "prompt", "tags",
    "generation_settings", ...}) or a whole manifest; environment: a dict.
    storage: "auto" (the smaller of zfp and raw), "raw" or "zfp".
    texts: {key: value} by the library's text keys (prompt, seed, ...).
    """
    if not hasattr(image, "mode"):
        from PIL import Image
        import numpy as np
        image = Image.fromarray(np.asarray(image))
    w = build(image, latents, metadata, environment, source, storage, compression_level, texts)
    if hasattr(target, "write"):
        target.write(w.write_memory())
    else:
        w.write_file(_os.fspath(target))


def register():
    """Registers the RAIIAF format with Pillow (Image.open, im.save)."""
    from . import pillow
    pillow.register()
