# Runs inside GIMP 3 with its GUI (python-fu-eval batch interpreter), under
# Xvfb, driven by test-gimp-gui.py, which answers the export dialog from the
# keyboard. The work folder holds A.raiiaf and B.raiiaf (files with
# latents) and broken.raiiaf; results go to out/ and gui-checks.log.
#
# 1. A interactive export: the dialog is shown; the driver unticks
#    "Keep latents" and presses Export: out/A-dialog.raiiaf has no latents.
# 2. B "Export to"/Overwrite (last values): the values remembered from A
#    must not apply to B: out/B-last-values.raiiaf keeps B's latents.
# 3. A last values again: A's own choice applies: no latents.
# 4. A failed load (broken.raiiaf), for the console check of the driver.
#
# SPDX-License-Identifier: MIT

import os
import traceback

import gi
gi.require_version('Gimp', '3.0')
from gi.repository import Gimp, Gio  # noqa: E402

WORK = os.environ['RAIIAF_GIMP_TEST_DIR']
OUT = os.path.join(WORK, 'out')
LOG = open(os.path.join(WORK, 'gui-checks.log'), 'w')
PDB = Gimp.get_pdb()


def log(line):
    import time
    LOG.write('%s %s\n' % (time.strftime('%H:%M:%S'), line))
    LOG.flush()


def export(image, name, run_mode):
    proc = PDB.lookup_procedure('file-raiiaf-export')
    cfg = proc.create_config()
    cfg.set_property('run-mode', run_mode)
    cfg.set_property('image', image)
    cfg.set_property('file', Gio.File.new_for_path(os.path.join(OUT, name)))
    res = proc.run(cfg)
    log('export %s %s: %s' % (name, run_mode.value_nick, res.index(0).value_nick))


def main():
    a = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.path.join(WORK, 'A.raiiaf')))
    b = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.path.join(WORK, 'B.raiiaf')))
    Gimp.Display.new(a)
    Gimp.displays_flush()
    export(a, 'A-dialog.raiiaf', Gimp.RunMode.INTERACTIVE)
    export(b, 'B-last-values.raiiaf', Gimp.RunMode.WITH_LAST_VALS)
    export(a, 'A-last-values.raiiaf', Gimp.RunMode.WITH_LAST_VALS)
    broken = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                            Gio.File.new_for_path(os.path.join(WORK, 'broken.raiiaf')))
    log('broken load: %s' % ('image' if broken else 'refused'))
    broken_png = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                                Gio.File.new_for_path(os.path.join(WORK, 'broken.png')))
    log('broken PNG load: %s' % ('image' if broken_png else 'refused'))
    b.delete()


try:
    main()
except Exception:
    log('exception\n' + traceback.format_exc())
log('DONE')
LOG.close()
