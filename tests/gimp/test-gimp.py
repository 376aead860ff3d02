#!/usr/bin/env python3
# The GIMP plug-in through the real headless GIMP 3 (gimp-console-3.0).
#
#   test-gimp.py --plugin PATH --probe PATH --fixtures DIR [--gimp PROGRAM]
#
# 1. A throwaway GIMP profile (HOME, GIMP3_DIRECTORY) whose plug-ins folder
#    holds the build tree's file-raiiaf in its own sub-folder.
# 2. The library's view of every fixture (raiiaf-probe dump), and
#    corrupt files made here with the library's message for each.
# 3. One GIMP run executes gimp-checks.py (python-fu-eval) under a timeout.
# 4. The files GIMP exported are checked with the library: they verify,
#    keep the latents bit for bit, record the edit and the prompt given.
#
# SPDX-License-Identifier: MIT

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

GIMP_TIMEOUT = 420
failures = 0


def check(cond, what):
    global failures
    print(('ok - ' if cond else 'not ok - ') + what)
    if not cond:
        failures += 1
    return cond


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def dump_info(folder):
    """latent_count and latent-N-key from the probe's info.json."""
    with open(os.path.join(folder, 'info.json'), encoding='utf-8') as f:
        latents = json.load(f)['latents']
    info = {'latent_count': str(len(latents))}
    for i, latent in enumerate(latents):
        info['latent-%d-key' % i] = latent['key']
    return info


def probe(args, *cmd, check_rc=True):
    res = subprocess.run([args.probe, *cmd], capture_output=True, text=True, timeout=120)
    if check_rc and res.returncode != 0:
        raise RuntimeError('raiiaf-probe %s: %s' % (' '.join(cmd), res.stderr))
    return res


def make_corrupt(args, work, fixtures):
    """Broken files, each with the library's own message for it."""
    cdir = os.path.join(work, 'corrupt')
    os.makedirs(cdir)
    name, path = fixtures[0]
    good = read(path)
    variants = {
        'empty': b'',
        'bad-magic': b'RAIIAF' + good[6:],
        'truncated-header': good[:20],
        'truncated-half': good[:len(good) // 2],
        'truncated-tail': good[:-7],
        'garbage': b'raiiaf' + bytes(range(256)) * 8,
    }
    # A flipped byte inside a chunk: found through the manifest's records,
    # whatever order the chunks are in.
    manifest = json.loads(read(os.path.join(work, 'dump', name, 'manifest.json')))
    for record in manifest['raiiaf_metadata']['chunks']:
        at = record['offset'] + record['compressed_size'] // 2
        variants['flipped-%s-%d' % (record['type'].lower(), record['index'])] = \
            good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1:]
    # The manifest sits at the end; a flipped byte there may still leave a
    # valid manifest (META has no sha256), so it is used only if rejected.
    variants['flipped-meta'] = good[:-30] + bytes([good[-30] ^ 0x5A]) + good[-29:]
    made = []
    for variant, data in variants.items():
        fpath = os.path.join(cdir, variant + '.raiiaf')
        with open(fpath, 'wb') as f:
            f.write(data)
        res = probe(args, 'error', fpath, check_rc=False)
        message = res.stdout.strip()
        rejected = res.returncode == 0 and message
        if variant == 'flipped-meta' and not rejected:
            print('# %s: still a valid file, not used' % variant)
            os.unlink(fpath)
            continue
        if not check(rejected, 'library rejects %s: %s' % (variant, message)):
            os.unlink(fpath)
            continue
        with open(os.path.join(cdir, variant + '.expect'), 'w') as f:
            f.write(message)
        made.append(variant)
    return made


def run_gimp(args, work):
    env = dict(os.environ)
    env['HOME'] = os.path.join(work, 'home')
    env['GIMP3_DIRECTORY'] = os.path.join(work, 'profile')
    env['RAIIAF_GIMP_TEST_DIR'] = work
    env.pop('DISPLAY', None)
    plugdir = os.path.join(env['GIMP3_DIRECTORY'], 'plug-ins', 'file-raiiaf')
    os.makedirs(plugdir)
    os.makedirs(env['HOME'])
    # GIMP 3 runs only plug-ins that sit in a folder named like them. A
    # link, not a copy: the build tree's executable finds libraiiaf
    # relative to where it really is.
    os.symlink(args.plugin, os.path.join(plugdir, 'file-raiiaf'))

    checks = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gimp-checks.py')
    cmd = [args.gimp, '-i', '-d', '-f', '--batch-interpreter', 'python-fu-eval',
           '-b', 'exec(open(%r).read())' % checks, '--quit']
    try:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=GIMP_TIMEOUT)
        rc, output = res.returncode, res.stdout + res.stderr
    except subprocess.TimeoutExpired as e:
        rc, output = 'timeout', str(e.stdout or '') + str(e.stderr or '')
    with open(os.path.join(work, 'gimp-output.log'), 'w') as f:
        f.write(output)

    log = os.path.join(work, 'gimp-checks.log')
    lines = open(log).read().splitlines() if os.path.exists(log) else []
    for line in lines:
        print('gimp: ' + line)
    check(rc == 0, 'GIMP exits 0 (got %s)' % rc)
    check(bool(lines) and lines[-1] == 'DONE failures=0', 'every check inside GIMP passed')
    for needle in ('Plug-in crashed', 'Segmentation fault', 'file-raiiaf-CRITICAL',
                   'file-raiiaf-WARNING'):
        check(needle not in output, 'GIMP output has no "%s"' % needle)
    if rc != 0 or not lines or lines[-1] != 'DONE failures=0':
        print(output[-6000:])


def check_exports(args, work, fixtures):
    out = os.path.join(work, 'out')
    if args.tool:
        exported = sorted(f for f in os.listdir(out) if f.endswith('.raiiaf') and f != 'keep.raiiaf')
        res = subprocess.run([args.tool, 'verify'] + [os.path.join(out, f) for f in exported],
                             capture_output=True, text=True, timeout=300)
        check(res.returncode == 0 and len(exported) >= 20,
              'raiiaf verify passes on the %d files GIMP exported\n%s%s'
              % (len(exported), res.stdout, res.stderr))
    for name, _ in fixtures:
        orig = os.path.join(work, 'dump', name)
        info = dump_info(orig)
        for variant in ('edited', 'from-xcf', 'nolatents'):
            path = os.path.join(out, '%s.%s.raiiaf' % (name, variant))
            if not check(os.path.exists(path), '%s.%s: exported' % (name, variant)):
                continue
            check(probe(args, 'verify', path, check_rc=False).returncode == 0,
                  '%s.%s: verifies in the library' % (name, variant))
            dump = os.path.join(work, 'outdump', '%s.%s' % (name, variant))
            os.makedirs(dump)
            res = probe(args, 'dump', path, dump, check_rc=False)
            if not check(res.returncode == 0, '%s.%s: library reads it back (%s)'
                         % (name, variant, res.stderr.strip())):
                continue
            out_info = dump_info(dump)
            want = 0 if variant == 'nolatents' else int(info['latent_count'])
            check(int(out_info['latent_count']) == want, '%s.%s: %d latents' % (name, variant, want))
            for i in range(want):
                check(out_info['latent-%d-key' % i] == info['latent-%d-key' % i] and
                      read(os.path.join(dump, 'latent-%d.bin' % i)) ==
                      read(os.path.join(orig, 'latent-%d.bin' % i)) and
                      read(os.path.join(dump, 'latent-%d.stored' % i)) ==
                      read(os.path.join(orig, 'latent-%d.stored' % i)),
                      '%s.%s: latent %s identical' % (name, variant, info['latent-%d-key' % i]))
            if os.path.exists(os.path.join(orig, 'environment.json')):
                check(read(os.path.join(dump, 'environment.json')) ==
                      read(os.path.join(orig, 'environment.json')),
                      '%s.%s: environment identical' % (name, variant))
            for key in ('prompt', 'model', 'seed'):
                a = probe(args, 'text', path, key, check_rc=False).stdout
                b = probe(args, 'text', os.path.join(work, 'fixtures', name + '.raiiaf'), key,
                          check_rc=False).stdout
                check(a == b, '%s.%s: %s kept (%r)' % (name, variant, key, a.strip()))
            history = probe(args, 'text', path, 'edit-history', check_rc=False).stdout
            check('GIMP' in history, '%s.%s: edit history names GIMP (%r)' % (name, variant, history.strip()))

    # Prompt and model given as arguments replace the file's own; the
    # latents, seed and environment stay.
    path = os.path.join(out, 'override.raiiaf')
    if check(os.path.exists(path), 'override: exported'):
        name = fixtures[0][0]
        orig = os.path.join(work, 'fixtures', name + '.raiiaf')
        text = lambda f, key: probe(args, 'text', f, key, check_rc=False).stdout.strip()
        check(text(path, 'prompt') == 'a new prompt, with a comma' and
              text(path, 'model') == 'other-model',
              'override: prompt and model replaced (%r, %r)' % (text(path, 'prompt'), text(path, 'model')))
        check(text(path, 'seed') == text(orig, 'seed') and text(path, 'latent-0') == text(orig, 'latent-0'),
              'override: seed and latents kept (%r, %r)' % (text(path, 'seed'), text(path, 'latent-0')))
    path = os.path.join(out, 'last-values.raiiaf')
    if check(os.path.exists(path), 'last values: exported'):
        orig = os.path.join(work, 'fixtures', fixtures[0][0] + '.raiiaf')
        text = lambda f, key: probe(args, 'text', f, key, check_rc=False).stdout.strip()
        check(text(path, 'prompt') == text(orig, 'prompt') and
              text(path, 'latent-0') == text(orig, 'latent-0'),
              'last values: own prompt and latents (%r)' % text(path, 'prompt'))

    for name in ('new-rgb8', 'new-graya16', 'new-rgba16', 'new-float-layers', 'script-fu',
                 'script-fu-short', 'script-fu-file-save', 'new-indexed', 'override'):
        path = os.path.join(out, name + '.raiiaf')
        if not check(os.path.exists(path), '%s: exported' % name):
            continue
        check(probe(args, 'verify', path, check_rc=False).returncode == 0,
              '%s: verifies in the library' % name)
        if name.startswith('script-fu'):
            orig = os.path.join(work, 'fixtures', fixtures[0][0] + '.raiiaf')
            latent = probe(args, 'text', path, 'latent-0', check_rc=False).stdout.strip()
            want = probe(args, 'text', orig, 'latent-0', check_rc=False).stdout.strip()
            if name == 'script-fu':
                # exported with #:latent-storage "raw": same latent, re-stored
                want = want.rsplit(' ', 1)[0] + ' raw'
            check(latent and latent == want, '%s: latent kept (%r, want %r)' % (name, latent, want))
    for name in ('new-rgb8', 'new-graya16', 'new-rgba16'):
        path = os.path.join(out, name + '.raiiaf')
        if os.path.exists(path):
            prompt = probe(args, 'text', path, 'prompt', check_rc=False).stdout.strip()
            model = probe(args, 'text', path, 'model', check_rc=False).stdout.strip()
            check(prompt == 'a cat, on a mat' and model == 'test-model',
                  '%s: prompt and model as given (%r, %r)' % (name, prompt, model))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--plugin', required=True)
    ap.add_argument('--probe', required=True)
    ap.add_argument('--fixtures', required=True)
    ap.add_argument('--gimp', default='gimp-console-3.0')
    ap.add_argument('--tool', help='the raiiaf command-line tool, to verify exports with too')
    ap.add_argument('--keep', action='store_true', help='keep the work folder')
    args = ap.parse_args()
    args.plugin = os.path.abspath(args.plugin)
    args.probe = os.path.abspath(args.probe)

    if shutil.which(args.gimp) is None:
        print('%s not found' % args.gimp)
        return 77  # meson: skipped

    # In the build tree, beside the probe: kept there when a check fails.
    work = tempfile.mkdtemp(prefix='gimp-test-', dir=os.path.dirname(args.probe))
    try:
        fdir = os.path.join(work, 'fixtures')
        os.makedirs(fdir)
        os.makedirs(os.path.join(work, 'out'))
        fixtures = []
        for fname in sorted(os.listdir(args.fixtures)):
            if fname.endswith('.raiiaf'):
                name = fname[:-len('.raiiaf')]
                path = os.path.join(fdir, fname)
                shutil.copyfile(os.path.join(args.fixtures, fname), path)
                dump = os.path.join(work, 'dump', name)
                os.makedirs(dump)
                probe(args, 'dump', path, dump)
                fixtures.append((name, path))
        check(len(fixtures) >= 5, 'fixtures found: %d' % len(fixtures))
        with open(os.path.join(work, 'fixtures.txt'), 'w') as f:
            f.writelines('%s %s\n' % fx for fx in fixtures)

        make_corrupt(args, work, fixtures)
        # A grey PNG carrying an RGB profile (the astronaut's): GIMP cannot
        # use that profile, the image must still open.
        probe(args, 'grey-rgb-icc', os.path.join(fdir, 'astronaut-f32-zfp.raiiaf'),
              os.path.join(work, 'grey-rgb-icc.raiiaf'))
        run_gimp(args, work)
        check_exports(args, work, fixtures)
    finally:
        if args.keep or failures:
            print('work folder kept: ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print('%d failure(s)' % failures)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
