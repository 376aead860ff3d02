#!/usr/bin/env python3
# The AI tools' PNG text through GIMP: PNGs from each tool's layout
# (tests/ai_pngs.py) opened as GIMP opens a file the user names (command
# line, File > Open: the image remembers the file it was imported from),
# exported as .raiiaf by the plug-in; the export must carry the prompt,
# settings and every text chunk. GIMP's own PNG loader keeps only a
# "Comment" chunk (the gimp-comment parasite); the plug-in reads the rest
# from the imported file.
#
#   test-gimp-aimeta.py --plugin PATH --probe PATH --gimp PROGRAM --api 3.0|2.0
#
# GIMP 2.10 opens command-line files interactively (its PNG loader needs a
# display), so it runs under xvfb-run.
#
# SPDX-License-Identifier: MIT

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ai_pngs import cases, import_problems  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    print(('ok - ' if cond else 'not ok - ') + what)
    if not cond:
        failures += 1
    return cond


GIMP3_SCRIPT = r'''
import os
from gi.repository import Gimp, Gio
out = os.environ["RAIIAF_AIMETA_OUT"]
with open(os.path.join(out, "gimp.log"), "w") as log:
    for img in Gimp.get_images():
        f = img.get_imported_file()
        name = os.path.basename(f.get_path())[:-4] if f else "unknown"
        ok = Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, img,
                            Gio.File.new_for_path(os.path.join(out, name + ".raiiaf")), None)
        log.write("%s %s\n" % (name, ok))
'''

GIMP2_SCRIPT = r'''
(let loop ((imgs (vector->list (cadr (gimp-image-list)))))
  (if (pair? imgs)
    (let* ((img (car imgs))
           (uri (car (gimp-image-get-imported-uri img)))
           (base (car (reverse (strbreakup uri "/"))))
           (name (substring base 0 (- (string-length base) 4)))
           (path (string-append "%s/" name ".raiiaf")))
      (gimp-file-save RUN-NONINTERACTIVE img (car (gimp-image-get-active-drawable img))
                      path path)
      (loop (cdr imgs)))))
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--plugin', required=True)
    ap.add_argument('--probe', required=True)
    ap.add_argument('--gimp', required=True)
    ap.add_argument('--api', default='3.0')
    args = ap.parse_args()
    args.plugin = os.path.abspath(args.plugin)
    args.probe = os.path.abspath(args.probe)
    if args.api == '2.0' and not shutil.which('xvfb-run'):
        print('xvfb-run not found: skipped')
        return 77
    with tempfile.TemporaryDirectory(prefix='raiiaf-gimp-ai-') as work:
        env = dict(os.environ)
        env['HOME'] = os.path.join(work, 'home')
        profile = 'GIMP2_DIRECTORY' if args.api == '2.0' else 'GIMP3_DIRECTORY'
        env[profile] = os.path.join(work, 'profile')
        env['RAIIAF_AIMETA_OUT'] = out = os.path.join(work, 'out')
        env.pop('DISPLAY', None)
        plugdir = os.path.join(env[profile], 'plug-ins', 'file-raiiaf')
        os.makedirs(plugdir)
        os.makedirs(env['HOME'])
        os.makedirs(out)
        os.symlink(args.plugin, os.path.join(plugdir, 'file-raiiaf'))
        pngs = []
        all_cases = cases()
        for name, (data, _) in all_cases.items():
            path = os.path.join(work, name + '.png')
            with open(path, 'wb') as f:
                f.write(data)
            pngs.append(path)
        if args.api == '2.0':
            cmd = ['xvfb-run', '-a', args.gimp, '-i', '-d', '-f',
                   '-b', GIMP2_SCRIPT % out, '-b', '(gimp-quit 0)', *pngs]
        else:
            script = os.path.join(work, 'export.py')
            with open(script, 'w') as f:
                f.write(GIMP3_SCRIPT)
            cmd = [args.gimp, '-i', '-d', '-f', '--batch-interpreter', 'python-fu-eval',
                   '-b', 'exec(open(%r).read())' % script, '--quit', *pngs]
        try:
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
            output = res.stdout + res.stderr
        except subprocess.TimeoutExpired as e:
            output = str(e.stdout or '') + str(e.stderr or '')
        check('Plug-in crashed: "file-raiiaf' not in output, 'no plug-in crash')
        for name, (data, exp) in all_cases.items():
            path = os.path.join(out, name + '.raiiaf')
            if not check(os.path.exists(path), '%s: GIMP exported %s.raiiaf' % (name, name)):
                continue
            dump = os.path.join(work, name + '.dump')
            os.makedirs(dump)
            r = subprocess.run([args.probe, 'dump', path, dump], capture_output=True, text=True)
            if not check(r.returncode == 0, '%s: the export dumps: %s' % (name, r.stderr.strip())):
                continue
            with open(os.path.join(dump, 'manifest.json'), encoding='utf-8') as f:
                manifest = json.load(f)['raiiaf_metadata']
            problems = import_problems(name, manifest, data, exp)
            check(not problems, '%s: prompt, settings and every text chunk carried %s'
                  % (name, '; '.join(problems)))
        if failures:
            print(output[-4000:])
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
