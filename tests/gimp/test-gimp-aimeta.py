#!/usr/bin/env python3
# The AI tools' PNG text through GIMP: PNGs from each tool's layout
# (tests/ai_pngs.py) opened as GIMP opens a file the user names (command
# line, File > Open: the image remembers the file it was imported from),
# exported as .raiiaf by the plug-in; the export must carry the prompt,
# settings and every text chunk, in the manifest and in its embedded PNG,
# byte for byte (keyword, chunk type, compression, language, translated
# keyword, text, in order). GIMP's own PNG loader keeps only a "Comment"
# chunk (the gimp-comment parasite); the plug-in reads the rest from the
# imported file. Each export is then opened in GIMP and exported again,
# as it is and with its pixels inverted: both keep every text chunk.
# One PNG has its comment changed in GIMP: the export writes the new one.
# A 20 MB ComfyUI workflow goes through too.
#
#   test-gimp-aimeta.py --plugin PATH --probe PATH --gimp PROGRAM --api 3.0|2.0
#                       [--tool PATH]
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
import checks  # noqa: E402  (check() and the failure count every driver shares)
from checks import check  # noqa: E402
from ai_pngs import big_workflow_png, cases, import_problems, png_texts, recorded  # noqa: E402


BIG = 'big-workflow'
# The PNG whose comment is changed in GIMP before the export.
EDITED = 'novelai'
EDITED_COMMENT = '{"prompt": "changed in GIMP"}'

GIMP3_SCRIPT = r'''
import os
from gi.repository import Gimp, Gio
NI = Gimp.RunMode.NONINTERACTIVE
out = os.environ["RAIIAF_AIMETA_OUT"]
edited, comment = os.environ["RAIIAF_AIMETA_EDITED"].split("\n", 1)
def path(name):
    return Gio.File.new_for_path(os.path.join(out, name))
with open(os.path.join(out, "gimp.log"), "w") as log:
    for img in Gimp.get_images():
        f = img.get_imported_file()
        name = os.path.basename(f.get_path())[:-4] if f else "unknown"
        if name == edited:
            img.attach_parasite(Gimp.Parasite.new("gimp-comment", Gimp.PARASITE_PERSISTENT,
                                                  (comment + "\0").encode()))
            name += "-comment"
        try:
            ok = Gimp.file_save(NI, img, path(name + ".raiiaf"), None)
            log.write("%s %s\n" % (name, ok))
            again = Gimp.file_load(NI, path(name + ".raiiaf"))
            Gimp.file_save(NI, again, path(name + "-again.raiiaf"), None)
            again.get_layers()[0].invert(False)
            Gimp.file_save(NI, again, path(name + "-inverted.raiiaf"), None)
        except Exception as e:  # the checks name what is missing
            log.write("%s failed: %s\n" % (name, e))
'''

GIMP2_SCRIPT = r'''
(define (save img path)
  (gimp-file-save RUN-NONINTERACTIVE img (car (gimp-image-get-active-drawable img)) path path))
(let loop ((imgs (vector->list (cadr (gimp-image-list)))))
  (if (pair? imgs)
    (let* ((img (car imgs))
           (uri (car (gimp-image-get-imported-uri img)))
           (base (car (reverse (strbreakup uri "/"))))
           (plain (substring base 0 (- (string-length base) 4)))
           (name (if (string=? plain "%(edited)s")
                     (begin
                       (gimp-image-attach-parasite img (list "gimp-comment" 1 "%(comment)s"))
                       (string-append plain "-comment"))
                     plain))
           (path (string-append "%(out)s/" name ".raiiaf")))
      (save img path)
      (let ((again (car (gimp-file-load RUN-NONINTERACTIVE path path))))
        (save again (string-append "%(out)s/" name "-again.raiiaf"))
        (gimp-drawable-invert (car (gimp-image-get-active-drawable again)) FALSE)
        (save again (string-append "%(out)s/" name "-inverted.raiiaf")))
      (loop (cdr imgs)))))
'''


def dump(args, work, out, label):
    """The manifest and embedded PNG of OUT/LABEL.raiiaf (raiiaf extract
    when the tool is given, the probe otherwise), or (None, None)."""
    path = os.path.join(out, label + '.raiiaf')
    if not check(os.path.exists(path), '%s: GIMP exported %s.raiiaf' % (label, label)):
        return None, None
    folder = os.path.join(work, label + '.dump')
    os.makedirs(folder)
    cmd = ([args.tool, 'extract', path, '-o', folder] if args.tool
           else [args.probe, 'dump', path, folder])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if not check(r.returncode == 0, '%s: the export unpacks: %s' % (label, r.stderr.strip())):
        return None, None
    with open(os.path.join(folder, 'manifest.json'), encoding='utf-8') as f:
        manifest = json.load(f)['raiiaf_metadata']
    with open(os.path.join(folder, 'image.png'), 'rb') as f:
        return manifest, f.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--plugin', required=True)
    ap.add_argument('--probe', required=True)
    ap.add_argument('--gimp', required=True)
    ap.add_argument('--api', default='3.0')
    ap.add_argument('--tool', help='the raiiaf tool: the embedded PNG through raiiaf extract')
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
        env['RAIIAF_AIMETA_EDITED'] = EDITED + '\n' + EDITED_COMMENT
        env.pop('DISPLAY', None)
        plugdir = os.path.join(env[profile], 'plug-ins', 'file-raiiaf')
        os.makedirs(plugdir)
        os.makedirs(env['HOME'])
        os.makedirs(out)
        os.symlink(args.plugin, os.path.join(plugdir, 'file-raiiaf'))
        pngs = []
        all_cases = cases()
        # a 20 MB workflow: too large for the manifest, kept by the
        # embedded PNG, and the file opens again in GIMP
        big, big_size = big_workflow_png(20 << 20)
        all_cases[BIG] = (big, None)
        for name, (data, _) in all_cases.items():
            path = os.path.join(work, name + '.png')
            with open(path, 'wb') as f:
                f.write(data)
            pngs.append(path)
        if args.api == '2.0':
            cmd = ['xvfb-run', '-a', args.gimp, '-i', '-d', '-f',
                   '-b', GIMP2_SCRIPT % {'out': out, 'edited': EDITED,
                                         'comment': EDITED_COMMENT.replace('"', '\\"')},
                   '-b', '(gimp-quit 0)', *pngs]
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
            texts = png_texts(data)
            edited = name == EDITED
            if edited:
                name += '-comment'
                texts = [t if t[1] != 'Comment' else t[:5] + (EDITED_COMMENT,) for t in texts]
            for variant in ('', '-again', '-inverted'):
                label = name + variant
                manifest, image = dump(args, work, out, label)
                if manifest is None:
                    continue
                if name == BIG:
                    rec = [c for c in manifest['ai_metadata']['png_text']
                           if c['keyword'] == 'workflow']
                    check(len(rec) == 1 and rec[0].get('in_image') is True and
                          rec[0].get('size') == big_size,
                          '%s: the workflow recorded by size, in the image: %r'
                          % (label, [{k: v for k, v in c.items() if k != 'text'} for c in rec]))
                elif not variant and not edited:
                    problems = import_problems(name, manifest, data, exp)
                    check(not problems, '%s: prompt, settings and every text chunk carried %s'
                          % (name, '; '.join(problems)))
                got = png_texts(image)
                check(got == texts, '%s: the embedded PNG holds every text chunk byte for byte'
                      '%s' % (label, '' if got == texts else ': %r, expected %r' % (got, texts)))
                if name != BIG:
                    check(recorded(manifest) == texts, '%s: the manifest records them' % label)
        if checks.failures:
            print(output[-4000:])
    return 1 if checks.failures else 0


if __name__ == '__main__':
    sys.exit(main())
