#!/usr/bin/python3
"""bench/python-batch.py [BUILD_DIR] [COPIES]

Files per second converting one folder of .raiiaf files to PNG (keeping
the `parameters` text) with pyraiiaf.batch on Dask's distributed scheduler
(a LocalCluster of 2 worker processes, loopback only, no dashboard; the
cluster's start-up timed apart), on multiprocessing (2 processes, start-up
included), and with `magick mogrify -format png` through our ImageMagick
coder. The folder holds COPIES (default 8) copies of every fixture.
Figures only.

  packaging/devenv bench/python-batch.py build
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
copies = int(sys.argv[2]) if len(sys.argv) > 2 else 8
top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(build, "plugins", "python"))
os.environ["PYTHONPATH"] = os.path.join(os.path.abspath(build), "plugins", "python")

from pyraiiaf.batch import convert_folder, pairs, _dask_run  # noqa: E402


def main():
    with tempfile.TemporaryDirectory(dir=build) as work:
        src = os.path.join(work, "in")
        os.makedirs(src)
        for i in range(copies):
            for path in glob.glob(os.path.join(top, "tests", "fixtures", "*.raiiaf")):
                shutil.copy(path, os.path.join(src, f"{i}-{os.path.basename(path)}"))
        n = len(os.listdir(src))
        print(f"{n} files (512x512 and 320x240), 2 workers")

        from dask.distributed import Client, LocalCluster
        t = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            start = time.perf_counter() - t
            out = os.path.join(work, "dask")
            os.makedirs(out)
            t = time.perf_counter()
            _dask_run(client, pairs(src, out))
            dt = time.perf_counter() - t
        print(f"dask distributed   {n / dt:7.1f} files/s  ({dt:.2f} s; cluster start {start:.2f} s)")

        t = time.perf_counter()
        convert_folder(src, os.path.join(work, "mp"), engine="multiprocessing", workers=2)
        dt = time.perf_counter() - t
        print(f"multiprocessing    {n / dt:7.1f} files/s  ({dt:.2f} s, pool start included)")

        magick = shutil.which("magick")
        coder = os.path.join(build, "plugins", "imagemagick")
        if magick and os.path.isdir(coder):
            system = subprocess.run([magick, "-list", "configure"], capture_output=True,
                                    text=True).stdout
            system_dir = [line.split()[1] for line in system.splitlines()
                          if line.startswith("CODER_PATH")]
            env = dict(os.environ, MAGICK_CODER_MODULE_PATH=":".join([coder] + system_dir),
                       OMP_NUM_THREADS="2")
            mog = os.path.join(work, "mogrify")
            shutil.copytree(src, mog)
            t = time.perf_counter()
            subprocess.run([magick, "mogrify", "-format", "png", *glob.glob(mog + "/*.raiiaf")],
                           check=True, env=env)
            dt = time.perf_counter() - t
            print(f"magick mogrify     {n / dt:7.1f} files/s  ({dt:.2f} s, one process)")
        else:
            print("magick mogrify     (magick or the build's coder not found)")


if __name__ == "__main__":
    main()
