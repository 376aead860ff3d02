#!/usr/bin/env python3
"""interpose-test.py SHARED_EXE STATIC_EXE SHIM JSON_GLIB OUT_DIR FIXTURES NAME...

Runs test_interpose.c linked with the shared and with the static library,
each with json-glib first in its link order, preloaded, and with an
unversioned json_object_get_type preloaded (SHIM); each run checks the text
values itself. The manifests the runs re-wrote must be byte-identical."""
import os
import shutil
import subprocess
import sys

shared, static, shim, json_glib, out, fixtures = sys.argv[1:7]
names = sys.argv[7:]
runs = [
    ('shared', shared, None),
    ('shared-preload-json-glib', shared, json_glib),
    ('shared-preload-unversioned', shared, shim),
    ('static', static, None),
    ('static-preload-json-glib', static, json_glib),
    ('static-preload-unversioned', static, shim),
]
failures = 0
shutil.rmtree(out, ignore_errors=True)
for label, exe, preload in runs:
    d = os.path.join(out, label)
    os.makedirs(d)
    env = dict(os.environ)
    if preload:
        env['LD_PRELOAD'] = preload
        # A sanitizer build: its runtime then is not first, which is fine here.
        env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':verify_asan_link_order=0'
    r = subprocess.run([exe, d, fixtures] + names, env=env, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        print(f'FAIL: {label}: exit {r.returncode}')
        failures += 1
    else:
        print(f'ok: {label}')

for name in names:
    ref = None
    for label, _, _ in runs:
        path = os.path.join(out, label, name + '.manifest.json')
        if not os.path.exists(path):
            continue
        data = open(path, 'rb').read()
        if ref is None:
            ref = (label, data)
        elif data != ref[1]:
            print(f'FAIL: {name}: the manifest written by {label} differs from {ref[0]}\'s')
            failures += 1
    if ref is None:
        print(f'FAIL: {name}: no run wrote a manifest')
        failures += 1
    else:
        print(f'ok: {name}: one manifest ({len(ref[1])} bytes) from every run')
sys.exit(1 if failures else 0)
