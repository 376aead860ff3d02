#!/usr/bin/env python3
"""Every PNG opens as the host opens that PNG: the PngSuite through every host.

  check-hosts.py --suite DIR --tool RAIIAF --probe RAIIAF-PROBE
                 [--magick PROGRAM] [--thumbnailer PROGRAM]
                 [--gimp GIMP-CONSOLE-3.0 | --gimp2 GIMP-CONSOLE-2.10]
                 [--plugin FILE-RAIIAF]
                 [--pixbuf-test TEST-PIXBUF --pixbuf-env KEY=VALUE ...]
                 [--pillow-path PYTHONPATH]
                 [--qt-test TEST-QT --qt-env KEY=VALUE ...]
                 [--hosts NAME,...] [--keep]

Each valid image of the PngSuite is packed with `raiiaf pack --image`; each
host then opens the .raiiaf and the PNG itself, and the two must agree.
Each corrupt image (x*.png) must be refused by `pack` with libpng's
reason, or else its packed file by every host, never with a crash.

Hosts (HOSTS below; a new host is one more entry):
  library      libraiiaf's decode (raiiaf-probe rgba16) equals
               ImageMagick's decode of the PNG (an independent decoder), and
               raiiaf_get_png_colour() and raiiaf_get_png_physical() say
               what the PNG's own chunks say
               (read here in Python)
  magick       `magick x.raiiaf` equals `magick x.png`: pixel signature,
               type (palette, grey, ...), depth, channels, class and
               colourspace, gamma, ICC profile
  gimp         our plug-in's open equals GIMP's PNG loader's (file-png-load):
               size, base type, precision, alpha, colormap, colour profile,
               pixel bytes; and after exporting to .raiiaf and opening
               again, still (one headless GIMP run for the whole set)
  gimp-2.10    the same against GIMP 2.10's PNG loader, in Script-Fu
               (gimp2-pngsuite.scm), with the pixels compared here from
               PNGs GIMP's exporter saved of both images; also the "gamma"
               parasite, comment, unit and the metadata GIMP keeps
  gdk-pixbuf   our gdk-pixbuf loader's pixbuf equals gdk-pixbuf's PNG
               loader's for the PNG (size, alpha, every byte); corrupt ones
               give a GError whole and in pieces
  pillow       our Pillow plugin's Image.open (from a path and from a file
               object) equals Pillow's Image.open of the PNG: mode, size,
               pixels, palette, info; corrupt ones raise pyraiiaf.Error or
               Pillow's own error
  qt           QImageReader through our Qt plugin equals Qt's PNG handler
               on the PNG (QImage format, colour table, every pixel, colour
               space, text; whole, in pieces, scaled); corrupt ones are
               refused whole and in pieces
  thumbnailer  raiiaf-thumbnailer's output equals the same area-average
               scaling computed here from ImageMagick's decode of the PNG:
               a thumbnailer has no PNG decoder of its own (the desktop
               thumbnails a PNG with its own loader), so the PNG's pixels as
               a reference decoder gives them stand in for it
Prints one line per host and image that differs, then "HOST: N/M match".
Exit status 0 when every host matches on every image, 1 otherwise, 77
when no host could run.

SPDX-License-Identifier: MIT
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

TIMEOUT = 120


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def png_chunks(path):
    """(type, body) of every chunk of a PNG file."""
    data = read(path)
    pos, out = 8, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        out.append((kind.decode('latin-1'), data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def png_facts(path):
    """What the PNG's own chunks say, in raiiaf-probe's terms."""
    facts = {'palette': [], 'palette_alpha': [], 'trns': None, 'gamma': None, 'chrm': None,
             'srgb': -1, 'icc': 0, 'sbit': None, 'bkgd': None, 'phys': None, 'offs': None}
    chunks = png_chunks(path)
    w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', chunks[0][1])
    facts.update(width=w, height=h, bit_depth=depth, color_type=ctype, interlaced=interlace)
    for kind, body in chunks:
        if kind == 'PLTE':
            facts['palette'] = list(body)
        elif kind == 'tRNS':
            if ctype == 3:
                facts['palette_alpha'] = list(body)
            elif ctype == 0:
                g = struct.unpack('>H', body[:2])[0]
                facts['trns'] = [g, 0, 0, 0]
            elif ctype == 2:
                r, g, b = struct.unpack('>HHH', body[:6])
                facts['trns'] = [0, r, g, b]
        elif kind == 'gAMA':
            facts['gamma'] = '%.5f' % (struct.unpack('>I', body)[0] / 100000.0)
        elif kind == 'cHRM':
            facts['chrm'] = ['%.5f' % (v / 100000.0) for v in struct.unpack('>8I', body)]
        elif kind == 'sRGB':
            facts['srgb'] = body[0]
        elif kind == 'iCCP':
            facts['icc'] = 1
        elif kind == 'sBIT':
            b = list(body)
            facts['sbit'] = {0: [b[0], 0, 0, 0, 0], 2: [0] + b + [0], 3: [0] + b + [0],
                             4: [b[0], 0, 0, 0, b[1]], 6: [0] + b}[ctype]
        elif kind == 'pHYs':
            facts['phys'] = list(struct.unpack('>IIB', body))
        elif kind == 'oFFs':
            facts['offs'] = list(struct.unpack('>iiB', body))
        elif kind == 'bKGD':
            if ctype == 3:
                facts['bkgd'] = [body[0], 0, 0, 0, 0]
            elif ctype in (0, 4):
                facts['bkgd'] = [0, struct.unpack('>H', body)[0], 0, 0, 0]
            else:
                facts['bkgd'] = [0, 0] + list(struct.unpack('>HHH', body))
    return facts


class Case:
    def __init__(self, name, png, raiiaf):
        self.name, self.png, self.raiiaf = name, png, raiiaf


def magick_rgba16(args, path, env=None):
    res = subprocess.run([args.magick, path, '-depth', '16', '-endian', 'LSB', 'rgba:-'],
                         capture_output=True, timeout=TIMEOUT, env=env)
    return res.stdout if res.returncode == 0 else None


def parse_results(text):
    """A host script's "NAME STEP ok|what differs" lines, ended by DONE:
    ({(name, step): None or what differs}, whether DONE came)."""
    results, done = {}, False
    for line in text.splitlines():
        if line == 'DONE':
            done = True
        elif line.count(' ') >= 2:
            name, step, verdict = line.split(' ', 2)
            results[(name, step)] = None if verdict == 'ok' else verdict
    return results, done


def step_verdicts(results, cases, step, host):
    """Each case's verdict for one step of parse_results' results, and the
    host's own run's trouble (results[(host, 'run')]) as "(HOST run)"."""
    out = {c.name: results.get((c.name, step), 'no result') for c in cases}
    if (host, 'run') in results:
        out['(%s run)' % host] = results[(host, 'run')]
    return out


# ---- hosts -----------------------------------------------------------------
# Each host: name, available(args) -> reason it cannot run or None,
# compare(args, work, cases) -> {name: None when it matches, else what differs},
# refuses(args, work, corrupt) -> {name: None when refused, else what happened}.

class Library:
    name = 'library'

    def available(self, args):
        return None if args.magick else 'needs magick as the reference decoder'

    def compare(self, args, work, cases):
        out = {}
        for c in cases:
            raw = os.path.join(work, c.name + '.rgba16')
            res = subprocess.run([args.probe, 'rgba16', c.raiiaf, raw], capture_output=True,
                                 text=True, timeout=TIMEOUT)
            if res.returncode != 0:
                out[c.name] = 'library refuses it: ' + res.stderr.strip()
                continue
            said = json.loads(res.stdout)
            for key in ('gamma',):
                if said[key] is not None:
                    said[key] = '%.5f' % said[key]
            if said['chrm'] is not None:
                said['chrm'] = ['%.5f' % v for v in said['chrm']]
            facts = png_facts(c.png)
            diffs = ['%s %r, the PNG says %r' % (k, said.get(k), v)
                     for k, v in facts.items() if said.get(k) != v]
            if read(raw) != magick_rgba16(args, c.png):
                diffs.append('pixels differ from ImageMagick\'s decode of the PNG')
            out[c.name] = '; '.join(diffs) or None
        return out

    def refuses(self, args, work, corrupt):
        out = {}
        for c in corrupt:
            res = subprocess.run([args.probe, 'error', c.raiiaf], capture_output=True, text=True,
                                 timeout=TIMEOUT)
            out[c.name] = None if res.returncode == 0 and res.stdout.strip() else \
                'library opens it (exit %d)' % res.returncode
        return out


class Magick:
    name = 'magick'
    FORMAT = '%w %h %[type] %z %[channels] %r %[gamma] %[profile:icc] %#\\n'

    def available(self, args):
        return None if args.magick and args.coder_path else 'magick or the coder not built'

    def env(self, args):
        env = dict(os.environ, OMP_NUM_THREADS='1')
        env['MAGICK_CODER_MODULE_PATH'] = args.coder_path
        return env

    def identify(self, args, paths):
        res = subprocess.run([args.magick, 'identify', '-format', self.FORMAT] + paths,
                             capture_output=True, text=True, timeout=600, env=self.env(args))
        lines = res.stdout.splitlines()
        return lines if len(lines) == len(paths) else None

    def compare(self, args, work, cases):
        want = self.identify(args, [c.png for c in cases])
        got = self.identify(args, [c.raiiaf for c in cases])
        if want is None or got is None:
            # One file broke the batch: one at a time, to name it.
            want = [(self.identify(args, [c.png]) or ['refused'])[0] for c in cases]
            got = [(self.identify(args, [c.raiiaf]) or ['refused'])[0] for c in cases]
        return {c.name: None if w == g else 'PNG "%s", .raiiaf "%s"' % (w, g)
                for c, w, g in zip(cases, want, got)}

    def refuses(self, args, work, corrupt):
        out = {}
        for c in corrupt:
            res = subprocess.run([args.magick, c.raiiaf, os.path.join(work, c.name + '.png')],
                                 capture_output=True, text=True, timeout=TIMEOUT,
                                 env=self.env(args))
            out[c.name] = None if 0 < res.returncode < 128 else 'exit %d' % res.returncode
        return out


class Gimp:
    name = 'gimp'
    TIMEOUT = 1800

    def available(self, args):
        if not (args.gimp and args.plugin and shutil.which(args.gimp)):
            return 'gimp-console-3 or the plug-in not built'
        return None

    PROFILE = 'GIMP3_DIRECTORY'

    def command(self, args, gwork, lines):
        with open(os.path.join(gwork, 'gimp-cases.txt'), 'w') as f:
            f.writelines(line + '\n' for line in lines)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gimp-pngsuite.py')
        return [args.gimp, '-i', '-d', '-f', '--batch-interpreter', 'python-fu-eval',
                '-b', 'exec(open(%r).read())' % script, '--quit']

    def run(self, args, work, lines):
        gwork = os.path.join(work, 'gimp')
        os.makedirs(gwork, exist_ok=True)
        env = dict(os.environ, HOME=os.path.join(gwork, 'home'),
                   RAIIAF_PNGSUITE_WORK=gwork)
        env[self.PROFILE] = os.path.join(gwork, 'profile')
        env.pop('DISPLAY', None)
        plugdir = os.path.join(env[self.PROFILE], 'plug-ins', 'file-raiiaf')
        os.makedirs(plugdir, exist_ok=True)
        os.makedirs(env['HOME'], exist_ok=True)
        link = os.path.join(plugdir, 'file-raiiaf')
        if not os.path.lexists(link):
            os.symlink(args.plugin, link)
        cmd = self.command(args, gwork, lines)
        try:
            res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                 timeout=self.TIMEOUT)
            output = res.stdout + res.stderr
        except subprocess.TimeoutExpired as e:
            output = 'timeout: %s' % e
        with open(os.path.join(gwork, 'gimp-output.log'), 'w') as f:
            f.write(output)
        path = os.path.join(gwork, 'gimp-results.txt')
        results, done = parse_results(read(path).decode() if os.path.exists(path) else '')
        for needle in ('Plug-in crashed', 'Segmentation fault', 'file-raiiaf-CRITICAL'):
            if needle in output:
                results[('GIMP', 'run')] = needle
        if not done:
            results[('GIMP', 'run')] = 'did not finish: ' + output[-2000:]
        return results

    def pixels(self, work, c, steps):
        """What is left to compare outside GIMP (GIMP 3's script compares
        the pixels itself)."""
        return []

    def compare(self, args, work, cases):
        out_dir = os.path.join(work, 'gimp-exported')
        os.makedirs(out_dir, exist_ok=True)
        self.exported = {c.name: os.path.join(out_dir, c.name + '.raiiaf') for c in cases}
        lines = ['open %s %s %s %s' % (c.name, c.png, c.raiiaf,
                                       '-' if args.no_export else self.exported[c.name])
                 for c in cases]
        results = self.run(args, work, lines)
        out = {}
        for c in cases:
            diffs = []
            for step in ('open',) if args.no_export else ('open', 'export'):
                if (c.name, step) not in results:
                    diffs.append('%s: no result' % step)
                elif results[(c.name, step)]:
                    diffs.append('%s: %s' % (step, results[(c.name, step)]))
            diffs += self.pixels(work, c, ('open',) if args.no_export else ('open', 'export'))
            diffs += self.export_chunks(args, c)
            out[c.name] = '; '.join(diffs) or None
        if ('GIMP', 'run') in results:
            out['(GIMP run)'] = results[('GIMP', 'run')]
        return out

    def export_chunks(self, args, c):
        """Open-then-export keeps the PNG's meaning: a palette PNG stays one,
        gAMA/cHRM stay gAMA/cHRM (not an ICC profile made of them)."""
        path = self.exported.get(c.name)
        if not path or not os.path.exists(path):
            return []
        folder = path + '.d'
        os.makedirs(folder, exist_ok=True)
        if subprocess.run([args.probe, 'dump', path, folder], capture_output=True,
                          timeout=TIMEOUT).returncode != 0:
            return ['export: the library cannot read it']
        src = {k for k, _ in png_chunks(c.png)}
        src_type = png_facts(c.png)['color_type']
        png = os.path.join(folder, 'image.png')
        got = {k for k, _ in png_chunks(png)}
        got_type = png_facts(png)['color_type']
        diffs = []
        if (src_type == 3) != (got_type == 3):
            diffs.append('export: colour type %d from a PNG of type %d' % (got_type, src_type))
        for kind in ('gAMA', 'cHRM', 'iCCP', 'sRGB', 'PLTE', 'tRNS'):
            if kind == 'tRNS' and src_type != 3:
                continue  # grey/RGB tRNS becomes an alpha channel, as in GIMP
            if kind == 'PLTE' and src_type != 3:
                continue  # a suggested palette of an RGB PNG: GIMP drops it too
            if (kind in src) != (kind in got):
                diffs.append('export: %s %s' % (kind, 'lost' if kind in src else 'added'))
        return diffs

    def refuses(self, args, work, corrupt):
        results = self.run(args, work, ['refuse %s %s' % (c.name, c.raiiaf) for c in corrupt])
        return step_verdicts(results, corrupt, 'refuse', 'GIMP')


def png_rows(path):
    """What a PNG's pixels are, chunk by chunk: IHDR, PLTE, tRNS and the
    inflated (still filtered) rows. Files GIMP's PNG exporter wrote with
    the same options from images with the same pixels are the same here."""
    chunks = png_chunks(path)
    keep = [(k, b) for k, b in chunks if k in ('IHDR', 'PLTE', 'tRNS')]
    # GIMP 2.10's exporter gives a palette image with transparent pixels
    # a new entry of alpha 0 whose colour is whatever its memory held
    # (another one on each run): the colour of an entry of alpha 0 is not
    # compared.
    alpha = dict(keep).get('tRNS', b'')
    keep = [(k, bytes(0 if i // 3 < len(alpha) and alpha[i // 3] == 0 else v
                      for i, v in enumerate(b)) if k == 'PLTE' else b) for k, b in keep]
    return keep, zlib.decompress(b''.join(b for k, b in chunks if k == 'IDAT'))


class Gimp2(Gimp):
    """GIMP 2.10 (Script-Fu: Debian 12's GIMP 2.10 has no Python-Fu):
    our plug-in's open equals GIMP 2.10's PNG loader's: size, base type,
    precision, layer type, name and offsets, colormap, colour profile and
    its name, the "gamma" parasite, comment, resolution and unit, the
    metadata GIMP keeps (Exif/XMP as Image > Metadata shows them), and the
    pixels (both images saved by GIMP's PNG exporter with the same options,
    compared here); after exporting to .raiiaf and opening again, still."""
    name = 'gimp-2.10'
    PROFILE = 'GIMP2_DIRECTORY'

    def available(self, args):
        if not (args.gimp2 and args.plugin and shutil.which(args.gimp2)):
            return 'gimp-console-2.10 or the plug-in for it not built'
        return None

    def command(self, args, gwork, lines):
        def q(text):
            return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gimp2-pngsuite.scm')
        prelude = os.path.join(gwork, 'prelude.scm')
        with open(prelude, 'w') as f:
            f.write('(define WORK %s)\n' % q(gwork))
            f.write('(define CASES (list %s))\n' % ' '.join(
                '(list %s)' % ' '.join(q(w) for w in line.split(' ')) for line in lines))
            f.write('(load %s)\n' % q(script))
        return [args.gimp2, '-i', '-d', '-f', '-b', '(load %s)' % q(prelude),
                '-b', '(gimp-quit 0)']

    def pixels(self, work, c, steps):
        gwork = os.path.join(work, 'gimp')
        ref = os.path.join(gwork, c.name + '.png.png')
        if not os.path.exists(ref):
            return []
        want = png_rows(ref)
        diffs = []
        for step in steps:
            path = os.path.join(gwork, '%s.%s.png' % (c.name, step))
            if not os.path.exists(path):
                continue
            got = png_rows(path)
            if got[0] != want[0]:
                diffs.append('%s: %s differ' % (step, ', '.join(
                    k for (k, b), (k2, b2) in zip(want[0], got[0]) if b != b2) or 'chunks'))
            elif got[1] != want[1]:
                n = sum(1 for x, y in zip(want[1], got[1]) if x != y)
                diffs.append('%s: pixels (%d of %d bytes differ)' % (step, n, len(want[1])))
        return diffs


class Thumbnailer:
    name = 'thumbnailer'
    SIZE = 7  # every PngSuite image is larger: each one is scaled

    def available(self, args):
        if not args.thumbnailer or not args.magick:
            return 'the thumbnailer, or magick as the reference decoder, is missing'
        try:
            global thumbref
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            '..', 'packaging'))
            import thumbref  # the thumbnailer's scaling, in numpy
        except ImportError:
            return 'numpy missing'
        return None

    def reference(self, args, c):
        """The thumbnailer's scaling (area average on premultiplied alpha,
        longer edge SIZE) of the PNG's pixels."""
        import numpy as np
        f = png_facts(c.png)
        w, h = f['width'], f['height']
        raw = magick_rgba16(args, c.png)
        img = np.frombuffer(raw, '<u2').reshape(h, w, 4).astype(np.float64) / 65535.0
        has_alpha = f['color_type'] in (4, 6) or f['trns'] is not None or f['palette_alpha']
        if w >= h:
            ow, oh = min(w, self.SIZE), max(1, round(h * min(w, self.SIZE) / w))
        else:
            oh, ow = min(h, self.SIZE), max(1, round(w * min(h, self.SIZE) / h))
        return thumbref.area_average(img if has_alpha else img[..., :3], ow, oh)[0]

    def compare(self, args, work, cases):
        import numpy as np
        out = {}
        for c in cases:
            thumb = os.path.join(work, c.name + '.thumb.png')
            res = subprocess.run([args.thumbnailer, '-s', str(self.SIZE), c.raiiaf, thumb],
                                 capture_output=True, text=True, timeout=TIMEOUT)
            if res.returncode != 0:
                out[c.name] = 'no thumbnail: ' + res.stderr.strip()
                continue
            want = self.reference(args, c)
            oh, ow, ch = want.shape
            got = magick_rgba16(args, thumb)
            f = png_facts(thumb)
            got_ch = 4 if f['color_type'] == 6 else 3
            if (f['width'], f['height'], got_ch) != (ow, oh, ch):
                out[c.name] = 'thumbnail %dx%d, %d channels; want %dx%d, %d' % (
                    f['width'], f['height'], got_ch, ow, oh, ch)
                continue
            got = np.frombuffer(got, '<u2').reshape(oh, ow, 4)[..., :ch].astype(np.int32) // 257
            # float32 sums in C against float64 here: a rounding step apart
            worst = int(np.abs(got - want).max())
            out[c.name] = None if worst <= 1 else 'off by up to %d' % worst
        return out

    def refuses(self, args, work, corrupt):
        out = {}
        for c in corrupt:
            thumb = os.path.join(work, c.name + '.thumb.png')
            res = subprocess.run([args.thumbnailer, c.raiiaf, thumb], capture_output=True,
                                 timeout=TIMEOUT)
            out[c.name] = None if res.returncode == 1 and not os.path.exists(thumb) else \
                'exit %d' % res.returncode
        return out


class ModuleHost:
    """A host whose module (a loader, a plugin) is checked through a test
    program of ours that loads the build tree's module through the real host
    library, named by environment variables: `PROGRAM same X.raiiaf X.png`
    compares what the module gives with what the host's own PNG reader
    gives for the PNG, `PROGRAM error X.raiiaf` must see the file refused,
    whole and in pieces, never with a crash."""

    def __init__(self, name, program, env, missing):
        self.name, self.program, self.env_items, self.missing = name, program, env, missing

    def available(self, args):
        if not (getattr(args, self.program) and getattr(args, self.env_items)):
            return self.missing
        return None

    def verdict(self, args, *cmd):
        env = dict(os.environ)
        for item in getattr(args, self.env_items):
            key, _, value = item.partition('=')
            env[key] = value
        res = subprocess.run([getattr(args, self.program)] + list(cmd), capture_output=True,
                             text=True, timeout=TIMEOUT, env=env)
        return None if res.returncode == 0 else \
            'exit %d: %s' % (res.returncode, res.stderr.strip()[-300:])

    def compare(self, args, work, cases):
        return {c.name: self.verdict(args, 'same', c.raiiaf, c.png) for c in cases}

    def refuses(self, args, work, corrupt):
        return {c.name: self.verdict(args, 'error', c.raiiaf) for c in corrupt}


# Our gdk-pixbuf loader against gdk-pixbuf's own PNG loader on the same PNG
# (test-pixbuf same: size, alpha, every pixel byte), the build tree's loader
# named by GDK_PIXBUF_MODULE_FILE; corrupt files must give a GError.
GdkPixbuf = ModuleHost('gdk-pixbuf', 'pixbuf_test', 'pixbuf_env', 'the gdk-pixbuf loader not built')
# Our Qt plugin through QImageReader against Qt's own PNG handler on the same
# PNG (test-qt same: QImage format, colour table, every pixel, colour space,
# text; by path, in pieces, scaled), the build tree's plugin named by
# QT_PLUGIN_PATH; corrupt files must be refused.
Qt = ModuleHost('qt', 'qt_test', 'qt_env', 'the Qt plugin not built')


class Pillow:
    """Our Pillow plugin (pyraiiaf.pillow): Image.open of the .raiiaf, from
    its path and from a file object, equals Image.open of the PNG (mode,
    size, pixels, palette, info); corrupt ones raise pyraiiaf.Error or
    Pillow's own error. pillow-pngsuite.py does it in one Python process."""
    name = 'pillow'

    def available(self, args):
        if not args.pillow_path:
            return 'pyraiiaf not built'
        import importlib.util
        return None if importlib.util.find_spec('PIL') else 'Pillow (python3-pil) not installed'

    def run(self, args, lines):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pillow-pngsuite.py')
        env = dict(os.environ, PYTHONPATH=args.pillow_path)
        try:
            res = subprocess.run([sys.executable, script], input='\n'.join(lines) + '\n',
                                 capture_output=True, text=True, timeout=600, env=env)
            output = res.stdout
            trouble = 'exit %d: %s' % (res.returncode, res.stderr[-2000:]) \
                if res.returncode else None
        except subprocess.TimeoutExpired as e:
            output, trouble = '', 'timeout: %s' % e
        results, done = parse_results(output)
        if trouble or not done:
            results[('Pillow', 'run')] = trouble or 'did not finish'
        return results

    def compare(self, args, work, cases):
        results = self.run(args, ['open %s %s %s' % (c.name, c.png, c.raiiaf) for c in cases])
        return step_verdicts(results, cases, 'open', 'Pillow')

    def refuses(self, args, work, corrupt):
        results = self.run(args, ['refuse %s %s' % (c.name, c.raiiaf) for c in corrupt])
        return step_verdicts(results, corrupt, 'refuse', 'Pillow')


# Hosts still to come, each one more entry here when it exists: the
# libdeflate read path (bit for bit with libpng, as the library host).
HOSTS = [Library(), Magick(), Gimp(), Gimp2(), Thumbnailer(), GdkPixbuf, Qt, Pillow()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--suite', required=True)
    ap.add_argument('--tool', required=True)
    ap.add_argument('--probe', required=True)
    ap.add_argument('--magick')
    ap.add_argument('--coder-path', help='MAGICK_CODER_MODULE_PATH with our coder')
    ap.add_argument('--thumbnailer')
    ap.add_argument('--gimp')
    ap.add_argument('--gimp2', help='gimp-console-2.10 (the plug-in is then built for it)')
    ap.add_argument('--plugin')
    ap.add_argument('--pixbuf-test', help='test-pixbuf of tests/gdk-pixbuf')
    ap.add_argument('--pixbuf-env', action='append', default=[],
                    help='KEY=VALUE for test-pixbuf (GDK_PIXBUF_MODULE_FILE, XDG_DATA_HOME)')
    ap.add_argument('--pillow-path', help='PYTHONPATH that imports the built pyraiiaf')
    ap.add_argument('--qt-test', help='test-qt of tests/qt')
    ap.add_argument('--qt-env', action='append', default=[],
                    help='KEY=VALUE for test-qt (QT_PLUGIN_PATH)')
    ap.add_argument('--hosts', help='comma-separated subset of: ' +
                    ', '.join(h.name for h in HOSTS))
    ap.add_argument('--only', help='comma-separated image names (without .png)')
    ap.add_argument('--no-export', action='store_true',
                    help='gimp: compare the opened images only, no export round trip')
    ap.add_argument('--keep', action='store_true')
    args = ap.parse_args()
    for key in ('tool', 'probe', 'thumbnailer', 'plugin', 'pixbuf_test', 'qt_test'):
        if getattr(args, key):
            setattr(args, key, os.path.abspath(getattr(args, key)))

    work = tempfile.mkdtemp(prefix='pngsuite-', dir=os.path.dirname(args.probe))
    failures = 0
    try:
        names = sorted(f[:-4] for f in os.listdir(args.suite) if f.endswith('.png'))
        if args.only:
            names = [n for n in names if n in args.only.split(',')]
        valid, corrupt = [], []
        pdir = os.path.join(work, 'packed')
        os.makedirs(pdir)
        for name in names:
            png = os.path.abspath(os.path.join(args.suite, name + '.png'))
            out = os.path.join(pdir, name + '.raiiaf')
            res = subprocess.run([args.tool, 'pack', '-o', out, '--image', png],
                                 capture_output=True, text=True, timeout=TIMEOUT)
            if not name.startswith('x'):
                if res.returncode != 0:
                    print('pack %s: refused a valid PNG: %s' % (name, res.stderr.strip()))
                    failures += 1
                else:
                    valid.append(Case(name, png, out))
            elif res.returncode == 1 and not os.path.exists(out) and res.stderr.strip():
                print('pack %s: refused: %s' % (name, res.stderr.strip().splitlines()[-1]))
            elif res.returncode == 0:
                corrupt.append(Case(name, png, out))  # every host must refuse it
            else:
                print('pack %s: exit %d, %s' % (name, res.returncode, res.stderr.strip()))
                failures += 1
        print('pack: %d valid images packed, %d corrupt ones refused, %d left to the hosts'
              % (len(valid), sum(1 for n in names if n.startswith('x')) - len(corrupt),
                 len(corrupt)))

        ran = 0
        for host in HOSTS:
            if args.hosts and host.name not in args.hosts.split(','):
                continue
            why = host.available(args)
            if why:
                print('%s: skipped (%s)' % (host.name, why))
                continue
            ran += 1
            hwork = os.path.join(work, host.name)
            os.makedirs(hwork, exist_ok=True)
            verdicts = host.compare(args, hwork, valid)
            if corrupt:
                for name, v in host.refuses(args, hwork, corrupt).items():
                    verdicts['refuse ' + name] = v
            for name, why in sorted(verdicts.items()):
                if why:
                    print('%s %s: %s' % (host.name, name, why))
            matched = sum(1 for c in valid if not verdicts.get(c.name))
            bad = sum(1 for v in verdicts.values() if v)
            print('%s: %d/%d match%s' % (host.name, matched, len(valid),
                                         '' if not corrupt else ', %d/%d corrupt refused' % (
                                             sum(1 for c in corrupt
                                                 if not verdicts.get('refuse ' + c.name)),
                                             len(corrupt))))
            failures += bad
        if not ran:
            return 77
    finally:
        if args.keep or failures:
            print('work folder kept: ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
