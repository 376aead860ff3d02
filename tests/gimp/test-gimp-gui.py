#!/usr/bin/env python3
# The export dialog of the GIMP plug-in, shown for real: GIMP 3 (gimp-3, its
# GUI) or GIMP 2.10 (gimp-2.10, --api 2.0) under Xvfb, the dialog answered
# from the keyboard with xdotool.
#
#   test-gimp-gui.py --plugin PATH --probe PATH --fixtures DIR [--gimp PROGRAM]
#                    [--api 3.0|2.0]
#
# GIMP runs gui-checks.py (GIMP 3, python-fu-eval) or gui-checks2.scm
# (GIMP 2.10, Script-Fu), which open A.raiiaf and show the export dialog for
# it. This driver waits for the dialog's window (xdotool search --sync,
# under a timeout), takes screenshots (xwd, kept as PNG in the work folder),
# checks from the first that the dialog's window was drawn, unticks "Keep
# latents" with its mnemonic, checks from a screenshot that "Latent
# storage" went grey, and presses Export (alt+E). In GIMP 2.10, where A is
# edited first so that its PNG is encoded anew, it also types a prompt and
# compression level 0 before it presses Export with the level's field still
# focused. Then it checks with the library what GIMP wrote: A without
# latents (the user's choice for A; in GIMP 2.10 with the typed prompt and
# stored, not deflated, image data), B exported with the last values keeps
# its latents, and A again without. GIMP's console must show no broken pipe
# after the failed load (GIMP 3), no duplicate mnemonic, no warning of the
# plug-in.
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import checks  # noqa: E402  (check() and the failure count every driver shares)
from checks import check  # noqa: E402

WAIT = 180          # seconds for GIMP to start and show the dialog


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


def png_info(args, work, path):
    """(size, stored) of the PNG in path: its size in bytes, and whether its
    zlib stream is made of stored blocks only (compression level 0)."""
    d = tempfile.mkdtemp(dir=work)
    res = subprocess.run([args.probe, 'dump', path, d], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        return None, None
    png = open(os.path.join(d, 'image.png'), 'rb').read()
    stream, at = b'', 8
    while at + 8 <= len(png):
        size = int.from_bytes(png[at:at + 4], 'big')
        if png[at + 4:at + 8] == b'IDAT':
            stream += png[at + 8:at + 8 + size]
        at += 12 + size
    # After the two bytes of zlib header: each block starts on a byte
    # when every block before it is stored (BTYPE 00).
    at, last = 2, False
    while not last and at < len(stream):
        last, btype = stream[at] & 1, (stream[at] >> 1) & 3
        if btype != 0 or at + 5 > len(stream):
            return len(png), False
        length = int.from_bytes(stream[at + 1:at + 3], 'little')
        at += 5 + length
    return len(png), bool(last) and at + 4 == len(stream)


def text(args, path, key):
    return subprocess.run([args.probe, 'text', path, key], capture_output=True, text=True,
                          timeout=60).stdout.strip()


def window_pixels(shot, geometry):
    """The screenshot's pixels inside the window (RGB, row by row): what
    the dialog shows, whatever GIMP's main window behind it does."""
    magick = shutil.which('magick') or shutil.which('convert')
    crop = '%sx%s+%s+%s' % (geometry['WIDTH'], geometry['HEIGHT'], geometry['X'], geometry['Y'])
    return subprocess.run([magick, shot, '-crop', crop, '+repage', '-depth', '8', 'rgb:-'],
                          capture_output=True, timeout=60, check=True).stdout


PROMPT = 'typed in the dialog'


def answer_dialog(args, env, work, window):
    """The dialog, from the keyboard: screenshots before and after each
    change, then Export."""
    # The window is mapped; let GTK finish its first draw, then look.
    xdotool(env, 'windowfocus', '--sync', window)
    xdotool(env, 'sleep', '1')
    before = screenshot(env, work, 'dialog')
    print('# screenshot: ' + before)
    geo = xdotool(env, 'getwindowgeometry', '--shell', window).stdout
    print('# dialog window: ' + ' '.join(geo.split()))
    geometry = dict(line.split('=', 1) for line in geo.split())
    pixels = window_pixels(before, geometry)
    # A window that was drawn, with its labels and fields, has many
    # colours; an empty one a few.
    colours = len({pixels[i:i + 3] for i in range(0, len(pixels), 3)})
    check(colours >= 16, 'the screenshot shows the dialog drawn (%d colours in its window)' % colours)
    same = lambda one, other: window_pixels(one, geometry) == window_pixels(other, geometry)
    if args.api == '2.0':
        # "Latent storage" takes the focus from its mnemonic while the
        # latents are kept.
        xdotool(env, 'key', '--clearmodifiers', 'alt+l')
        xdotool(env, 'sleep', '1')
        storage = screenshot(env, work, 'dialog-storage')
        check(not same(before, storage), 'alt+L moved the focus to "Latent storage"')
        before = storage
    xdotool(env, 'key', '--clearmodifiers', 'alt+k')
    xdotool(env, 'sleep', '1')
    after = screenshot(env, work, 'dialog-keep-off')
    print('# screenshot: ' + after)
    check(not same(before, after), 'the dialog changed when "Keep latents" was unticked')
    if args.api == '2.0':
        # Greyed out with the latents off: its mnemonic does nothing.
        xdotool(env, 'key', '--clearmodifiers', 'alt+l')
        xdotool(env, 'sleep', '1')
        check(same(after, screenshot(env, work, 'dialog-storage-off')),
              '"Latent storage" is greyed out with "Keep latents" off (alt+L does nothing)')
        # The prompt, then the level, typed over what the fields hold;
        # Export is pressed with the level's field still focused, as a
        # person who types a number and presses alt+E does.
        xdotool(env, 'key', '--clearmodifiers', 'alt+p')
        xdotool(env, 'key', '--clearmodifiers', 'ctrl+a')
        xdotool(env, 'type', '--delay', '50', PROMPT)
        xdotool(env, 'key', '--clearmodifiers', 'alt+m')
        xdotool(env, 'key', '--clearmodifiers', 'ctrl+a')
        xdotool(env, 'type', '--delay', '50', '0')
        xdotool(env, 'sleep', '1')
        typed = screenshot(env, work, 'dialog-level-0')
        print('# screenshot: ' + typed)
        check(not same(after, typed),
              'the dialog changed when the prompt and compression level 0 were typed')
    xdotool(env, 'key', '--clearmodifiers', 'alt+e')


def gimp_command(args, work):
    """GIMP with its GUI, running the checks inside GIMP."""
    here = os.path.dirname(os.path.abspath(__file__))
    if args.api == '2.0':
        quoted = lambda t: '"%s"' % t.replace('\\', '\\\\').replace('"', '\\"')
        return [args.gimp, '--no-splash',
                '-b', '(begin (define WORK %s) (load %s))' % (
                    quoted(work), quoted(os.path.join(here, 'gui-checks2.scm'))),
                '-b', '(gimp-quit TRUE)']
    return [args.gimp, '--no-splash', '--batch-interpreter', 'python-fu-eval',
            '-b', 'exec(open(%r).read())' % os.path.join(here, 'gui-checks.py'), '--quit']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--plugin', required=True)
    ap.add_argument('--probe', required=True)
    ap.add_argument('--fixtures', required=True)
    ap.add_argument('--gimp', default='gimp-3')
    ap.add_argument('--api', default='3.0', choices=('3.0', '2.0'))
    ap.add_argument('--keep', action='store_true')
    args = ap.parse_args()
    for program in (args.gimp, 'Xvfb', 'xdotool', 'xwd'):
        if shutil.which(program) is None:
            print('%s not found: skipped' % program)
            return 77
    if not (shutil.which('magick') or shutil.which('convert')):
        print('ImageMagick (the screenshots\' conversion) not found: skipped')
        return 77

    work = tempfile.mkdtemp(prefix='gimp-gui-test-', dir=os.path.dirname(os.path.abspath(args.probe)))
    profile = 'GIMP2_DIRECTORY' if args.api == '2.0' else 'GIMP3_DIRECTORY'
    env = dict(os.environ)
    env.update({'HOME': os.path.join(work, 'home'), profile: os.path.join(work, 'profile'),
                'RAIIAF_GIMP_TEST_DIR': work})
    plugdir = os.path.join(env[profile], 'plug-ins', 'file-raiiaf')
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
    console = open(os.path.join(work, 'gimp-output.log'), 'w')
    gimp = subprocess.Popen(gimp_command(args, work), env=env, stdout=console,
                            stderr=subprocess.STDOUT)
    try:
        # The dialog: its window appears once GIMP runs the script.
        found = xdotool(env, 'search', '--sync', '--onlyvisible', '--name', 'Export Image as',
                        timeout=WAIT)
        window = found.stdout.split()[0] if found.stdout.split() else None
        if check(window is not None, 'the export dialog is shown'):
            answer_dialog(args, env, work, window)
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
    if args.api == '2.0':
        paths = {name: os.path.join(out, 'A-%s.raiiaf' % name) for name in ('level9', 'dialog', 'last-values')}
        png = {name: png_info(args, work, path) for name, path in paths.items()}
        print('# PNG (bytes, stored only): %s' % png)
        check(latent_keys(args, work, paths['level9']) == want_a and png['level9'][1] is False,
              'A exported by script at level 9: latents kept, image data deflated')
        check(png['dialog'][1] is True and png['dialog'][0] > png['level9'][0],
              'A exported from the dialog at the typed level 0: image data stored, not deflated, '
              'larger than at level 9 (%s > %s bytes)' % (png['dialog'][0], png['level9'][0]))
        check(png['last-values'][1] is True, 'A exported again with the last values: level 0')
        check(text(args, paths['dialog'], 'prompt') == PROMPT and
              text(args, paths['last-values'], 'prompt') == PROMPT,
              'A exported from the dialog and with the last values: the typed prompt (%r, %r)' % (
                  text(args, paths['dialog'], 'prompt'), text(args, paths['last-values'], 'prompt')))
        b_own = text(args, os.path.join(work, 'B.raiiaf'), 'prompt')
        check(text(args, os.path.join(out, 'B-last-values.raiiaf'), 'prompt') == b_own,
              'B exported with the last values keeps its own prompt (%r)' % b_own)

    output = open(os.path.join(work, 'gimp-output.log'), errors='replace').read()
    if args.api == '3.0':
        # GIMP's own file-png prints "file-png: gimp_flush(): error: Broken
        # pipe" after its failed load (GIMP closes the pipe before the
        # plug-in's last flush); ours must not.
        print('# GIMP\'s PNG loader after its failed load: %s' %
              ('broken pipe' if 'file-png: gimp_flush(): error: Broken pipe' in output else 'quiet'))
    for needle in ('file-raiiaf: gimp_flush(): error', 'mnemonic', 'file-raiiaf-CRITICAL', 'file-raiiaf-WARNING',
                   'Plug-in crashed'):
        check(needle not in output, 'GIMP\'s console shows no "%s"' % needle)
    if checks.failures:
        print(output[-4000:])

    if args.keep or checks.failures:
        print('work folder kept: ' + work)
    else:
        # The screenshots are the evidence of what the dialog looked like.
        for f in os.listdir(work):
            if not f.endswith('.png'):
                p = os.path.join(work, f)
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        print('screenshots kept in ' + work)
    print('%d failure(s)' % checks.failures)
    return 1 if checks.failures else 0


if __name__ == '__main__':
    sys.exit(main())
