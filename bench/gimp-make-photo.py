# Run inside GIMP by bench/gimp.sh: the bench photo as a .raiiaf.
# SPDX-License-Identifier: MIT
import os
import gi
gi.require_version('Gimp', '3.0')
from gi.repository import Gimp, Gio

src = os.environ['RAIIAF_BENCH_PHOTO']
dst = os.path.join(os.environ['RAIIAF_BENCH_DIR'], 'photo-4096.raiiaf')
image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(src))
proc = Gimp.get_pdb().lookup_procedure('file-raiiaf-export')
cfg = proc.create_config()
cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
cfg.set_property('image', image)
cfg.set_property('file', Gio.File.new_for_path(dst))
cfg.set_property('compression', 6)
cfg.set_property('prompt', 'benchmark photo')
res = proc.run(cfg)
if res.index(0) != Gimp.PDBStatusType.SUCCESS:
    raise RuntimeError('export failed: %s' % (res.index(1),))
image.delete()
