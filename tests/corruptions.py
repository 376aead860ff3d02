"""Damaged copies of a fixture, shared by the tests of every host (the
tool's, the Python binding's): header fields that lie, flipped bytes at the
start, middle and end of each chunk and of the manifest, truncations."""
import struct


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
