# Run inside GIMP by bench/gimp.sh: times Gimp.file_load of each NAME.raiiaf
# and of NAME.png (its embedded PNG), alternating; then exporting the image
# opened from NAME.png as .raiiaf (file-raiiaf, default compression) and as
# .png (GIMP's PNG export, its defaults), alternating, with the files'
# sizes; writes bench.txt.
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


def export_time(image, path):
    start = time.perf_counter()
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(path), None)
    return time.perf_counter() - start


lines.append('')
lines.append('%-28s %10s %10s %7s %12s %12s' % ('export', 'png ms', 'raiiaf ms', 'ratio',
                                                'png bytes', 'raiiaf bytes'))
worst = 0.0
for name in sorted(f[:-7] for f in os.listdir(folder) if f.endswith('.raiiaf') and only in f):
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                           Gio.File.new_for_path(os.path.join(folder, name + '.png')))
    out_png = os.path.join(folder, 'export-' + name + '.png')
    out_raiiaf = os.path.join(folder, 'export-' + name + '.raiiaf')
    t_raiiaf, t_png = [], []
    for _ in range(rounds):
        t_raiiaf.append(export_time(image, out_raiiaf))
        t_png.append(export_time(image, out_png))
    image.delete()
    a, b = statistics.median(t_png), statistics.median(t_raiiaf)
    worst = max(worst, b / a)
    lines.append('%-28s %10.1f %10.1f %7.3f %12d %12d' % (
        name, a * 1000, b * 1000, b / a, os.path.getsize(out_png), os.path.getsize(out_raiiaf)))
    os.unlink(out_png)
    os.unlink(out_raiiaf)
lines.append('worst export ratio %.3f (target <= 0.50; raiiaf bytes: the whole file, its PNG '
             'plus the manifest), median of %d exports each' % (worst, rounds))
with open(os.path.join(folder, 'bench.txt'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
