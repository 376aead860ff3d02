# Checks that run inside headless GIMP (python-fu-eval batch interpreter),
# driven by test-gimp.py, which prepared the work folder:
#   fixtures.txt          "NAME PATH" lines
#   dump/NAME/            what the library says of each fixture
#                         (raiiaf-probe dump)
#   corrupt/X.raiiaf      broken files, with X.expect: the library's message
#   out/                  where this script writes; test-gimp.py checks the
#                         files with the library afterwards
# Every check prints "ok" or "not ok" to gimp-checks.log; the last line is
# "DONE failures=N". An exception also fails the GIMP run (exit status 64).
#
# SPDX-License-Identifier: MIT

import html
import json
import os
import traceback

import gi
gi.require_version('Gimp', '3.0')
gi.require_version('Gegl', '0.4')
from gi.repository import Gimp, Gio, Gegl  # noqa: E402

WORK = os.environ['RAIIAF_GIMP_TEST_DIR']
OUT = os.path.join(WORK, 'out')
XMP_DESCRIPTION = 'a lighthouse at dusk, oil painting, by the sea'  # as test-gimp.py writes it
NONINTERACTIVE = Gimp.RunMode.NONINTERACTIVE
PDB = Gimp.get_pdb()
LOG = open(os.path.join(WORK, 'gimp-checks.log'), 'w')
failures = 0

# enum raiiaf_format -> (base type, precision, has alpha, babl format)
U8 = Gimp.Precision.U8_NON_LINEAR
U16 = Gimp.Precision.U16_NON_LINEAR
RGB = Gimp.ImageBaseType.RGB
GRAY = Gimp.ImageBaseType.GRAY
FORMATS = {
    1: (GRAY, U8, False, "Y' u8"),
    2: (GRAY, U8, True, "Y'A u8"),
    3: (RGB, U8, False, "R'G'B' u8"),
    4: (RGB, U8, True, "R'G'B'A u8"),
    5: (GRAY, U16, False, "Y' u16"),
    6: (GRAY, U16, True, "Y'A u16"),
    7: (RGB, U16, False, "R'G'B' u16"),
    8: (RGB, U16, True, "R'G'B'A u16"),
}


def log(line):
    LOG.write(line + '\n')
    LOG.flush()


def check(cond, what):
    global failures
    if cond:
        log('ok - ' + what)
    else:
        failures += 1
        log('not ok - ' + what)
    return cond


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def gfile(path):
    return Gio.File.new_for_path(path)


def run(name, **props):
    """Runs a PDB procedure; returns (status, values, error message)."""
    proc = PDB.lookup_procedure(name)
    cfg = proc.create_config()
    for key, value in props.items():
        cfg.set_property(key.replace('_', '-'), value)
    res = proc.run(cfg)
    status = res.index(0)
    values = [res.index(i) for i in range(1, res.length())]
    message = ''
    if status != Gimp.PDBStatusType.SUCCESS and values and isinstance(values[0], str):
        message = values[0]
    return status, values, message


def load(path):
    status, values, message = run('file-raiiaf-load', run_mode=NONINTERACTIVE,
                                  file=gfile(path))
    if status != Gimp.PDBStatusType.SUCCESS:
        log('# load %s: %s %s' % (path, status, message))
        return None
    return values[0]


def export(image, path, **options):
    props = dict(run_mode=NONINTERACTIVE, image=image, file=gfile(path),
                 options=None)
    props.update(options)
    return run('file-raiiaf-export', **props)


def pixels(image, babl_name):
    layer = image.get_layers()[0]
    buf = layer.get_buffer()
    rect = Gegl.Rectangle.new(0, 0, layer.get_width(), layer.get_height())
    return bytes(buf.get(rect, 1.0, babl_name, Gegl.AbyssPolicy.NONE))


def parasite(image, name):
    p = image.get_parasite(name)
    # PyGObject hands the data over as a list of signed bytes.
    return None if p is None else bytes(b & 0xFF for b in p.get_data())


def parasite_flags(image, name):
    p = image.get_parasite(name)
    return None if p is None else p.get_flags()


def raiiaf_parasites(image):
    return sorted(n for n in image.get_parasite_list() if n.startswith('raiiaf/'))


def read_info(name):
    """The probe's info.json as flat keys: width, height, format,
    png_bit_depth, png_color_type, has_icc, latent_count, latent-N-key."""
    with open(os.path.join(WORK, 'dump', name, 'info.json'), encoding='utf-8') as f:
        dump = json.load(f)
    image = dump['image']
    info = {'width': image['width'], 'height': image['height'], 'format': image['format'],
            'png_bit_depth': image['bit_depth'], 'png_color_type': image['color_type'],
            'has_icc': image['has_icc'], 'latent_count': len(dump['latents'])}
    for i, latent in enumerate(dump['latents']):
        info['latent-%d-key' % i] = latent['key']
    return info


def expected_parasites(name):
    """parasite name -> bytes, from the library's dump of the file."""
    d = os.path.join(WORK, 'dump', name)
    info = read_info(name)
    want = {'raiiaf/manifest': read(os.path.join(d, 'manifest.json'))}
    if os.path.exists(os.path.join(d, 'environment.json')):
        want['raiiaf/environment'] = read(os.path.join(d, 'environment.json'))
    for i in range(int(info['latent_count'])):
        key = info['latent-%d-key' % i]
        want['raiiaf/latent/' + key] = read(os.path.join(d, 'latent-%d.stored' % i))
    return want


def profile_bytes(image):
    profile = image.get_color_profile()
    return None if profile is None else bytes(profile.get_icc_profile())


def png_text_chunks(path):
    """keyword -> text of the tEXt/iTXt chunks of a PNG file."""
    import struct
    import zlib
    data = read(path)
    pos, found = 8, {}
    while pos + 8 <= len(data):
        length, ctype = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b'tEXt':
            k, _, v = body.partition(b'\0')
            found[k.decode('latin-1')] = v.decode('latin-1')
        elif ctype == b'zTXt':
            k, _, v = body.partition(b'\0')
            found[k.decode('latin-1')] = zlib.decompress(v[1:]).decode('latin-1')
        elif ctype == b'iTXt':
            k, _, rest = body.partition(b'\0')
            comp, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b'\0')       # language tag
            _, _, text = rest.partition(b'\0')       # translated keyword
            found[k.decode('latin-1')] = (zlib.decompress(text) if comp else text).decode('utf-8')
        pos += 12 + length
    return found


# --------------------------------------------------------------------------

def check_fixture(name, path):
    info = read_info(name)
    base, precision, alpha, babl_name = FORMATS[int(info['format'])]
    if int(info['png_color_type']) == 3:
        base = Gimp.ImageBaseType.INDEXED  # a palette PNG opens as GIMP opens it
    images_before = len(Gimp.get_images())

    image = load(path)
    if not check(image is not None, '%s: opens' % name):
        return
    layers = image.get_layers()
    check(len(layers) == 1, '%s: one layer' % name)
    check(image.get_width() == int(info['width']) and
          image.get_height() == int(info['height']),
          '%s: size %sx%s' % (name, info['width'], info['height']))
    check(image.get_base_type() == base, '%s: base type %s' % (name, base.value_nick))
    check(image.get_precision() == precision,
          '%s: precision %s' % (name, precision.value_nick))
    check(layers[0].has_alpha() == alpha, '%s: alpha %s' % (name, alpha))

    # The same PNG through GIMP's own loader is the reference for pixels.
    png = Gimp.file_load(NONINTERACTIVE, gfile(os.path.join(WORK, 'dump', name, 'image.png')))
    if check(png is not None, '%s: GIMP opens the embedded PNG' % name):
        check(png.get_precision() == image.get_precision(),
              '%s: precision as GIMP\'s PNG loader' % name)
        check(png.get_base_type() == image.get_base_type(),
              '%s: base type as GIMP\'s PNG loader' % name)
        check(pixels(image, babl_name) == pixels(png, babl_name),
              '%s: pixels equal GIMP\'s PNG loader\'s (%s)' % (name, babl_name))
        check(profile_bytes(image) == profile_bytes(png),
              '%s: colour profile as GIMP\'s PNG loader' % name)
        png.delete()

    want = expected_parasites(name)
    check(raiiaf_parasites(image) == sorted(want),
          '%s: parasites %s' % (name, ', '.join(sorted(want))))
    for pname, data in sorted(want.items()):
        check(parasite(image, pname) == data, '%s: %s byte for byte' % (name, pname))
        check(parasite_flags(image, pname) & Gimp.PARASITE_PERSISTENT,
              '%s: %s persistent' % (name, pname))

    params = read(os.path.join(WORK, 'dump', name, 'parameters.txt'))
    check(parasite(image, 'gimp-comment') == params + b'\0',
          '%s: gimp-comment is the parameters text' % name)

    # What the metadata carries (dc:description is cut at its first comma
    # by GIMP 3.0; the prompt is checked up to there).
    xmp = image.get_metadata().serialize() if image.get_metadata() else ''
    with open(os.path.join(OUT, name + '.metadata.xml'), 'w') as f:
        f.write(xmp)
    prompt = params.decode('utf-8').split('\n')[0]
    check(prompt.split(',')[0] in html.unescape(xmp), '%s: prompt in the image metadata' % name)

    # Thumbnail: the image alone, with the full size reported.
    status, values, message = run('file-raiiaf-load-thumb', file=gfile(path), thumb_size=128)
    if check(status == Gimp.PDBStatusType.SUCCESS, '%s: thumbnail (%s)' % (name, message)):
        thumb = values[0]
        check(values[1] == int(info['width']) and values[2] == int(info['height']),
              '%s: thumbnail reports the full size' % name)
        check(thumb.get_parasite_list() == [] or not raiiaf_parasites(thumb),
              '%s: thumbnail carries no latents' % name)
        thumb.delete()

    # The generic entry point picks our loader by magic, whatever the name.
    other = os.path.join(OUT, name + '.bin')
    with open(other, 'wb') as f:
        f.write(read(path))
    by_magic = Gimp.file_load(NONINTERACTIVE, gfile(other))
    if check(by_magic is not None and raiiaf_parasites(by_magic) == sorted(want),
             '%s: gimp-file-load finds the loader by magic' % name):
        by_magic.delete()

    # Edit, export, reopen: pixels as edited, latents as they were.
    layer = image.get_layers()[0]
    w, h = layer.get_width(), layer.get_height()
    bpp = len(pixels(image, babl_name)) // (w * h)
    buf = layer.get_buffer()
    patch = bytes((i * 37) % 251 for i in range(16 * 16 * bpp))
    buf.set(Gegl.Rectangle.new(0, 0, 16, 16), babl_name, patch)
    buf.flush()
    layer.update(0, 0, 16, 16)
    edited = pixels(image, babl_name)
    pristine = load(path)
    check(edited != pixels(pristine, babl_name), '%s: edit changed the pixels' % name)
    pristine.delete()

    out = os.path.join(OUT, name + '.edited.raiiaf')
    status, _, message = export(image, out, compression=9)
    if check(status == Gimp.PDBStatusType.SUCCESS, '%s: export after edit (%s)' % (name, message)):
        again = load(out)
        if check(again is not None, '%s: exported file reopens' % name):
            check(pixels(again, babl_name) == edited, '%s: reopened pixels are the edited ones' % name)
            check(again.get_precision() == precision and again.get_base_type() == base and
                  again.get_layers()[0].has_alpha() == alpha,
                  '%s: reopened with the same precision, type and alpha' % name)
            check(profile_bytes(again) == profile_bytes(image),
                  '%s: reopened with the same colour profile' % name)
            for pname, data in sorted(want.items()):
                if pname.startswith('raiiaf/latent/'):
                    check(parasite(again, pname) == data,
                          '%s: %s kept bit for bit through export' % (name, pname))
            check(parasite(again, 'raiiaf/environment') == want.get('raiiaf/environment'),
                  '%s: environment kept through export' % name)
            again.delete()

    # Without latents.
    out = os.path.join(OUT, name + '.nolatents.raiiaf')
    status, _, message = export(image, out, keep_latents=False)
    if check(status == Gimp.PDBStatusType.SUCCESS, '%s: export without latents (%s)' % (name, message)):
        again = load(out)
        if check(again is not None, '%s: export without latents reopens' % name):
            check(not [n for n in raiiaf_parasites(again) if n.startswith('raiiaf/latent/')],
                  '%s: no latent parasites after keep-latents=FALSE' % name)
            again.delete()

    # XCF round trip keeps every parasite, then exports as before.
    xcf = os.path.join(OUT, name + '.xcf')
    Gimp.file_save(NONINTERACTIVE, image, gfile(xcf), None)
    from_xcf = Gimp.file_load(NONINTERACTIVE, gfile(xcf))
    if check(from_xcf is not None, '%s: XCF reopens' % name):
        for pname, data in sorted(want.items()):
            check(parasite(from_xcf, pname) == data, '%s: %s survives XCF' % (name, pname))
        check(parasite(from_xcf, 'gimp-comment') == params + b'\0',
              '%s: gimp-comment survives XCF' % name)
        status, _, message = export(from_xcf, os.path.join(OUT, name + '.from-xcf.raiiaf'))
        check(status == Gimp.PDBStatusType.SUCCESS, '%s: export from XCF (%s)' % (name, message))
        from_xcf.delete()

    image.delete()
    check(len(Gimp.get_images()) == images_before, '%s: no image left behind' % name)


def check_png_export_carries_prompt(name, path):
    """GIMP's PNG exporter carries our comment (the parameters text)."""
    image = load(path)
    if image is None:
        return check(False, '%s: opens for PNG export' % name)
    out = os.path.join(OUT, name + '.png')
    status, _, message = run('file-png-export', run_mode=NONINTERACTIVE, image=image,
                             file=gfile(out), options=None, include_comment=True,
                             include_xmp=True)
    if check(status == Gimp.PDBStatusType.SUCCESS, '%s: PNG export (%s)' % (name, message)):
        chunks = png_text_chunks(out)
        params = read(os.path.join(WORK, 'dump', name, 'parameters.txt')).decode('utf-8')
        check(chunks.get('Comment') == params,
              '%s: PNG export has the parameters as its Comment' % name)
        xmp = chunks.get('XML:com.adobe.xmp', '')
        with open(out + '.xmp', 'w') as f:
            f.write(xmp)
        check('dc:description' in xmp, '%s: PNG export has an XMP dc:description' % name)
    image.delete()


def check_new_images():
    """Images that never were .raiiaf files export with no latents."""
    cases = [
        ('new-rgb8', RGB, U8, Gimp.ImageType.RGB_IMAGE, "R'G'B' u8", 3),
        ('new-graya16', GRAY, U16, Gimp.ImageType.GRAYA_IMAGE, "Y'A u16", 4),
        ('new-rgba16', RGB, U16, Gimp.ImageType.RGBA_IMAGE, "R'G'B'A u16", 8),
    ]
    for name, base, precision, layer_type, babl_name, bpp in cases:
        w, h = 61, 37
        image = Gimp.Image.new_with_precision(w, h, base, precision)
        layer = Gimp.Layer.new(image, 'bg', w, h, layer_type, 100, Gimp.LayerMode.NORMAL)
        image.insert_layer(layer, None, 0)
        data = bytes((i * 7919 + i // 13) % 256 for i in range(w * h * bpp))
        buf = layer.get_buffer()
        buf.set(Gegl.Rectangle.new(0, 0, w, h), babl_name, data)
        buf.flush()
        out = os.path.join(OUT, name + '.raiiaf')
        status, _, message = export(image, out, prompt='a cat, on a mat', model='test-model',
                                    compression=1)
        if check(status == Gimp.PDBStatusType.SUCCESS, '%s: export (%s)' % (name, message)):
            again = load(out)
            if check(again is not None, '%s: reopens' % name):
                check(again.get_base_type() == base and again.get_precision() == precision and
                      again.get_layers()[0].has_alpha() == layer.has_alpha(),
                      '%s: same type, precision and alpha' % name)
                check(pixels(again, babl_name) == pixels(image, babl_name), '%s: same pixels' % name)
                check(not [n for n in raiiaf_parasites(again) if n.startswith('raiiaf/latent/')],
                      '%s: no latents' % name)
                again.delete()
        image.delete()

    # An indexed image (the palette fixture's PNG through GIMP's own
    # loader) is exported as a palette PNG and reopens INDEXED.
    png_path = os.path.join(WORK, 'dump', 'palette-zfp', 'image.png')
    if os.path.exists(png_path):
        image = Gimp.file_load(NONINTERACTIVE, gfile(png_path))
        check(image.get_base_type() == Gimp.ImageBaseType.INDEXED, 'indexed: GIMP opens the PNG indexed')
        out = os.path.join(OUT, 'new-indexed.raiiaf')
        status, _, message = export(image, out)
        if check(status == Gimp.PDBStatusType.SUCCESS, 'indexed: export (%s)' % message):
            again = load(out)
            if check(again is not None, 'indexed: reopens'):
                check(again.get_base_type() == Gimp.ImageBaseType.INDEXED and
                      again.get_precision() == U8, 'indexed: reopened as 8-bit INDEXED')
                check(pixels(again, "R'G'B' u8") == pixels(image, "R'G'B' u8"), 'indexed: same pixels')
                again.delete()
        image.delete()

    # Two layers and float precision: flattened, exported as 16 bits.
    image = Gimp.Image.new_with_precision(40, 30, RGB, Gimp.Precision.FLOAT_LINEAR)
    for i in range(2):
        layer = Gimp.Layer.new(image, 'l%d' % i, 40 - 10 * i, 30 - 10 * i,
                               Gimp.ImageType.RGBA_IMAGE, 100, Gimp.LayerMode.NORMAL)
        image.insert_layer(layer, None, 0)
        buf = layer.get_buffer()
        buf.set(Gegl.Rectangle.new(0, 0, layer.get_width(), layer.get_height()), "R'G'B'A u8",
                bytes([60 * (i + 1), 20, 200, 255]) * (layer.get_width() * layer.get_height()))
        buf.flush()
    out = os.path.join(OUT, 'new-float-layers.raiiaf')
    status, _, message = export(image, out)
    if check(status == Gimp.PDBStatusType.SUCCESS, 'two float layers: export (%s)' % message):
        again = load(out)
        if check(again is not None, 'two float layers: reopens'):
            check(len(again.get_layers()) == 1 and again.get_precision() == U16,
                  'two float layers: one 16-bit layer')
            px = pixels(again, "R'G'B'A u8")
            check(px[:4] == bytes([120, 20, 200, 255]) and px[-4:] == bytes([60, 20, 200, 255]),
                  'two float layers: composite pixels')
            again.delete()
    image.delete()


def check_corrupt():
    cdir = os.path.join(WORK, 'corrupt')
    for fname in sorted(os.listdir(cdir)):
        if not fname.endswith('.raiiaf'):
            continue
        path = os.path.join(cdir, fname)
        expect = read(path[:-len('.raiiaf')] + '.expect').decode('utf-8').strip()
        before = len(Gimp.get_images())
        status, values, message = run('file-raiiaf-load', run_mode=NONINTERACTIVE, file=gfile(path))
        check(status == Gimp.PDBStatusType.EXECUTION_ERROR,
              '%s: load fails with an execution error (%s)' % (fname, status.value_nick))
        check(expect in message, '%s: message "%s" names the problem "%s"' % (fname, message, expect))
        status, values, message = run('file-raiiaf-load-thumb', file=gfile(path), thumb_size=128)
        if '-latn-' in fname or '-envc-' in fname:
            # The preview never reads latents nor the environment: a file
            # broken only there still shows its picture.
            check(status == Gimp.PDBStatusType.SUCCESS,
                  '%s: thumbnail succeeds without reading latents (%s)' % (fname, message))
            if status == Gimp.PDBStatusType.SUCCESS:
                values[0].delete()
        else:
            check(status == Gimp.PDBStatusType.EXECUTION_ERROR,
                  '%s: thumbnail fails (%s)' % (fname, message))
        check(Gimp.file_load(NONINTERACTIVE, gfile(path)) is None, '%s: gimp-file-load fails' % fname)
        check(len(Gimp.get_images()) == before, '%s: nothing half-loaded' % fname)


def check_failed_export_keeps_file(name, path):
    image = load(path)
    target = os.path.join(OUT, 'keep.raiiaf')
    original = read(path)
    with open(target, 'wb') as f:
        f.write(original)
    image.attach_parasite(Gimp.Parasite.new('raiiaf/latent/broken', Gimp.PARASITE_PERSISTENT,
                                            b'not a stored latent'))
    status, _, message = export(image, target)
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR, 'broken latent parasite: export fails (%s)' % message)
    check(read(target) == original, 'broken latent parasite: the existing file is untouched')
    leftovers = [f for f in os.listdir(OUT) if f.startswith('keep.raiiaf') and f != 'keep.raiiaf']
    check(not leftovers, 'broken latent parasite: no temporary file left (%s)' % leftovers)
    image.detach_parasite('raiiaf/latent/broken')
    status, _, message = export(image, os.path.join(OUT, 'no-such-dir', 'x.raiiaf'))
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR, 'missing folder: export fails (%s)' % message)
    image.delete()


def check_override(name, path):
    """prompt/model arguments replace the file's own; the rest stays."""
    image = load(path)
    status, _, message = export(image, os.path.join(OUT, 'override.raiiaf'),
                                prompt='a new prompt, with a comma', model='other-model')
    check(status == Gimp.PDBStatusType.SUCCESS, 'override: export (%s)' % message)
    # "Export to" (last values): nothing remembered in this fresh profile,
    # so the defaults, and the image's own prompt.
    status, _, message = export(image, os.path.join(OUT, 'last-values.raiiaf'),
                                run_mode=Gimp.RunMode.WITH_LAST_VALS)
    check(status == Gimp.PDBStatusType.SUCCESS, 'last values: export (%s)' % message)
    image.delete()


def check_mismatched_profile():
    image = load(os.path.join(WORK, 'grey-rgb-icc.raiiaf'))
    if check(image is not None, 'grey image with an RGB profile opens'):
        check(image.get_base_type() == GRAY and image.get_color_profile() is None,
              'grey image with an RGB profile: grey, profile left out')
        check(pixels(image, "Y' u8") == bytes(i * 2 for i in range(128)),
              'grey image with an RGB profile: pixels as stored')
        image.delete()


def check_script_fu(path):
    """Script-Fu batch export with named arguments, as the README shows."""
    out = os.path.join(OUT, 'script-fu.raiiaf')
    script = ('(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE "%s"))))'
              ' (file-raiiaf-export #:run-mode RUN-NONINTERACTIVE #:image img #:file "%s"'
              ' #:options -1 #:compression 1 #:keep-latents TRUE #:latent-storage "raw"'
              ' #:prompt "" #:model "")'
              ' (gimp-image-delete img))' % (path, out))
    status, _, message = run('plug-in-script-fu-eval', run_mode=NONINTERACTIVE, script=script)
    check(status == Gimp.PDBStatusType.SUCCESS and os.path.exists(out),
          'Script-Fu export with named arguments (%s)' % message)

    # Arguments left out take their defaults; gimp-file-save picks the
    # exporter by the extension.
    out2 = os.path.join(OUT, 'script-fu-short.raiiaf')
    out3 = os.path.join(OUT, 'script-fu-file-save.raiiaf')
    script = ('(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE "%s"))))'
              ' (file-raiiaf-export #:run-mode RUN-NONINTERACTIVE #:image img #:file "%s"'
              ' #:options -1 #:compression 2)'
              ' (gimp-file-save RUN-NONINTERACTIVE img "%s" -1)'
              ' (gimp-image-delete img))' % (path, out2, out3))
    status, _, message = run('plug-in-script-fu-eval', run_mode=NONINTERACTIVE, script=script)
    check(status == Gimp.PDBStatusType.SUCCESS and os.path.exists(out2) and os.path.exists(out3),
          'Script-Fu export with some arguments, and gimp-file-save (%s)' % message)


def check_origin():
    """origin.raiiaf (made by test-gimp.py): its PNG's metadata shown as
    GIMP's PNG loader shows it; exports keep the latents' order, the PNG
    bytes when nothing changed, the PNG's metadata when something did."""
    import shutil
    path = os.path.join(WORK, 'origin.raiiaf')
    png_path = os.path.join(WORK, 'src', 'origin.png')
    if not os.path.exists(path):
        log('# origin.raiiaf not made: left out')
        return
    image = load(path)
    if not check(image is not None, 'origin: opens'):
        return
    png = Gimp.file_load(NONINTERACTIVE, gfile(png_path))
    # The layer gets the name GIMP's PNG loader's layer gets (the README
    # says so).
    by_name = Gimp.file_load(NONINTERACTIVE, gfile(path))
    check(by_name.get_layers()[0].get_name() == png.get_layers()[0].get_name(),
          'origin: the layer is named as GIMP names a PNG\'s (%r; PNG: %r)'
          % (by_name.get_layers()[0].get_name(), png.get_layers()[0].get_name()))
    by_name.delete()

    # Metadata as GIMP's own PNG loader shows it.
    def tags(img):
        import xml.etree.ElementTree as ET
        md = img.get_metadata()
        root = ET.fromstring(md.serialize()) if md else None
        return {} if root is None else {t.get('name'): t.text for t in root.iter('tag')}
    ours, theirs = tags(image), tags(png)
    for name in ('Xmp.dc.description', 'Exif.Image.Artist'):
        check(ours.get(name) is not None and ours.get(name) == theirs.get(name),
              'origin: %s as GIMP\'s PNG loader shows it (%r, PNG: %r)'
              % (name, ours.get(name), theirs.get(name)))
    log('# dc:description through GIMP: ours %r, GIMP\'s PNG loader %r, in the file %r' %
        (ours.get('Xmp.dc.description'), theirs.get('Xmp.dc.description'), XMP_DESCRIPTION))
    check(parasite(image, 'gimp-comment') == parasite(png, 'gimp-comment'),
          'origin: the PNG\'s Comment is the image comment, as with GIMP\'s PNG loader (%r)'
          % parasite(image, 'gimp-comment'))
    ok, xres, yres = image.get_resolution()
    pok, pxres, pyres = png.get_resolution()
    check(abs(xres - pxres) < 1e-6 and abs(yres - pyres) < 1e-6 and abs(xres - 96.012) < 0.01,
          'origin: resolution from pHYs as GIMP\'s PNG loader (%.3f x %.3f, PNG %.3f)' % (xres, yres, pxres))

    def exif_dpi(t):
        num, _, den = (t.get('Exif.Image.XResolution') or '0').partition('/')
        per_cm = t.get('Exif.Image.ResolutionUnit') == '3'
        return float(num) / float(den or 1) * (2.54 if per_cm else 1)
    check(abs(exif_dpi(ours) - xres) < 0.01,
          'origin: one resolution: the Exif tab says %.3f dpi, Print Size %.3f' % (exif_dpi(ours), xres))
    png.delete()

    # Unchanged: the original PNG bytes, no edit recorded.
    status, _, message = export(image, os.path.join(OUT, 'origin-unchanged.raiiaf'))
    check(status == Gimp.PDBStatusType.SUCCESS, 'origin: unchanged export (%s)' % message)

    xcf = os.path.join(OUT, 'origin.xcf')
    Gimp.file_save(NONINTERACTIVE, image, gfile(xcf), None)
    from_xcf = Gimp.file_load(NONINTERACTIVE, gfile(xcf))
    status, _, message = export(from_xcf, os.path.join(OUT, 'origin-from-xcf.raiiaf'))
    check(status == Gimp.PDBStatusType.SUCCESS, 'origin: unchanged export from XCF (%s)' % message)
    from_xcf.delete()

    # Overwrite (last values) onto the file it came from, twice.
    again = os.path.join(OUT, 'origin-unchanged-again.raiiaf')
    shutil.copyfile(path, again)
    img2 = load(again)
    for i in range(2):
        status, _, message = export(img2, again, run_mode=Gimp.RunMode.WITH_LAST_VALS)
        check(status == Gimp.PDBStatusType.SUCCESS, 'origin: overwrite %d (%s)' % (i + 1, message))
    img2.delete()

    # Edited: re-encoded, every metadata chunk written back (or all but
    # the XMP when unticked).
    layer = image.get_layers()[0]
    buf = layer.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, 4, 4), "R'G'B' u8", bytes(range(48)))
    buf.flush()
    layer.update(0, 0, 4, 4)
    status, _, message = export(image, os.path.join(OUT, 'origin-edited.raiiaf'))
    check(status == Gimp.PDBStatusType.SUCCESS, 'origin: edited export (%s)' % message)
    status, _, message = export(image, os.path.join(OUT, 'origin-no-xmp.raiiaf'), include_xmp=False)
    check(status == Gimp.PDBStatusType.SUCCESS, 'origin: export without XMP (%s)' % message)

    # Onto a symbolic link to a file with mode 0640.
    target, link = os.path.join(OUT, 'link-target.raiiaf'), os.path.join(OUT, 'link.raiiaf')
    shutil.copyfile(os.path.join(WORK, 'fixtures', 'astronaut-f32-zfp.raiiaf'), target)
    os.chmod(target, 0o640)
    os.symlink('link-target.raiiaf', link)
    status, _, message = export(image, link)
    check(status == Gimp.PDBStatusType.SUCCESS, 'origin: export onto a symlink (%s)' % message)
    image.delete()

    # More pixels than the plug-in's limit: refused before decoding.
    huge = os.path.join(WORK, 'huge.raiiaf')
    if os.path.exists(huge):
        status, _, message = run('file-raiiaf-load', run_mode=NONINTERACTIVE, file=gfile(huge))
        check(status == Gimp.PDBStatusType.EXECUTION_ERROR and 'limit' in message,
              'huge: refused by the plug-in\'s pixel limit (%s)' % message)


def main():
    fixtures = [line.split(' ', 1) for line in open(os.path.join(WORK, 'fixtures.txt')).read().splitlines()]
    check(PDB.procedure_exists('file-raiiaf-load') and PDB.procedure_exists('file-raiiaf-export') and
          PDB.procedure_exists('file-raiiaf-load-thumb'), 'procedures registered')
    for name, path in fixtures:
        try:
            check_fixture(name, path)
        except Exception:
            check(False, '%s: exception\n%s' % (name, traceback.format_exc()))
    for fn, args in ((check_png_export_carries_prompt, fixtures[0]),
                     (check_new_images, ()),
                     (check_corrupt, ()),
                     (check_failed_export_keeps_file, fixtures[0]),
                     (check_override, fixtures[0]),
                     (check_mismatched_profile, ()),
                     (check_script_fu, (fixtures[0][1],)),
                     (check_origin, ())):
        try:
            fn(*args)
        except Exception:
            check(False, '%s: exception\n%s' % (fn.__name__, traceback.format_exc()))
    log('DONE failures=%d' % failures)
    LOG.close()
    if failures:
        raise RuntimeError('%d GIMP checks failed, see %s' % (failures, LOG.name))


main()
