"""Damaged copies of a fixture, shared by the tests of every host (the
tool's, the Python binding's): header fields that lie, flipped bytes at the
start, middle and end of each chunk and of the manifest, truncations."""
import os
import re
import struct
import subprocess


def corruptions(path, expected):
    """(label, bytes) for each damaged copy of a fixture."""
    data = open(path, "rb").read()
    hdr = expected["header"]
    chunks = [(c["type"] + str(c["index"]), c["offset"], c["compressed_size"])
              for c in expected["chunks"]]
    chunks.append(("META", hdr["chunk_table_offset"], hdr["chunk_table_size"]))
    out = [("empty", b""), ("header-only", data[:20])]
    out.append(("bad-magic", b"RAIIAF" + data[6:]))
    for label, off, size in chunks:
        out.append((f"truncated-in-{label}", data[: off + size // 2]))
        for where, pos in (("start", off), ("middle", off + size // 2), ("end", off + size - 1)):
            b = bytearray(data)
            b[pos] ^= 0x55
            out.append((f"flip-{label}-{where}", bytes(b)))
    out.append(("truncated-last-byte", data[:-1]))
    out.append(("one-byte-more", data + b"\0"))
    b = bytearray(data)
    struct.pack_into("<Q", b, 21, len(data) + 4096)
    out.append(("header-file-size", bytes(b)))
    b = bytearray(data)
    struct.pack_into("<I", b, 17, hdr["chunk_count"] + 1)
    out.append(("header-chunk-count", bytes(b)))
    b = bytearray(data)
    struct.pack_into("<I", b, 9, 0xFFFFFF00)
    out.append(("header-table-offset", bytes(b)))
    return out


# Damage in these chunks never reaches a viewer, which reads the image only.
UNREAD_BY_VIEWERS = re.compile(r"flip-(LATN|ENVC)[0-9]*-")


def viewer_cases(fixtures, probe, work):
    """The corrupt set as an image viewer's loader meets it (the gdk-pixbuf
    and Qt tests): for each (path, expected) in fixtures, yields (case,
    label, damaged file, message, intact), case naming fixture and label.
    intact is True when the image must
    still show: the library finds nothing wrong with the file, or the damage
    is in a latent or environment chunk. Otherwise message is what the
    library says of the file (raiiaf-probe error). The file is removed once
    the caller's loop body is done with it."""
    for path, expected in fixtures:
        name = os.path.basename(path)[:-len(".raiiaf")]
        for label, data in corruptions(path, expected):
            bad = os.path.join(work, f"{name}-{label}.raiiaf")
            with open(bad, "wb") as f:
                f.write(data)
            res = subprocess.run([probe, "error", bad], capture_output=True, text=True, timeout=120)
            message = res.stdout.strip()
            intact = (res.returncode == 1 and not message) or bool(UNREAD_BY_VIEWERS.match(label))
            yield f"{name} {label}", label, bad, message, intact
            os.unlink(bad)
