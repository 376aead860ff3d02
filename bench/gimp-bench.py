# Run inside GIMP by bench/gimp.sh: times Gimp.file_load of each NAME.raiiaf
# and of NAME.png (its embedded PNG), alternating, and writes bench.txt.
# SPDX-License-Identifier: MIT
import os
import statistics
import time
import gi
gi.require_version('Gimp', '3.0')
from gi.repository import Gimp, Gio

folder = os.environ['RAIIAF_BENCH_DIR']
rounds = int(os.environ.get('RAIIAF_BENCH_ROUNDS', '5'))


def open_time(path):
    start = time.perf_counter()
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))
    elapsed = time.perf_counter() - start
    if image is None:
        raise RuntimeError('could not open ' + path)
    size = '%dx%d' % (image.get_width(), image.get_height())
    image.delete()
    return elapsed, size


lines = ['%-28s %10s %10s %10s %7s' % ('file', 'size', 'png ms', 'raiiaf ms', 'ratio')]
worst = 0.0
only = os.environ.get('RAIIAF_BENCH_ONLY', '')
for name in sorted(f[:-7] for f in os.listdir(folder) if f.endswith('.raiiaf') and only in f):
    raiiaf = os.path.join(folder, name + '.raiiaf')
    png = os.path.join(folder, name + '.png')
    open_time(raiiaf)   # warm the page cache and the plug-in binaries
    open_time(png)
    t_raiiaf, t_png = [], []
    for _ in range(rounds):
        t, size = open_time(raiiaf)
        t_raiiaf.append(t)
        t, _ = open_time(png)
        t_png.append(t)
    a, b = statistics.median(t_png), statistics.median(t_raiiaf)
    worst = max(worst, b / a)
    lines.append('%-28s %10s %10.1f %10.1f %7.3f' % (name, size, a * 1000, b * 1000, b / a))
lines.append('worst ratio %.3f (target <= 1.15), median of %d opens each' % (worst, rounds))
with open(os.path.join(folder, 'bench.txt'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
