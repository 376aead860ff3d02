#!/usr/bin/env python3
# The export dialog of the GIMP plug-in, shown for real: GIMP 3 (gimp-3.0,
# its GUI) under Xvfb, the dialog answered from the keyboard with xdotool.
#
#   test-gimp-gui.py --plugin PATH --probe PATH --fixtures DIR [--gimp PROGRAM]
#
# GIMP runs gui-checks.py (python-fu-eval), which opens A.raiiaf and shows
# the export dialog for it. This driver waits for the dialog's window
# (xdotool search --sync, under a timeout), takes screenshots (xwd, kept as
# PNG in the work folder when ImageMagick's convert is there), unticks
# "Keep latents" with its mnemonic, checks from a screenshot that "Latent
# storage" went grey, and presses Export (alt+E). Then it checks with the
# library what GIMP wrote: A without latents (the user's choice for A), B
# exported with the last values keeps its latents, and A again without.
# GIMP's console must show no broken pipe after the failed load, no
# duplicate mnemonic, no warning of the plug-in.
#
# SPDX-License-Identifier: MIT

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

WAIT = 180          # seconds for GIMP to start and show the dialog
failures = 0


def check(cond, what):
    global failures
    print(('ok - ' if cond else 'not ok - ') + what)
    if not cond:
        failures += 1
    return cond


def latent_keys(args, work, path):
    d = tempfile.mkdtemp(dir=work)
    res = subprocess.run([args.probe, 'dump', path, d], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        return None
    with open(os.path.join(d, 'info.json'), encoding='utf-8') as f:
        return [latent['key'] for latent in json.load(f)['latents']]


def start_xvfb(work):
    """Xvfb on a free display, found by Xvfb itself (-displayfd)."""
    rfd, wfd = os.pipe()
    xvfb = subprocess.Popen(['Xvfb', '-displayfd', str(wfd), '-screen', '0', '1280x1024x24',
                             '-nolisten', 'tcp'], pass_fds=(wfd,),
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, 'xvfb.log'), 'w'))
    os.close(wfd)
    number = b''
    deadline = time.monotonic() + 30
    while not number.endswith(b'\n') and time.monotonic() < deadline:
        chunk = os.read(rfd, 16)
        if not chunk:
            break
        number += chunk
    os.close(rfd)
    if not number.strip():
        xvfb.kill()
        raise RuntimeError('Xvfb did not start')
    return xvfb, ':' + number.decode().strip()


def xdotool(env, *cmd, timeout=30):
    return subprocess.run(['xdotool', *cmd], env=env, capture_output=True, text=True,
                          timeout=timeout)


def screenshot(env, work, name):
    xwd = os.path.join(work, name + '.xwd')
    subprocess.run(['xwd', '-root', '-silent', '-out', xwd], env=env, timeout=30, check=True)
    magick = shutil.which('magick') or shutil.which('convert')
    if magick:
        png = os.path.join(work, name + '.png')
        subprocess.run([magick, xwd, png], timeout=60, check=True)
        os.unlink(xwd)
        return png
    return xwd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--plugin', required=True)
    ap.add_argument('--probe', required=True)
    ap.add_argument('--fixtures', required=True)
    ap.add_argument('--gimp', default='gimp-3')
    ap.add_argument('--keep', action='store_true')
    args = ap.parse_args()
    for program in (args.gimp, 'Xvfb', 'xdotool', 'xwd'):
        if shutil.which(program) is None:
            print('%s not found: skipped' % program)
            return 77

    work = tempfile.mkdtemp(prefix='gimp-gui-test-', dir=os.path.dirname(os.path.abspath(args.probe)))
    env = dict(os.environ)
    env.update(HOME=os.path.join(work, 'home'), GIMP3_DIRECTORY=os.path.join(work, 'profile'),
               RAIIAF_GIMP_TEST_DIR=work)
    plugdir = os.path.join(env['GIMP3_DIRECTORY'], 'plug-ins', 'file-raiiaf')
    os.makedirs(plugdir)
    os.makedirs(env['HOME'])
    os.makedirs(os.path.join(work, 'out'))
    os.symlink(os.path.abspath(args.plugin), os.path.join(plugdir, 'file-raiiaf'))
    shutil.copyfile(os.path.join(args.fixtures, 'logo-rgba-two-latents-raw.raiiaf'),
                    os.path.join(work, 'A.raiiaf'))
    shutil.copyfile(os.path.join(args.fixtures, 'astronaut-f32-zfp.raiiaf'),
                    os.path.join(work, 'B.raiiaf'))
    with open(os.path.join(work, 'broken.raiiaf'), 'wb') as f:
        f.write(open(os.path.join(work, 'A.raiiaf'), 'rb').read()[:100])
    with open(os.path.join(work, 'broken.png'), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10')
    want_a = latent_keys(args, work, os.path.join(work, 'A.raiiaf'))
    want_b = latent_keys(args, work, os.path.join(work, 'B.raiiaf'))

    xvfb, display = start_xvfb(work)
    env['DISPLAY'] = display
    env.pop('WAYLAND_DISPLAY', None)
    checks = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gui-checks.py')
    console = open(os.path.join(work, 'gimp-output.log'), 'w')
    gimp = subprocess.Popen([args.gimp, '--no-splash', '--batch-interpreter', 'python-fu-eval',
                             '-b', 'exec(open(%r).read())' % checks, '--quit'],
                            env=env, stdout=console, stderr=subprocess.STDOUT)
    try:
        # The dialog: its window appears once GIMP runs the script.
        found = xdotool(env, 'search', '--sync', '--onlyvisible', '--name', 'Export Image as',
                        timeout=WAIT)
        window = found.stdout.split()[0] if found.stdout.split() else None
        if check(window is not None, 'the export dialog is shown'):
            # The window is mapped; let GTK finish its first draw, then look.
            xdotool(env, 'windowfocus', '--sync', window)
            xdotool(env, 'sleep', '1')
            before = screenshot(env, work, 'dialog')
            print('# screenshot: ' + before)
            xdotool(env, 'key', '--clearmodifiers', 'alt+k')
            xdotool(env, 'sleep', '1')
            after = screenshot(env, work, 'dialog-keep-off')
            print('# screenshot: ' + after)
            geo = xdotool(env, 'getwindowgeometry', '--shell', window).stdout
            print('# dialog window: ' + ' '.join(geo.split()))
            check(before.endswith('.png') and open(before, 'rb').read() != open(after, 'rb').read(),
                  'the dialog changed when "Keep latents" was unticked')
            xdotool(env, 'key', '--clearmodifiers', 'alt+e')
        rc = gimp.wait(timeout=WAIT)
        check(rc == 0, 'GIMP exits 0 (got %s)' % rc)
    except subprocess.TimeoutExpired:
        check(False, 'GIMP and the dialog answered within %d s' % WAIT)
        screenshot(env, work, 'timeout')
        gimp.kill()
        gimp.wait()
    finally:
        xvfb.terminate()
        xvfb.wait()
        console.close()

    log = open(os.path.join(work, 'gui-checks.log')).read() if \
        os.path.exists(os.path.join(work, 'gui-checks.log')) else ''
    for line in log.splitlines():
        print('gimp: ' + line)
    check('DONE' in log and 'exception' not in log, 'the script in GIMP ran to its end')
    check('export A-dialog.raiiaf interactive: success' in log, 'the interactive export succeeded')

    out = os.path.join(work, 'out')
    a_dialog = latent_keys(args, work, os.path.join(out, 'A-dialog.raiiaf'))
    b_last = latent_keys(args, work, os.path.join(out, 'B-last-values.raiiaf'))
    a_last = latent_keys(args, work, os.path.join(out, 'A-last-values.raiiaf'))
    check(want_a and a_dialog == [], 'A exported from the dialog with "Keep latents" off: no latents (%s)' % a_dialog)
    check(want_b and b_last == want_b,
          'B exported with the last values keeps its latents %s (%s)' % (want_b, b_last))
    check(a_last == [], 'A exported again with the last values: its own choice, no latents (%s)' % a_last)

    output = open(os.path.join(work, 'gimp-output.log'), errors='replace').read()
    # GIMP's own file-png prints "file-png: gimp_flush(): error: Broken
    # pipe" after its failed load (GIMP closes the pipe before the plug-in's
    # last flush); ours must not.
    print('# GIMP\'s PNG loader after its failed load: %s' %
          ('broken pipe' if 'file-png: gimp_flush(): error: Broken pipe' in output else 'quiet'))
    for needle in ('file-raiiaf: gimp_flush(): error', 'mnemonic', 'file-raiiaf-CRITICAL', 'file-raiiaf-WARNING',
                   'Plug-in crashed'):
        check(needle not in output, 'GIMP\'s console shows no "%s"' % needle)
    if failures:
        print(output[-4000:])

    if args.keep or failures:
        print('work folder kept: ' + work)
    else:
        # The screenshots are the evidence of what the dialog looked like.
        for f in os.listdir(work):
            if not f.endswith('.png'):
                p = os.path.join(work, f)
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        print('screenshots kept in ' + work)
    print('%d failure(s)' % failures)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
