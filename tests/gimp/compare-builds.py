#!/usr/bin/env python3
# The GIMP plug-in of a shared and of a static build must write the same
# manifest (the static one once bound its json-c calls to json-glib's, see
# core/README.md, "json-c inside the library"). Not a meson test: it needs
# two build folders.
#
#   compare-builds.py PLUGIN_A PLUGIN_B RAIIAF_TOOL FIXTURES_DIR WORK_DIR [GIMP]
#
# Each plug-in, in a throwaway GIMP profile, opens every fixture and exports
# it again (GIMP's own metadata path), and
# the comment GIMP shows is recorded. The manifests must be byte-identical
# except for the time of the edit-history entry (and file_size, which the
# compressed size of that text changes); the comments identical.
#
# SPDX-License-Identifier: MIT
import glob
import json
import os
import re
import shutil
import subprocess
import sys

GIMP_SCRIPT = r'''
import os, gi
gi.require_version('Gimp', '3.0')
from gi.repository import Gimp, Gio
PDB = Gimp.get_pdb()
W = os.environ['RAIIAF_COMPARE_DIR']
out = open(os.path.join(W, 'comments.txt'), 'w')
def run(name, **props):
    proc = PDB.lookup_procedure(name)
    cfg = proc.create_config()
    for k, v in props.items():
        cfg.set_property(k.replace('_', '-'), v)
    res = proc.run(cfg)
    return res.index(0), [res.index(i) for i in range(1, res.length())]
for path in sorted(open(os.path.join(W, 'list.txt')).read().split('\n')):
    if not path:
        continue
    name = os.path.basename(path)
    st, v = run('file-raiiaf-load', run_mode=Gimp.RunMode.NONINTERACTIVE,
                file=Gio.File.new_for_path(path))
    if st != Gimp.PDBStatusType.SUCCESS:
        out.write('%s: load failed\n' % name)
        continue
    image = v[0]
    p = image.get_parasite('gimp-comment')
    text = bytes(b & 0xff for b in p.get_data()).decode('utf-8', 'replace') if p else '(none)'
    out.write('%s: comment %s\n' % (name, text.rstrip('\0')))
    out.flush()
    st, v = run('file-raiiaf-export', run_mode=Gimp.RunMode.NONINTERACTIVE, image=image,
                file=Gio.File.new_for_path(os.path.join(W, name)), options=None)
    out.write('%s: export %s\n' % (name, 'ok' if st == Gimp.PDBStatusType.SUCCESS else 'failed'))
out.close()
'''


def run_gimp(gimp, plugin, fixtures, work):
    shutil.rmtree(work, ignore_errors=True)
    plugdir = os.path.join(work, 'profile', 'plug-ins', 'file-raiiaf')
    os.makedirs(plugdir)
    os.makedirs(os.path.join(work, 'home'))
    os.symlink(os.path.abspath(plugin), os.path.join(plugdir, 'file-raiiaf'))
    with open(os.path.join(work, 'list.txt'), 'w') as f:
        f.write('\n'.join(sorted(glob.glob(os.path.join(os.path.abspath(fixtures), '*.raiiaf')))))
    script = os.path.join(work, 'export.py')
    with open(script, 'w') as f:
        f.write(GIMP_SCRIPT)
    env = dict(os.environ, HOME=os.path.join(work, 'home'),
               GIMP3_DIRECTORY=os.path.join(work, 'profile'), RAIIAF_COMPARE_DIR=work)
    env.pop('DISPLAY', None)
    r = subprocess.run([gimp, '-i', '-d', '-f', '--batch-interpreter', 'python-fu-eval',
                        '-b', 'exec(open(%r).read())' % script, '--quit'],
                       env=env, capture_output=True, text=True, timeout=600)
    with open(os.path.join(work, 'gimp-output.log'), 'w') as f:
        f.write(r.stdout + r.stderr)


def manifest(tool, path):
    """The manifest of a .raiiaf as stored (raiiaf extract)."""
    out = path + '.extracted'
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([tool, 'extract', '-o', out, path], check=True, capture_output=True)
    return open(os.path.join(out, 'manifest.json'), 'rb').read()


def main():
    a, b, tool, fixtures, work = sys.argv[1:6]
    work = os.path.abspath(work)
    gimp = sys.argv[6] if len(sys.argv) > 6 else 'gimp-console-3'
    dirs = [os.path.join(work, 'a'), os.path.join(work, 'b')]
    for plugin, d in zip((a, b), dirs):
        run_gimp(gimp, plugin, fixtures, d)
    failures = 0
    ca, cb = (open(os.path.join(d, 'comments.txt')).read()
              if os.path.exists(os.path.join(d, 'comments.txt')) else '' for d in dirs)
    print(ca, end='')
    if ca.count('export ok') == 0:
        print('FAIL: nothing exported (see %s/*/gimp-output.log)' % work)
        failures += 1
    if ca != cb:
        print('FAIL: the comments differ:\n' + cb)
        failures += 1
    for f in sorted(glob.glob(os.path.join(dirs[0], '*.raiiaf'))):
        g = os.path.join(dirs[1], os.path.basename(f))
        if not os.path.exists(g):
            print('FAIL: %s: only the first plug-in exported it' % os.path.basename(f))
            failures += 1
            continue
        ma, mb = manifest(tool, f), manifest(tool, g)
        # The edit's time, and the file size its compressed text makes.
        mask = re.compile(rb'("date": )"[^"]*"|("file_size": )[0-9]+')
        same = mask.sub(rb'\1\2-', ma) == mask.sub(rb'\1\2-', mb)
        print('%s: %s: manifests of %d and %d bytes %s' % (
            'ok' if same else 'FAIL', os.path.basename(f), len(ma), len(mb),
            'identical but for the edit date and file size' if same else 'differ'))
        failures += not same
    sys.exit(1 if failures else 0)


main()
