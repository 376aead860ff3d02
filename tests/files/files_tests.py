#!/usr/bin/env python3
"""Files under hostile input and faults, through the real programs.

    files_tests.py GROUP     GROUP: stream fifo enospc kill links extract

  stream   magick on non-seekable input: magic first, stop at the header's
           size, ImageMagick's memory limit while buffering, its width,
           height and area limits passed to the library
  fifo     a FIFO without a writer: info, verify, the thumbnailer, pack
           --image and magick raiiaf:FIFO return instead of hanging
  enospc   a full file system (a tiny tmpfs): magick, pack --force, the
           thumbnailer and extract --force fail and leave the old file whole
  kill     SIGKILL while writing: the old file stays whole, and nothing is
           left (O_TMPFILE) or what is left has a recognisable name and is
           removed by the next run (without /proc, as in a sandbox)
  links    pack --force and magick write through a symbolic link, keep hard
           links, mode and (where allowed) owner
  extract  extract -o DIR refuses a planted DIR/latents symbolic link

Environment (set by meson): RAIIAF_TOOL, RAIIAF_THUMBNAILER,
MAGICK_CODER_MODULE_PATH (optional: the magick checks are skipped without
it), RAIIAF_FIXTURES, RAIIAF_SCRATCH (a folder under the build tree).
Every check prints one line; exit 1 if any failed, 77 when the group
cannot run here (meson counts that as skipped).
"""
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import threading
import time

failures = []
checks = 0

TOOL = os.environ.get("RAIIAF_TOOL", "")
THUMB = os.environ.get("RAIIAF_THUMBNAILER", "")
FIXTURES = os.environ.get("RAIIAF_FIXTURES", "")
SCRATCH = os.environ.get("RAIIAF_SCRATCH", "")
# ImageMagick 7's `magick`, or ImageMagick 6's `convert` (and its separate
# `compare`).
CONVERT = "magick" if shutil.which("magick") else "convert"
HAVE_MAGICK = bool(os.environ.get("MAGICK_CODER_MODULE_PATH")) and shutil.which(CONVERT)
FIXTURE = "palette-zfp"


def check(condition, name, detail=""):
    global checks
    checks += 1
    if condition:
        print(f"ok   {name}")
    else:
        failures.append(name)
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))
    return condition


def run(args, stdin=None, timeout=60):
    """(returncode, stdout, stderr); returncode None when it had to be
    killed after `timeout` seconds (a hang)."""
    try:
        proc = subprocess.run(args, input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or b"", e.stderr or b""
    return proc.returncode, proc.stdout, proc.stderr


def text(data):
    return data.decode("utf-8", "replace").strip()


def fixture(name=FIXTURE):
    return os.path.join(FIXTURES, name + ".raiiaf")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def header(file_size, table_offset=33, table_size=100, count=1, major=1):
    """A .raiiaf header (our own layout of the spec's 33 bytes)."""
    return (b"raiiaf" + bytes([major, 0, 0]) +
            struct.pack("<IIIQI", table_offset, table_size, count, file_size, 0))


def fresh(name):
    path = os.path.join(SCRATCH, name)
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            subprocess.run(["umount", "-l", path], capture_output=True)
            shutil.rmtree(path)
        else:
            os.unlink(path)
    os.makedirs(path)
    return path


def magick(*args, stdin=None, timeout=60):
    if args and args[0] == "compare" and CONVERT != "magick":
        return run(list(args), stdin=stdin, timeout=timeout)
    return run([CONVERT, *args], stdin=stdin, timeout=timeout)


# ---- stream -----------------------------------------------------------------

def test_stream():
    if not HAVE_MAGICK:
        return 77
    work = fresh("stream")
    out = os.path.join(work, "out.png")
    # Endless zeros: refused on the magic, not buffered.
    rc, _, err = magick("-limit", "memory", "16MiB", "-limit", "disk", "0",
                        "raiiaf:/dev/zero", "png:" + out, timeout=60)
    check(rc is not None and rc != 0 and b"bad magic" in err,
          "raiiaf:/dev/zero refused on the magic", text(err))

    # A valid header claiming 3 GiB, then endless zeros on stdin: the
    # memory limit stops the buffering.
    proc = subprocess.Popen([CONVERT, "-limit", "memory", "16MiB", "-limit", "disk", "0",
                             "raiiaf:-", "png:" + out],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    fed = [0]

    def feed():
        try:
            proc.stdin.write(header(3 << 30, table_offset=(3 << 30) - 200))
            zeros = bytes(1 << 20)
            while fed[0] < (1 << 32):
                proc.stdin.write(zeros)
                fed[0] += len(zeros)
        except (BrokenPipeError, ValueError, OSError):
            pass

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    err = proc.stderr.read()
    check(proc.returncode not in (None, 0) and b"memory resource limit" in err,
          "a 3 GiB header on stdin stops at -limit memory", text(err))
    check(fed[0] < (64 << 20), "stopped reading within a few MiB of the limit",
          f"{fed[0]} bytes fed")

    # A header over the file size limit is refused after 33 bytes.
    rc, _, err = magick("raiiaf:-", "png:" + out,
                        stdin=header(1 << 40, table_offset=1000) + bytes(1000))
    check(rc not in (None, 0) and b"limit" in err, "a 1 TiB header refused", text(err))

    # A real file through a pipe, then endless zeros: reading stops one
    # byte after the header's file size and the extra data is refused, as
    # for a file on disk with bytes after its end.
    data = read(fixture())
    rc, _, err = magick("raiiaf:-", "png:" + out, stdin=data + bytes(8 << 20))
    check(rc not in (None, 0) and b"after the" in err,
          "a pipe going on after the header's file size is refused", text(err))
    rc, _, err = magick("raiiaf:-", "png:" + out, stdin=data)
    check(rc == 0, "the file itself through a pipe", text(err))
    ref = os.path.join(work, "ref.png")
    rc2, _, _ = magick(fixture(), "png:" + ref)
    rc3, _, diff = magick("compare", "-metric", "AE", out, ref, "null:")
    check(rc2 == 0 and rc3 == 0 and text(diff).split(" ")[0] == "0",
          "piped pixels equal the file's", text(diff))
    # A pipe that ends early.
    rc, _, err = magick("raiiaf:-", "png:" + os.path.join(work, "short.png"),
                        stdin=data[: len(data) // 2])
    check(rc not in (None, 0) and b"truncated" in err, "a short pipe is truncated", text(err))

    # ImageMagick's width, height and area limits reach the library (also on
    # a pipe).
    for what, value in (("width", "10"), ("height", "10"), ("area", "100")):
        rc, _, err = magick("-limit", what, value, "raiiaf:-", "png:" + out, stdin=data)
        check(rc not in (None, 0) and (b"limit" in err or b"exceeds" in err),
              f"-limit {what} applies", text(err))
    return 0


# ---- fifo -------------------------------------------------------------------

def test_fifo():
    work = fresh("fifo")
    fifo = os.path.join(work, "pipe.raiiaf")
    os.mkfifo(fifo)
    image = extract_image(work)  # a real image, so that pack reaches the FIFO
    cmds = [
        ("info", [TOOL, "info", fifo]),
        ("verify", [TOOL, "verify", fifo]),
        ("pack --image", [TOOL, "pack", "-o", os.path.join(work, "p.raiiaf"), "--image", fifo]),
        ("pack --metadata", [TOOL, "pack", "-o", os.path.join(work, "p.raiiaf"), "--image",
                             image, "--metadata", fifo]),
        ("pack --latent", [TOOL, "pack", "-o", os.path.join(work, "p.raiiaf"), "--image",
                           image, "--latent", "k=" + fifo]),
        ("thumbnailer", [THUMB, fifo, os.path.join(work, "t.png")]),
    ]
    if HAVE_MAGICK:
        cmds.append(("magick raiiaf:FIFO", [CONVERT, "raiiaf:" + fifo,
                                             os.path.join(work, "m.png")]))
    for name, cmd in cmds:
        rc, _, err = run(cmd, timeout=20)
        check(rc is not None and rc != 0, f"{name} on a FIFO without a writer returns",
              "hung" if rc is None else text(err))
    # A FIFO with a writer is read as a stream by magick.
    if HAVE_MAGICK:
        def writer():
            with open(fifo, "wb") as f:
                f.write(read(fixture()))
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        rc, _, err = run([CONVERT, "raiiaf:" + fifo, os.path.join(work, "m.png")], timeout=60)
        t.join(5)
        check(rc == 0, "magick raiiaf:FIFO with a writer reads it", text(err))
    return 0


# ---- enospc -----------------------------------------------------------------

def mount_tiny(path, size):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                       capture_output=True)
    return r.returncode == 0


def test_enospc():
    work = fresh("enospc")
    tiny = os.path.join(work, "tiny")
    os.makedirs(tiny)
    if not mount_tiny(tiny, "300k"):
        print("cannot mount a tmpfs here (not root?): skipped")
        return 77
    try:
        old = read(fixture())  # 79 kB: fits once, not with a larger file
        big_png = os.path.join(work, "big.png")
        run([CONVERT, "-size", "400x400", "xc:", "+noise", "random", big_png]) if HAVE_MAGICK \
            else None
        target = os.path.join(tiny, "old.raiiaf")

        def reset():
            for name in os.listdir(tiny):
                os.unlink(os.path.join(tiny, name))
            with open(target, "wb") as f:
                f.write(old)

        def intact(name):
            left = sorted(os.listdir(tiny))
            check(read(target) == old and left == ["old.raiiaf"],
                  f"{name}: the old file is whole, nothing left beside it", str(left))

        if HAVE_MAGICK:
            reset()
            rc, _, err = magick("-size", "400x400", "xc:", "+noise", "random", target)
            check(rc != 0 and b"No space left" in err, "magick on a full disk fails", text(err))
            intact("magick")
        if HAVE_MAGICK and os.path.exists(big_png):
            reset()
            rc, _, err = run([TOOL, "pack", "--force", "-o", target, "--image", big_png])
            check(rc == 1 and b"No space left" in err, "pack --force on a full disk fails",
                  text(err))
            intact("pack --force")
            # The thumbnailer: its output is the PNG, a 400x400 noise one.
            src = os.path.join(work, "big.raiiaf")
            run([TOOL, "pack", "-o", src, "--image", big_png])
            reset()
            rc, _, err = run([THUMB, "-s", "400", src, target])
            check(rc == 1, "the thumbnailer on a full disk fails", text(err))
            intact("thumbnailer")
    finally:
        subprocess.run(["umount", tiny], capture_output=True)
    return 0


# ---- kill -------------------------------------------------------------------

def temp_fds(pid, folder):
    """Descriptors of pid open on a file in `folder` other than a named
    target: O_TMPFILE ones show as '#NNN (deleted)'."""
    found = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            # A process in another mount namespace may show the path from
            # the host's root: compare the folder's tail.
            if os.path.dirname(target).endswith(folder) and \
                    ("#" in target or ".raiiaf-tmp-" in target):
                found.append(target)
    except OSError:
        pass
    return found


def kill_while_writing(cmd, folder, reset, attempts=5):
    """Runs cmd and SIGKILLs it as soon as it holds a temporary file in
    `folder`, after reset() has put the old file back. Returns (killed
    mid-write, what it held)."""
    for _ in range(attempts):
        reset()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        held = []
        while proc.poll() is None:
            held = temp_fds(proc.pid, folder)
            if held:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait()
        if held and proc.returncode == -signal.SIGKILL:
            return True, held
    return False, []


def test_kill():
    if not HAVE_MAGICK:
        return 77
    work = fresh("kill")
    # A large picture makes the thumbnailer's PNG write take a while.
    src = os.path.join(work, "big.raiiaf")
    rc, _, err = magick("-size", "3000x3000", "gradient:red-blue", src, timeout=300)
    if not check(rc == 0, "made a 3000x3000 source", text(err)):
        return 1
    out_dir = os.path.join(work, "thumbs")
    os.makedirs(out_dir)
    target = os.path.join(out_dir, "t.png")

    def reset():
        with open(target, "wb") as f:
            f.write(b"old thumbnail")

    cmd = [THUMB, "-s", "3000", src, target]
    killed, held = kill_while_writing(cmd, out_dir, reset)
    check(killed, "the thumbnailer was killed while writing", str(held))
    check(read(target) == b"old thumbnail", "the old file is whole after SIGKILL")
    check(os.listdir(out_dir) == ["t.png"], "O_TMPFILE: nothing left after SIGKILL",
          str(os.listdir(out_dir)))

    # magick, killed while writing a large file: the old file stays whole.
    mdir = os.path.join(work, "magick")
    os.makedirs(mdir)
    mtarget = os.path.join(mdir, "old.raiiaf")
    killed, held = kill_while_writing(
        [CONVERT, "-size", "2500x2500", "xc:", "+noise", "random", "-define",
         "raiiaf:compression-level=0", mtarget], mdir, lambda: shutil.copy(fixture(), mtarget))
    check(read(mtarget) == read(fixture()) and os.listdir(mdir) == ["old.raiiaf"],
          "magick killed " + ("while writing" if killed else "(not caught mid-write)") +
          ": the old file is whole, nothing left", str(os.listdir(mdir)))

    # Without /proc (as in some sandboxes) the library falls back to a
    # named temporary file: recognisable, and removed by the next run.
    unshare = ["unshare", "-m", "--propagation", "unchanged"]
    if subprocess.run(unshare + ["true"], capture_output=True).returncode != 0:
        print("no mount namespaces here: the named fallback is not checked")
        return 0
    noproc = unshare + ["sh", "-c", 'mount -t tmpfs none /proc && exec "$@"', "sh"]
    killed, held = kill_while_writing(noproc + cmd, out_dir, reset)
    left = [n for n in os.listdir(out_dir) if n != "t.png"]
    check(killed and any(".raiiaf-tmp-" in h for h in held),
          "without /proc: killed while writing a named temporary file", str(held))
    check(read(target) == b"old thumbnail", "the old file is whole after SIGKILL (named)")
    check(len(left) == 1 and left[0].startswith(".t.png.raiiaf-tmp-"),
          "the leftover is hidden and recognisable", str(left))
    # The next run in that folder (any output) removes it.
    rc, _, err = run([THUMB, "-s", "64", fixture(), os.path.join(out_dir, "other.png")])
    check(rc == 0 and sorted(os.listdir(out_dir)) == ["other.png", "t.png"],
          "the next run removes the leftover", f"{text(err)} {os.listdir(out_dir)}")

    return 0


# ---- links ------------------------------------------------------------------

def extract_image(work):
    d = os.path.join(work, "x")
    rc, _, err = run([TOOL, "extract", fixture(), "-o", d])
    check(rc == 0, "extract the fixture", text(err))
    return os.path.join(d, "image.png")


def test_links():
    work = fresh("links")
    image = extract_image(work)
    real = os.path.join(work, "real.raiiaf")
    shutil.copy(fixture("camera-gray-f16-raw"), real)
    os.chmod(real, 0o640)
    link = os.path.join(work, "link.raiiaf")
    os.symlink("real.raiiaf", link)
    rc, _, err = run([TOOL, "pack", "--force", "-o", link, "--image", image])
    check(rc == 0, "pack --force onto a symbolic link", text(err))
    check(os.path.islink(link) and os.readlink(link) == "real.raiiaf", "the link stays a link")
    rc, out, _ = run([TOOL, "info", "--json", real])
    check(rc == 0 and read(real) != read(fixture("camera-gray-f16-raw")),
          "its target holds the new file")
    check(stat.S_IMODE(os.stat(real).st_mode) == 0o640, "mode kept",
          oct(os.stat(real).st_mode))

    hard1 = os.path.join(work, "hard1.raiiaf")
    hard2 = os.path.join(work, "hard2.raiiaf")
    shutil.copy(fixture("camera-gray-f16-raw"), hard1)
    os.link(hard1, hard2)
    ino = os.stat(hard1).st_ino
    rc, _, err = run([TOOL, "pack", "--force", "-o", hard1, "--image", image])
    check(rc == 0 and os.stat(hard1).st_ino == ino and os.stat(hard1).st_nlink == 2 and
          read(hard1) == read(hard2), "pack --force keeps a hard link", text(err))
    rc, _, err = run([TOOL, "verify", hard2])
    check(rc == 0, "the other name holds a valid file", text(err))

    # Owner and group: root may give the file back to its owner.
    if os.geteuid() == 0:
        owned = os.path.join(work, "owned.raiiaf")
        shutil.copy(fixture(), owned)
        os.chown(owned, 1234, 2345)
        rc, _, err = run([TOOL, "pack", "--force", "-o", owned, "--image", image])
        st = os.stat(owned)
        check(rc == 0 and (st.st_uid, st.st_gid) == (1234, 2345), "owner and group kept",
              f"{st.st_uid}:{st.st_gid} {text(err)}")

    if HAVE_MAGICK:
        mreal = os.path.join(work, "mreal.raiiaf")
        shutil.copy(fixture(), mreal)
        mlink = os.path.join(work, "mlink.raiiaf")
        os.symlink("mreal.raiiaf", mlink)
        rc, _, err = magick(mlink, "-negate", mlink)
        check(rc == 0 and os.path.islink(mlink) and read(mreal) != read(fixture()),
              "magick writes through a symbolic link", text(err))
        # A pipe or stdout output is ImageMagick's blob: written whole.
        rc, out, err = magick(fixture(), "raiiaf:-")
        check(rc == 0 and out[:6] == b"raiiaf", "magick to stdout", text(err))
        rc2, _, err2 = magick("raiiaf:-", "null:", stdin=out)
        check(rc2 == 0, "the file written to stdout reads back", text(err2))
    return 0


# ---- extract ----------------------------------------------------------------

def test_extract():
    work = fresh("extract")
    outside = os.path.join(work, "outside")
    os.makedirs(outside)
    d = os.path.join(work, "out")
    os.makedirs(d)
    os.symlink(outside, os.path.join(d, "latents"))
    for force in ([], ["--force"]):
        rc, _, err = run([TOOL, "extract", fixture(), "-o", d, *force])
        check(rc == 1 and b"symbolic link" in err,
              "extract refuses a planted DIR/latents link" + (" with --force" if force else ""),
              text(err))
        check(os.listdir(outside) == [], "nothing written outside DIR", str(os.listdir(outside)))
    check(sorted(os.listdir(d)) == ["latents"], "nothing left in DIR", str(os.listdir(d)))
    # A planted link at a file name is replaced with --force, not followed.
    os.unlink(os.path.join(d, "latents"))
    victim = os.path.join(outside, "victim.json")
    with open(victim, "w") as f:
        f.write("{}")
    os.symlink(victim, os.path.join(d, "manifest.json"))
    rc, _, err = run([TOOL, "extract", fixture(), "-o", d])
    check(rc == 1, "without --force a planted file link counts as existing", text(err))
    rc, _, err = run([TOOL, "extract", fixture(), "-o", d, "--force"])
    check(rc == 0 and read(victim) == b"{}" and not os.path.islink(os.path.join(d, "manifest.json")),
          "with --force the link is replaced, its target untouched", text(err))
    # A DIR that is itself a link (the user's choice) still works.
    real = os.path.join(work, "real-dir")
    os.makedirs(real)
    os.symlink(real, os.path.join(work, "dir-link"))
    rc, _, err = run([TOOL, "extract", fixture(), "-o", os.path.join(work, "dir-link")])
    check(rc == 0 and os.path.exists(os.path.join(real, "image.png")),
          "a DIR given as a symbolic link is followed", text(err))
    return 0


GROUPS = {
    "stream": test_stream,
    "fifo": test_fifo,
    "enospc": test_enospc,
    "kill": test_kill,
    "links": test_links,
    "extract": test_extract,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in GROUPS:
        print(__doc__)
        return 2
    os.makedirs(SCRATCH, exist_ok=True)
    status = GROUPS[sys.argv[1]]()
    if status == 77 and not failures:
        print("skipped: this group cannot run here")
        return 77
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
