#!/usr/bin/env python3
"""The man pages stay true to the programs.

usage: man-pages-test.py SOURCE_ROOT RAIIAF RAIIAF_THUMBNAILER

Every command that `raiiaf --help` lists has a section in raiiaf.1, every
option of every `--help` (long and short form) appears in the page, and
groff formats both pages without a warning (when man-db is installed).
"""
import os
import re
import shutil
import subprocess
import sys

src, raiiaf, thumbnailer = sys.argv[1:4]
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def page_text(name):
    with open(os.path.join(src, "packaging", "man", name), encoding="utf-8") as f:
        roff = f.read()
    # Roff writes a '-' in an option as '\-'.
    return roff, roff.replace("\\-", "-")


def help_of(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    check(r.returncode == 0, f"{' '.join(os.path.basename(a) for a in argv)} exits 0")
    return r.stdout


def options(help_text):
    return sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", help_text)))


roff, text = page_text("raiiaf.1")
top = help_of(raiiaf, "--help")
commands = re.findall(r"^  ([a-z]+) ", top.split("Commands:", 1)[1], re.M)
check(len(commands) >= 4, f"raiiaf --help lists commands: {commands}")
for cmd in commands:
    check(f'.SS "{cmd} ' in roff, f"raiiaf.1 has a section for '{cmd}'")
    section = text.split(f'.SS "{cmd} ', 1)[-1].split(".SS ", 1)[0]
    for opt in options(help_of(raiiaf, cmd, "--help")):
        if opt in ("--help", "-h"):
            continue
        check(re.search(re.escape(opt) + r"(?![\w-])", section) is not None,
              f"raiiaf.1 '{cmd}' section names {opt}")
for opt in ("--help", "--version"):
    check(opt in text, f"raiiaf.1 names {opt}")

roff, text = page_text("raiiaf-thumbnailer.1")
for opt in options(help_of(thumbnailer, "--help")):
    check(re.search(re.escape(opt) + r"(?![\w-])", text) is not None,
          f"raiiaf-thumbnailer.1 names {opt}")
check("Exec=raiiaf-thumbnailer -s %s %i %o" in text,
      "raiiaf-thumbnailer.1 shows the thumbnailer entry's Exec line")

if shutil.which("man"):
    for name in ("raiiaf.1", "raiiaf-thumbnailer.1"):
        env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l",
                            os.path.join(src, "packaging", "man", name)],
                           capture_output=True, text=True, env=env)
        check(r.returncode == 0 and r.stderr.strip() == "",
              f"{name} formats without warnings {r.stderr.strip()[:300]}")
else:
    print("skip: man not installed, groff warnings not checked")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
