#!/usr/bin/env python3
# XCF between GIMP 2.10 and GIMP 3: an XCF saved by one GIMP from a .raiiaf
# our plug-in opened, opened in the other GIMP, must export a complete
# .raiiaf (the same latents in the same order, manifest, environment; the
# original PNG bytes, as nothing was edited). Each environment has one
# GIMP, so the XCFs are fixtures in tests/gimp/xcf/, made by our plug-in
# in each GIMP (`make`, see tests/gimp/xcf/regenerate.sh), and each
# environment's test (`check`, suite gimp) opens every XCF there, its own
# GIMP's and the other's, and exports it.
#
#   xcf-cross.py make  --gimp CONSOLE --api 3.0|2.0 --plugin PATH --fixtures DIR
#   xcf-cross.py check --gimp CONSOLE --api 3.0|2.0 --plugin PATH --fixtures DIR
#                      --probe PATH [--tool PATH]
#
# DIR/cross.raiiaf is the source (a PNG with pHYs, XMP, Exif and text,
# latents packed in the order c, a, b, a prompt, model and seed, an
# environment); `make --new-source --tool PATH` makes it again. GIMP opens
# it from /tmp/raiiaf-xcf-cross/ (the origin record of the XCF names that
# path, so that no machine's own path ends up in the fixtures), and `check`
# puts it there again, so an export of the unchanged image copies its
# original PNG bytes.
#
# SPDX-License-Identifier: MIT

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import checks  # noqa: E402  (check() and the failure count every driver shares)
from checks import check  # noqa: E402

SOURCE_DIR = '/tmp/raiiaf-xcf-cross'
TIMEOUT = 300


def load_test_gimp():
    """test-gimp.py as a module: its read() and the PNG and .npy makers."""
    spec = importlib.util.spec_from_file_location(
        'test_gimp', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'test-gimp.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tg = load_test_gimp()
read = tg.read


def xcf_name(api):
    return 'cross-gimp%s.xcf' % ('2.10' if api == '2.0' else '3.0')


def new_source(args, out):
    """cross.raiiaf: test-gimp.py's PNG with metadata, latents c, a, b."""
    src = tempfile.mkdtemp()
    try:
        with open(os.path.join(src, 'cross.png'), 'wb') as f:
            f.write(tg.make_png(24, 16))
        cmd = [args.tool, 'pack', '-f', '-o', out, '--image', os.path.join(src, 'cross.png')]
        for key, seed in (('c', 3), ('a', 5), ('b', 7)):
            npy = os.path.join(src, key + '.npy')
            tg.write_npy(npy, (1, 4, 4, 4), seed)
            cmd += ['--latent', '%s=%s' % (key, npy)]
        with open(os.path.join(src, 'meta.json'), 'w') as f:
            json.dump({'model_name': 'cross-model', 'prompt': 'a lighthouse, at dusk',
                       'generation_settings': {'seed': 1234, 'steps': 20,
                                               'sampler': 'euler', 'cfg_scale': 7.0}}, f)
        with open(os.path.join(src, 'env.json'), 'w') as f:
            json.dump({'os': 'test', 'python': '3', 'torch': '2'}, f)
        cmd += ['--metadata', os.path.join(src, 'meta.json'),
                '--env', os.path.join(src, 'env.json')]
        subprocess.run(cmd, check=True, timeout=60)
    finally:
        shutil.rmtree(src)


def q(text):
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def gimp_command(args, pairs, make):
    """One GIMP run: (source, target) pairs, each opened and saved as XCF
    (make) or exported to .raiiaf with the plug-in's defaults (check)."""
    if args.api == '2.0':
        body = []
        for src, dst in pairs:
            if make:
                body.append('(let ((i (car (file-raiiaf-load RUN-NONINTERACTIVE %s %s)))) '
                            '(gimp-xcf-save RUN-NONINTERACTIVE i '
                            '(car (gimp-image-get-active-drawable i)) %s %s))'
                            % (q(src), q(src), q(dst), q(dst)))
            else:
                body.append('(let ((i (car (gimp-xcf-load RUN-NONINTERACTIVE %s %s)))) '
                            '(file-raiiaf-export RUN-NONINTERACTIVE i '
                            '(car (gimp-image-get-active-drawable i)) %s %s 6 "keep" 1 "" "" '
                            '1 1 1 1 1))' % (q(src), q(src), q(dst), q(dst)))
        return [args.gimp, '-i', '-d', '-f'] + \
            [a for b in body for a in ('-b', b)] + ['-b', '(gimp-quit 0)']
    code = ['import gi', "gi.require_version('Gimp', '3.0')",
            'from gi.repository import Gimp, Gio',
            'NI = Gimp.RunMode.NONINTERACTIVE']
    for src, dst in pairs:
        code.append('img = Gimp.file_load(NI, Gio.File.new_for_path(%r))' % src)
        if make:
            code.append('Gimp.file_save(NI, img, Gio.File.new_for_path(%r), None)' % dst)
        else:
            code += ["proc = Gimp.get_pdb().lookup_procedure('file-raiiaf-export')",
                     'cfg = proc.create_config()',
                     "cfg.set_property('run-mode', NI)",
                     "cfg.set_property('image', img)",
                     "cfg.set_property('file', Gio.File.new_for_path(%r))" % dst,
                     "cfg.set_property('options', None)",
                     'proc.run(cfg)']
    return [args.gimp, '-i', '-d', '-f', '--batch-interpreter', 'python-fu-eval',
            '-b', '\n'.join(code), '--quit']


def run_gimp(args, work, pairs, make):
    env = dict(os.environ, HOME=os.path.join(work, 'home'))
    profile = 'GIMP2_DIRECTORY' if args.api == '2.0' else 'GIMP3_DIRECTORY'
    env[profile] = os.path.join(work, 'profile')
    env.pop('DISPLAY', None)
    plugdir = os.path.join(env[profile], 'plug-ins', 'file-raiiaf')
    os.makedirs(plugdir)
    os.makedirs(env['HOME'])
    os.symlink(os.path.abspath(args.plugin), os.path.join(plugdir, 'file-raiiaf'))
    res = subprocess.run(gimp_command(args, pairs, make), env=env, capture_output=True,
                         text=True, timeout=TIMEOUT)
    output = res.stdout + res.stderr
    with open(os.path.join(work, 'gimp-output.log'), 'w') as f:
        f.write(output)
    return output


def place_source(args):
    os.makedirs(SOURCE_DIR, exist_ok=True)
    src = os.path.join(SOURCE_DIR, 'cross.raiiaf')
    shutil.copyfile(os.path.join(args.fixtures, 'cross.raiiaf'), src)
    return src


def make(args, work):
    if args.new_source:
        new_source(args, os.path.join(args.fixtures, 'cross.raiiaf'))
    src = place_source(args)
    xcf = os.path.join(args.fixtures, xcf_name(args.api))
    output = run_gimp(args, work, [(src, xcf)], make=True)
    if not os.path.exists(xcf):
        print(output[-3000:])
        return 1
    print('wrote ' + xcf)
    return 0


def probe(args, *cmd):
    return subprocess.run([args.probe, *cmd], capture_output=True, text=True, timeout=60)


def check_exports(args, work):
    place_source(args)
    xcfs = sorted(f for f in os.listdir(args.fixtures) if f.endswith('.xcf'))
    check(set(xcfs) >= {'cross-gimp2.10.xcf', 'cross-gimp3.0.xcf'},
          'an XCF of each GIMP: %s' % ', '.join(xcfs))
    pairs = [(os.path.join(args.fixtures, x), os.path.join(work, x[:-4] + '.raiiaf'))
             for x in xcfs]
    output = run_gimp(args, work, pairs, make=False)
    for needle in ('Plug-in crashed', 'Segmentation fault', 'file-raiiaf-CRITICAL'):
        check(needle not in output, 'GIMP output has no "%s"' % needle)
    orig = os.path.join(work, 'orig')
    os.makedirs(orig)
    probe(args, 'dump', os.path.join(args.fixtures, 'cross.raiiaf'), orig)
    want_info = json.load(open(os.path.join(orig, 'info.json')))
    for xcf, out in pairs:
        name = os.path.basename(xcf)
        if not check(os.path.exists(out), '%s: exported to .raiiaf' % name):
            print(output[-3000:])
            continue
        check(probe(args, 'verify', out).returncode == 0, '%s: the export verifies' % name)
        d = os.path.join(work, name + '.d')
        os.makedirs(d)
        if not check(probe(args, 'dump', out, d).returncode == 0, '%s: the library reads it' % name):
            continue
        got_info = json.load(open(os.path.join(d, 'info.json')))
        keys = [latent['key'] for latent in got_info['latents']]
        check(keys == ['c', 'a', 'b'], '%s: latents in the file\'s order c, a, b (%s)' % (name, keys))
        for i in range(len(want_info['latents'])):
            check(os.path.exists(os.path.join(d, 'latent-%d.stored' % i)) and
                  read(os.path.join(d, 'latent-%d.stored' % i)) ==
                  read(os.path.join(orig, 'latent-%d.stored' % i)),
                  '%s: latent %d bit for bit' % (name, i))
        check(read(os.path.join(d, 'environment.json')) ==
              read(os.path.join(orig, 'environment.json')), '%s: environment identical' % name)
        check(read(os.path.join(d, 'image.png')) == read(os.path.join(orig, 'image.png')),
              '%s: the original PNG bytes (nothing was edited)' % name)
        src = os.path.join(args.fixtures, 'cross.raiiaf')
        for key in ('prompt', 'model', 'seed', 'steps'):
            a, b = probe(args, 'text', out, key).stdout, probe(args, 'text', src, key).stdout
            check(a == b and a.strip(), '%s: %s kept (%r)' % (name, key, a.strip()))
        check(probe(args, 'text', out, 'edit-history').stdout.strip() == '',
              '%s: no edit recorded' % name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=('make', 'check'))
    ap.add_argument('--gimp', required=True)
    ap.add_argument('--api', required=True, choices=('3.0', '2.0'))
    ap.add_argument('--plugin', required=True)
    ap.add_argument('--fixtures', required=True)
    ap.add_argument('--probe')
    ap.add_argument('--tool')
    ap.add_argument('--new-source', action='store_true',
                    help='make: also make DIR/cross.raiiaf again (needs --tool)')
    ap.add_argument('--keep', action='store_true')
    args = ap.parse_args()
    if shutil.which(args.gimp) is None:
        print('%s not found' % args.gimp)
        return 77
    for key in ('plugin', 'probe', 'tool', 'fixtures'):
        if getattr(args, key):
            setattr(args, key, os.path.abspath(getattr(args, key)))
    base = os.path.dirname(args.probe) if args.probe else None
    work = tempfile.mkdtemp(prefix='xcf-cross-', dir=base)
    try:
        if args.mode == 'make':
            return make(args, work)
        check_exports(args, work)
    finally:
        if args.keep or checks.failures:
            print('work folder kept: ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print('%d failure(s)' % checks.failures)
    return 1 if checks.failures else 0


if __name__ == '__main__':
    sys.exit(main())
