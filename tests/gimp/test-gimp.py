#!/usr/bin/env python3
# The GIMP plug-in through the real headless GIMP 3 (gimp-console-3) or
# GIMP 2.10 (gimp-console-2.10, --api 2.0).
#
#   test-gimp.py --plugin PATH --probe PATH --fixtures DIR [--gimp PROGRAM]
#                [--api 3.0|2.0] [--tool PATH]
#
# 1. A throwaway GIMP profile (HOME, GIMP3_DIRECTORY or GIMP2_DIRECTORY)
#    whose plug-ins folder holds the build tree's file-raiiaf in its own
#    sub-folder.
# 2. The library's view of every fixture (raiiaf-probe dump), and
#    corrupt files made here with the library's message for each.
# 3. One GIMP run executes gimp-checks.py (GIMP 3, python-fu-eval) or
#    gimp2-checks.scm (GIMP 2.10, Script-Fu: GIMP 2.10 on Debian 12 and
#    Ubuntu has no Python-Fu) under a timeout.
# 4. The files GIMP exported are checked with the library: they verify,
#    keep the latents bit for bit, record the edit and the prompt given;
#    for GIMP 2.10 also the pixels it opened against the library's and
#    against GIMP's own PNG loader.
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

GIMP_TIMEOUT = 420


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


def scheme_string(text):
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def gimp2_command(args, work, corrupt):
    """Script-Fu: the work folder, fixtures and broken files, then the checks."""
    fixtures = [line.split(' ', 1) for line in
                open(os.path.join(work, 'fixtures.txt')).read().splitlines()]
    checks = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gimp2-checks.scm')
    prelude = os.path.join(work, 'prelude.scm')
    with open(prelude, 'w') as f:
        f.write('(define WORK %s)\n' % scheme_string(work))
        f.write('(define FIXTURES (list %s))\n' % ' '.join(
            '(list %s %s)' % (scheme_string(n), scheme_string(p)) for n, p in fixtures))
        f.write('(define CORRUPT (list %s))\n' % ' '.join(
            scheme_string(os.path.join(work, 'corrupt', c + '.raiiaf')) for c in corrupt))
        f.write('(define GREY-RGB-ICC %s)\n' % (
            '#t' if os.path.exists(os.path.join(work, 'grey-rgb-icc.raiiaf')) else '#f'))
        f.write('(define ORIGIN %s)\n' % (
            '#t' if os.path.exists(os.path.join(work, 'origin.raiiaf')) else '#f'))
        f.write('(load %s)\n' % scheme_string(checks))
    return [args.gimp, '-i', '-d', '-f', '-b', '(load %s)' % scheme_string(prelude),
            '-b', '(gimp-quit 0)']


def run_gimp(args, work, corrupt):
    env = dict(os.environ)
    env['HOME'] = os.path.join(work, 'home')
    profile = 'GIMP2_DIRECTORY' if args.api == '2.0' else 'GIMP3_DIRECTORY'
    env[profile] = os.path.join(work, 'profile')
    env['RAIIAF_GIMP_TEST_DIR'] = work
    env.pop('DISPLAY', None)
    plugdir = os.path.join(env[profile], 'plug-ins', 'file-raiiaf')
    os.makedirs(plugdir)
    os.makedirs(env['HOME'])
    # GIMP 3 runs only plug-ins that sit in a folder named like them. A
    # link, not a copy: the build tree's executable finds libraiiaf
    # relative to where it really is.
    os.symlink(args.plugin, os.path.join(plugdir, 'file-raiiaf'))

    if args.api == '2.0':
        cmd = gimp2_command(args, work, corrupt)
    else:
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
    if args.api == '2.0':
        # Script-Fu cannot read a failed call's message; GIMP prints it.
        for variant in corrupt:
            path = os.path.join(work, 'corrupt', variant + '.raiiaf')
            expect = open(os.path.join(work, 'corrupt', variant + '.expect')).read()
            check("Could not open '%s' as a raiiaf file: %s" % (path, expect) in output,
                  '%s: GIMP shows the message "%s"' % (variant, expect))
        huge = os.path.join(work, 'huge.raiiaf')
        if os.path.exists(huge):
            check(any(line.startswith("Could not open '%s'" % huge) and 'limit' in line
                      for line in output.splitlines()),
                  'huge: refused by the plug-in\'s pixel limit')
    check(rc == 0, 'GIMP exits 0 (got %s)' % rc)
    check(bool(lines) and lines[-1] == 'DONE failures=0', 'every check inside GIMP passed')
    for needle in ('Plug-in crashed', 'Segmentation fault', 'file-raiiaf-CRITICAL',
                   'file-raiiaf-WARNING', 'file-raiiaf: gimp_flush(): error'):
        check(needle not in output, 'GIMP output has no "%s"' % needle)
    if rc != 0 or not lines or lines[-1] != 'DONE failures=0':
        print(output[-6000:])


def decoded(args, work, png):
    """(width, height, format, pixels) of a PNG, decoded by the library."""
    wrapped = png + '.raiiaf'
    res = subprocess.run([args.tool, 'pack', '-o', wrapped, '--image', png],
                         capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError('raiiaf pack %s: %s' % (png, res.stderr))
    probe(args, 'pixels', wrapped, wrapped + '.px')
    head, _, data = read(wrapped + '.px').partition(b'\n')
    return tuple(head.split()) + (data,)


def check_pixels(args, work, fixtures):
    """GIMP 2.10: what the plug-in opened, saved by GIMP's PNG exporter, has
    the pixels the library decodes, and those GIMP's own PNG loader gives."""
    out = os.path.join(work, 'out')
    for name, path in fixtures:
        ours_png = os.path.join(out, name + '.ours.png')
        gimp_png = os.path.join(out, name + '.gimp-png.png')
        if not check(os.path.exists(ours_png) and os.path.exists(gimp_png),
                     '%s: opened image saved as PNG' % name):
            continue
        ours = decoded(args, work, ours_png)
        theirs = decoded(args, work, gimp_png)
        probe(args, 'pixels', path, os.path.join(work, name + '.px'))
        head, _, data = read(os.path.join(work, name + '.px')).partition(b'\n')
        library = tuple(head.split()) + (data,)
        check(ours == theirs, '%s: pixels as GIMP\'s PNG loader gives them (%s vs %s)'
              % (name, ours[:3], theirs[:3]))
        check(ours == library, '%s: pixels as the library decodes them (%s vs %s)'
              % (name, ours[:3], library[:3]))


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


# --------------------------------------------------------------------------
# A file whose embedded PNG carries its own metadata (XMP with a comma in
# dc:description, eXIf, tEXt/zTXt/iTXt, pHYs) and three latents stored in
# the order c, a, b: made here in Python (PNG) and by the CLI (pack).

XMP_DESCRIPTION = 'a lighthouse at dusk, oil painting, by the sea'
PNG_COMMENT = 'Made for the test, with a comma'


def png_chunk(ctype, body):
    import struct
    import zlib
    return struct.pack('>I', len(body)) + ctype + body + \
        struct.pack('>I', zlib.crc32(ctype + body) & 0xFFFFFFFF)


def exif_blob():
    """A big-endian TIFF header with one IFD entry: Artist = "raiiaf test"."""
    import struct
    artist = b'raiiaf test\0'
    ifd = struct.pack('>H', 1) + struct.pack('>HHII', 0x013B, 2, len(artist), 26) + struct.pack('>I', 0)
    return b'MM\0*' + struct.pack('>I', 8) + ifd + artist


def xmp_packet():
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">%s</rdf:li></rdf:Alt>'
            '</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>\n'
            '<?xpacket end="w"?>' % XMP_DESCRIPTION).encode('utf-8')


def make_png(width, height, with_metadata=True, bit_depth=8, color_type=2, rows=None):
    import struct
    import zlib
    channels = {0: 1, 2: 3, 6: 4}[color_type]
    if rows is None:
        rows = b''.join(b'\0' + bytes(((x * 5 + y * 3 + c * 60) % 256)
                                      for x in range(width) for c in range(channels))
                        for y in range(height))
    out = b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, bit_depth,
                                                               color_type, 0, 0, 0))
    if with_metadata:
        out += png_chunk(b'pHYs', struct.pack('>IIB', 3780, 3780, 1))   # 96 dpi
        out += png_chunk(b'iTXt', b'XML:com.adobe.xmp\0\0\0\0\0' + xmp_packet())
        out += png_chunk(b'eXIf', exif_blob())
        out += png_chunk(b'tEXt', b'Comment\0' + PNG_COMMENT.encode('latin-1'))
        out += png_chunk(b'zTXt', b'Software\0\0' + zlib.compress(b'a test generator', 9))
        out += png_chunk(b'iTXt', b'Title\0\0\0fr\0Titre\0' + 'Phare \u00e0 l\'aube'.encode('utf-8'))
    out += png_chunk(b'IDAT', zlib.compress(rows, 9)) + png_chunk(b'IEND', b'')
    return out


def write_npy(path, shape, seed):
    import struct
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % \
        ''.join('%d, ' % d for d in shape)
    header = header + ' ' * (63 - (len(header) + 10) % 64) + '\n'
    count = 1
    for d in shape:
        count *= d
    with open(path, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(header)) + header.encode('latin-1'))
        f.write(struct.pack('<%df' % count, *[((i * seed) % 97) / 7.0 - 3.0 for i in range(count)]))


def make_origin_files(args, work):
    """origin.raiiaf (PNG metadata, latents c, a, b) and huge.raiiaf (a
    PNG over the plug-in's pixel limit), packed with the CLI."""
    if not args.tool:
        print('# no raiiaf tool: PNG metadata checks left out')
        return False
    src = os.path.join(work, 'src')
    os.makedirs(src)
    with open(os.path.join(src, 'origin.png'), 'wb') as f:
        f.write(make_png(48, 32))
    cmd = [args.tool, 'pack', '-o', os.path.join(work, 'origin.raiiaf'),
           '--image', os.path.join(src, 'origin.png')]
    for key, seed in (('c', 3), ('a', 5), ('b', 7)):
        npy = os.path.join(src, key + '.npy')
        write_npy(npy, (1, 4, 8, 8), seed)
        cmd += ['--latent', '%s=%s' % (key, npy)]
    meta = os.path.join(src, 'meta.json')
    with open(meta, 'w') as f:
        json.dump({'model_name': 'test-model', 'prompt': 'a lighthouse, at dusk'}, f)
    cmd += ['--metadata', meta]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if not check(res.returncode == 0, 'origin.raiiaf packed (%s)' % res.stderr.strip()):
        return False
    # 16400 x 16400 grey, 1 bit: a few kB, more pixels than the plug-in's
    # limit (2^28) and fewer than the library's (2^30).
    side = 16400
    rows = (b'\0' + bytes(side // 8 + 1)) * side
    with open(os.path.join(src, 'huge.png'), 'wb') as f:
        f.write(make_png(side, side, with_metadata=False, bit_depth=1, color_type=0, rows=rows))
    res = subprocess.run([args.tool, 'pack', '-o', os.path.join(work, 'huge.raiiaf'),
                          '--image', os.path.join(src, 'huge.png')],
                         capture_output=True, text=True, timeout=60)
    check(res.returncode == 0, 'huge.raiiaf packed (%s)' % res.stderr.strip())
    return True


def png_chunks(path):
    """[(type, body)] of a PNG file."""
    import struct
    data = read(path)
    pos, chunks = 8, []
    while pos + 8 <= len(data):
        length, ctype = struct.unpack('>I4s', data[pos:pos + 8])
        chunks.append((ctype.decode('latin-1'), data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def check_origin_exports(args, work):
    """What GIMP exported from origin.raiiaf (see check_origin in
    gimp-checks.py)."""
    out = os.path.join(work, 'out')
    orig = os.path.join(work, 'origin.raiiaf')
    odump = os.path.join(work, 'dump-origin')
    os.makedirs(odump)
    probe(args, 'dump', orig, odump)
    text = lambda f, key: probe(args, 'text', f, key, check_rc=False).stdout.strip()
    orig_chunks = [c for c in png_chunks(os.path.join(odump, 'image.png'))
                   if c[0] in ('pHYs', 'iTXt', 'tEXt', 'zTXt', 'eXIf')]

    def dumped(name):
        path = os.path.join(out, name + '.raiiaf')
        if not check(os.path.exists(path), '%s: exported' % name):
            return None
        d = os.path.join(work, 'outdump', name)
        os.makedirs(d)
        if not check(probe(args, 'dump', path, d, check_rc=False).returncode == 0 and
                     probe(args, 'verify', path, check_rc=False).returncode == 0,
                     '%s: verifies and reads back' % name):
            return None
        return path, d

    for name in ('origin-unchanged', 'origin-from-xcf', 'origin-unchanged-again',
                 'origin-edited', 'origin-no-xmp'):
        got = dumped(name)
        if not got:
            continue
        path, d = got
        check([l['key'] for l in json.load(open(os.path.join(d, 'info.json')))['latents']] ==
              ['c', 'a', 'b'], '%s: latents in the file\'s order c, a, b' % name)
        for i in range(3):
            check(read(os.path.join(d, 'latent-%d.stored' % i)) ==
                  read(os.path.join(odump, 'latent-%d.stored' % i)),
                  '%s: latent %d bit for bit' % (name, i))
        same_png = read(os.path.join(d, 'image.png')) == read(os.path.join(odump, 'image.png'))
        history = text(path, 'edit-history')
        if name in ('origin-unchanged', 'origin-from-xcf', 'origin-unchanged-again'):
            check(same_png, '%s: the original PNG bytes, unchanged' % name)
            check(history == '' and '"edited"' not in read(os.path.join(d, 'manifest.json')).decode() and
                  'image_matches_latents' not in read(os.path.join(d, 'manifest.json')).decode(),
                  '%s: no edit recorded (%r)' % (name, history))
            continue
        check(not same_png, '%s: PNG re-encoded' % name)
        check('GIMP' in history, '%s: edit recorded (%r)' % (name, history))
        chunks = [c for c in png_chunks(os.path.join(d, 'image.png'))
                  if c[0] in ('pHYs', 'iTXt', 'tEXt', 'zTXt', 'eXIf')]
        want = orig_chunks
        if name == 'origin-no-xmp':
            want = [c for c in orig_chunks if not c[1].startswith(b'XML:com.adobe.xmp\0')]
        check(sorted(chunks) == sorted(want),
              '%s: the PNG\'s pHYs, XMP, eXIf and text chunks written back%s (%s)'
              % (name, ' but XMP' if name == 'origin-no-xmp' else '',
                 ', '.join('%s:%d' % (c[0], len(c[1])) for c in chunks)))

    # Exported onto a symbolic link: written through, the link and the
    # target's mode kept.
    link, target = os.path.join(out, 'link.raiiaf'), os.path.join(out, 'link-target.raiiaf')
    check(os.path.islink(link) and os.readlink(link) == 'link-target.raiiaf',
          'symlink: still a link to its target')
    check(oct(os.stat(target).st_mode & 0o777) == oct(0o640),
          'symlink: the target keeps its mode 0640 (%s)' % oct(os.stat(target).st_mode & 0o777))
    check(text(target, 'latent-0') == text(orig, 'latent-0'), 'symlink: the target holds the export')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--plugin', required=True)
    ap.add_argument('--probe', required=True)
    ap.add_argument('--fixtures', required=True)
    ap.add_argument('--gimp', default='gimp-console-3')
    ap.add_argument('--api', default='3.0', choices=('3.0', '2.0'),
                    help='the libgimp the plug-in is built for')
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

        corrupt = make_corrupt(args, work, fixtures)
        # A grey PNG carrying an RGB profile (the astronaut's): GIMP cannot
        # use that profile, the image must still open.
        # libpng before 1.6.44 (Debian 12) refuses to write that file.
        res = probe(args, 'grey-rgb-icc', os.path.join(fdir, 'astronaut-f32-zfp.raiiaf'),
                    os.path.join(work, 'grey-rgb-icc.raiiaf'), check_rc=args.api != '2.0')
        if res.returncode != 0:
            print('# no grey image with an RGB profile: %s' % res.stderr.strip())
        origin = make_origin_files(args, work)
        if origin and args.api == '2.0':
            # Script-Fu copies no files and makes no links: ready here what
            # gimp-checks.py makes itself.
            out = os.path.join(work, 'out')
            shutil.copyfile(os.path.join(work, 'origin.raiiaf'),
                            os.path.join(out, 'origin-unchanged-again.raiiaf'))
            target = os.path.join(out, 'link-target.raiiaf')
            shutil.copyfile(os.path.join(fdir, 'astronaut-f32-zfp.raiiaf'), target)
            os.chmod(target, 0o640)
            os.symlink('link-target.raiiaf', os.path.join(out, 'link.raiiaf'))
        run_gimp(args, work, corrupt)
        check_exports(args, work, fixtures)
        if origin:
            check_origin_exports(args, work)
        if args.api == '2.0' and args.tool:
            check_pixels(args, work, fixtures)
    finally:
        if args.keep or checks.failures:
            print('work folder kept: ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print('%d failure(s)' % checks.failures)
    return 1 if checks.failures else 0


if __name__ == '__main__':
    sys.exit(main())
