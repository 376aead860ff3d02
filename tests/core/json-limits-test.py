#!/usr/bin/env python3
"""json-limits-test.py CRAFT_JSON TEST_JSON_LIMITS RAIIAF_TOOL WORK_DIR

Crafted files (craft-json: every size and sha256 right, only the JSON of
the manifest or the environment lies) through the library
(test-json-limits), the CLI (raiiaf info and verify) and, when
MAGICK_CODER_MODULE_PATH names the built coder, magick: JSON that would
inflate to gigabytes, nest too deep, or is not JSON as the reference
writes it is refused with a message naming why; good files still open."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import checks  # noqa: E402  (check() and the failure count the scripts share)
from checks import check  # noqa: E402

craft, libtest, tool, work = sys.argv[1:5]

shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
kinds = [('objects', None), ('arrays', None), ('values', None), ('nested', None),
         ('comment', None), ('single-quote', None), ('nan', None), ('infinity', None),
         ('trailing-comma', None), ('control-char', None), ('plain', None),
         ('objects-1000', 1000), ('nested-60', 60)]
files = {}
for where in ('manifest', 'env'):
    for kind, count in kinds:
        name = f'{where}-{kind}'
        path = os.path.join(work, name + '.raiiaf')
        args = [craft, path, where, kind.split('-1000')[0].split('-60')[0]]
        if count:
            args.append(str(count))
        r = subprocess.run(args, capture_output=True, text=True)
        check(r.returncode == 0, f'craft {name}: {r.stdout.strip()}{r.stderr.strip()}')
        files[name] = path
# The bombs are small files: a few kB of zstd.
for where in ('manifest', 'env'):
    size = os.path.getsize(files[f'{where}-objects'])
    check(size < 16384, f'{where}-objects is a small file ({size} bytes)')

# The library.
r = subprocess.run([libtest, work], capture_output=True, text=True)
sys.stdout.write(r.stdout)
sys.stderr.write(r.stderr)
check(r.returncode == 0, 'library: every crafted file gives the expected error')

# The CLI: info (reads the environment for its text) and verify.
reasons = {'objects': 'bytes of memory once parsed', 'arrays': 'bytes of memory once parsed',
           'values': 'more than 500000 values', 'nested': 'nested deeper than 64',
           'comment': 'comment', 'single-quote': 'single-quoted string', 'nan': "'NaN'",
           'infinity': "'-Infinity'", 'trailing-comma': 'trailing comma',
           'control-char': 'control character'}
for name, path in sorted(files.items()):
    kind = name.split('-', 1)[1]
    for cmd in ('info', 'verify'):
        r = subprocess.run([tool, cmd, path], capture_output=True, text=True, timeout=120)
        said = r.stdout + r.stderr
        if kind in reasons:
            check(r.returncode == 1 and reasons[kind] in said,
                  f'raiiaf {cmd} {name}: exit {r.returncode}, {said.strip()[-160:]!r}')
        else:
            check(r.returncode == 0, f'raiiaf {cmd} {name}: exit {r.returncode} {r.stderr.strip()[:160]!r}')

# magick, with the coder of this build.
if os.environ.get('MAGICK_CODER_MODULE_PATH') and shutil.which('magick'):
    for name, path in sorted(files.items()):
        kind = name.split('-', 1)[1]
        r = subprocess.run(['magick', 'raiiaf:' + path, 'png:' + os.path.join(work, name + '.png')],
                           capture_output=True, text=True, timeout=120)
        if kind in reasons:
            check(r.returncode != 0 and reasons[kind] in r.stderr,
                  f'magick {name}: exit {r.returncode}, {r.stderr.strip()[:200]!r}')
        else:
            check(r.returncode == 0, f'magick {name}: exit {r.returncode} {r.stderr.strip()[:200]!r}')
else:
    print('# magick checks skipped: no coder in MAGICK_CODER_MODULE_PATH')
sys.exit(1 if checks.failures else 0)
