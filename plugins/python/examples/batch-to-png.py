#!/usr/bin/python3
"""Converts every .raiiaf of a folder to PNG (pixels, ICC profile, text and
the `parameters` prompt text kept) with Dask or multiprocessing.

    batch-to-png.py IN_DIR OUT_DIR [--engine dask|multiprocessing]
                    [--workers N] [--scheduler tcp://HOST:8786]

Without --scheduler, Dask runs a local cluster of N worker processes
(loopback only, no dashboard); with it, the tasks go to that cluster, whose
workers must see IN_DIR and OUT_DIR at the same paths.
"""
import argparse
import time

from pyraiiaf.batch import convert_folder


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--engine", choices=["dask", "multiprocessing"], default="dask")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", help="address of a running Dask scheduler")
    args = ap.parse_args()
    client = None
    if args.scheduler:
        from dask.distributed import Client
        client = Client(args.scheduler)
    t = time.perf_counter()
    done = convert_folder(args.src, args.dst, engine=args.engine, workers=args.workers,
                          client=client)
    dt = time.perf_counter() - t
    print(f"{len(done)} files in {dt:.2f} s ({len(done) / dt:.1f} files/s)")


if __name__ == "__main__":
    main()
