# Runs inside one headless GIMP (python-fu-eval), driven by check-hosts.py,
# which wrote $RAIIAF_PNGSUITE_WORK/gimp-cases.txt, one case a line:
#   open NAME PNG RAIIAF EXPORTED   open RAIIAF with our plug-in and PNG with
#                                   GIMP's own PNG loader (file-png-load):
#                                   the two images must be the same (pHYs
#                                   as resolution and unit included); then
#                                   export ours to EXPORTED (.raiiaf), open
#                                   that again: still the same as the PNG
#                                   (EXPORTED "-": no export)
#   refuse NAME RAIIAF              our plug-in must refuse the file
# and writes gimp-results.txt: "NAME STEP ok" or "NAME STEP DIFF: what".
#
# SPDX-License-Identifier: MIT

import os
import traceback

import gi
gi.require_version('Gimp', '3.0')
gi.require_version('Gegl', '0.4')
from gi.repository import Gimp, Gio, Gegl  # noqa: E402

WORK = os.environ['RAIIAF_PNGSUITE_WORK']
PDB = Gimp.get_pdb()
OUT = open(os.path.join(WORK, 'gimp-results.txt'), 'w')


def result(name, step, diff):
    OUT.write('%s %s %s\n' % (name, step, 'ok' if not diff else 'DIFF: ' + diff))
    OUT.flush()


def run(proc_name, **props):
    proc = PDB.lookup_procedure(proc_name)
    cfg = proc.create_config()
    for key, value in props.items():
        cfg.set_property(key.replace('_', '-'), value)
    res = proc.run(cfg)
    ok = res.index(0) == Gimp.PDBStatusType.SUCCESS
    return ok, (res.index(1) if ok and res.length() > 1 else None)


def load(proc_name, path):
    return run(proc_name, run_mode=Gimp.RunMode.NONINTERACTIVE,
               file=Gio.File.new_for_path(path))[1]


def parasite_bytes(image, name):
    p = image.get_parasite(name)
    return None if p is None else bytes(b & 0xFF for b in p.get_data())


def describe(image, rendered=False):
    """What a user of the image sees, in comparable form. rendered: the
    pixels of an INDEXED image as the colours they show, not as indices
    (GIMP keeps a colormap in the image's colour space at 8 bits, so two
    PNG palette entries can become one, and an export may then use either
    index for it)."""
    layers = image.get_layers()
    d = {
        'size': (image.get_width(), image.get_height()),
        'base type': image.get_base_type().value_nick,
        'precision': image.get_precision().value_nick,
        'layers': len(layers),
    }
    palette = image.get_palette()
    d['colormap'] = [c.get_rgba() for c in palette.get_colors()] if palette else None
    profile = image.get_color_profile()
    # The ICC header (128 bytes) holds the creation time of a generated
    # profile; everything after it is the profile's meaning.
    d['profile'] = None if profile is None else (profile.get_description(),
                                                 bytes(profile.get_icc_profile())[128:])
    d['profile name'] = parasite_bytes(image, 'icc-profile-name')
    # pHYs: GIMP's PNG loader takes resolution and unit from it
    d['resolution'] = tuple(image.get_resolution())
    d['unit'] = image.get_unit().get_name()
    if layers:
        layer = layers[0]
        d['alpha'] = layer.has_alpha()
        d['layer size'] = (layer.get_width(), layer.get_height(), layer.get_offsets()[1:])
        rect = Gegl.Rectangle.new(0, 0, layer.get_width(), layer.get_height())
        # In the layer's own format: the stored bytes, no conversion.
        fmt = "R'G'B'A u8" if rendered and layer.is_indexed() else None
        d['pixels'] = bytes(layer.get_buffer().get(rect, 1.0, fmt, Gegl.AbyssPolicy.NONE))
    return d


def differences(want, got):
    out = []
    for key in want:
        if want[key] != got.get(key):
            if key == 'pixels':
                a, b = want[key], got.get(key) or b''
                n = sum(1 for x, y in zip(a, b) if x != y) + abs(len(a) - len(b))
                out.append('pixels (%d of %d bytes differ)' % (n, len(a)))
            elif key == 'colormap':
                out.append('colormap (%s vs %s entries)' % (
                    len(want[key] or []), len(got.get(key) or [])))
            elif key == 'profile':
                out.append('profile (%r vs %r)' % (want[key] and want[key][0],
                                                   got.get(key) and got[key][0]))
            else:
                out.append('%s (%r vs %r)' % (key, want[key], got.get(key)))
    return '; '.join(out)


def open_case(name, png, raiiaf, exported):
    ref = load('file-png-load', png)
    if ref is None:
        result(name, 'open', "GIMP's PNG loader refuses the PNG")
        return
    want = describe(ref)
    want_export = describe(ref, rendered=True)
    ref.delete()
    ours = load('file-raiiaf-load', raiiaf)
    if ours is None:
        result(name, 'open', 'our plug-in refuses the .raiiaf')
        return
    result(name, 'open', differences(want, describe(ours)))
    if exported == '-':
        ours.delete()
        return
    # Clean, as File > Open (gimp-file-load) leaves an image: a script's
    # own call of the load procedure leaves it dirty, and the export of a
    # dirty image of a PNG without pHYs re-encodes it with the resolution
    # the image has.
    ours.clean_all()
    ok, _ = run('file-raiiaf-export', run_mode=Gimp.RunMode.NONINTERACTIVE, image=ours,
                file=Gio.File.new_for_path(exported), options=None)
    ours.delete()
    again = load('file-raiiaf-load', exported) if ok else None
    if again is None:
        result(name, 'export', 'not exported' if not ok else 'the export does not open')
        return
    if want['base type'] == 'indexed' and want.get('alpha'):
        # GIMP 3.0 turns an INDEXED layer into INDEXEDA (what its PNG loader
        # does for tRNS, and ours as it) through a palette conversion that,
        # after the first such image of a session, gives some pixels
        # another entry: the opened images agree (both took that path once,
        # above), but an export of one taken through it again no longer
        # does. Everything else about it is compared.
        del want_export['pixels']
    result(name, 'export', differences(want_export, describe(again, rendered=True)))
    again.delete()


def main():
    with open(os.path.join(WORK, 'gimp-cases.txt')) as f:
        cases = [line.split() for line in f if line.strip()]
    for case in cases:
        try:
            if case[0] == 'open':
                open_case(*case[1:])
            else:
                image = load('file-raiiaf-load', case[2])
                result(case[1], 'refuse', 'opened' if image is not None else None)
                if image is not None:
                    image.delete()
        except Exception:
            result(case[1], case[0], 'exception ' + traceback.format_exc().replace('\n', ' | '))
    OUT.write('DONE\n')
    OUT.close()


main()
