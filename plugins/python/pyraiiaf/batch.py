"""Batch conversion of .raiiaf files to PNG, one file per task, on Dask's
distributed scheduler or on multiprocessing. The PNG keeps the pixels,
the ICC profile, the embedded PNG's text chunks and the prompt and settings
as a `parameters` text chunk (AUTOMATIC1111 layout).

    from pyraiiaf.batch import to_png, convert_folder
    convert_folder("in/", "out/", engine="dask")            # a LocalCluster of 2
    convert_folder("in/", "out/", engine="dask", client=Client("tcp://sched:8786"))
    convert_folder("in/", "out/", engine="multiprocessing", workers=2)
"""
import glob
import os


def to_png(src, dst):
    """Converts one file; returns dst. Runs in a worker: imports there."""
    from PIL import Image, PngImagePlugin
    from . import pillow  # noqa: F401 - registers the format in the worker
    with Image.open(src) as im:
        im.load()
        info = PngImagePlugin.PngInfo()
        for key, value in im.text.items():
            if isinstance(value, PngImagePlugin.iTXt):
                info.add_itxt(key, value, value.lang or "", value.tkey or "")
            else:
                info.add_text(key, value)
        if "parameters" in im.info:
            info.add_text("parameters", im.info["parameters"])
        params = {"pnginfo": info}
        for key in ("icc_profile", "transparency", "dpi", "exif"):
            if key in im.info:
                params[key] = im.info[key]
        tmp = dst + ".part"
        im.save(tmp, "PNG", **params)
    os.replace(tmp, dst)
    return dst


def pairs(src_dir, dst_dir):
    """(src, dst) for every *.raiiaf in src_dir, sorted."""
    out = []
    for src in sorted(glob.glob(os.path.join(src_dir, "*.raiiaf"))):
        name = os.path.basename(src)[: -len(".raiiaf")] + ".png"
        out.append((src, os.path.join(dst_dir, name)))
    return out


def convert_folder(src_dir, dst_dir, engine="dask", workers=2, client=None):
    """Converts every .raiiaf of src_dir into dst_dir; returns the PNG paths.

    engine "dask": on `client` (any dask.distributed Client: a cluster of
    many machines works the same, given paths every worker can read and
    write), or on a LocalCluster of `workers` processes on this machine
    (loopback only, no dashboard). engine "multiprocessing": a Pool."""
    os.makedirs(dst_dir, exist_ok=True)
    jobs = pairs(src_dir, dst_dir)
    if engine == "multiprocessing":
        import multiprocessing
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            return pool.starmap(to_png, jobs)
    if engine != "dask":
        raise ValueError(f"unknown engine {engine!r}")
    if client is not None:
        return _dask_run(client, jobs)
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as local:
        return _dask_run(local, jobs)


def _dask_run(client, jobs):
    futures = client.map(to_png, [s for s, _ in jobs], [d for _, d in jobs], pure=False)
    return client.gather(futures)
