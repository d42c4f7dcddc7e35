#!/usr/bin/env python3
"""Writes the seed corpus for checkpoint_fuzzer into checkpoint/ beside this
script, and prints the golden checkpoint that tests/core/checkpoint_test.cc
embeds (kGoldenHex).

Standard library only, and independent of the C++ code: the file layout is
written from the format comment in core/checkpoint.h, and CRC-32C is
computed bit by bit (checked against RFC 3720's test vector below), not with
core/crc32c.cc's tables. The valid seeds are real checkpoints; the bad_*
ones each break one rule, with correct CRCs where the rule is not a CRC.
  /usr/bin/python3 tests/fuzz/corpus/make_checkpoint_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoint")
F32, F64, I32, I64, BOOL = 0, 1, 2, 3, 4  # core/dtype.h DType values


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


# RFC 3720 B.4 (32 bytes of zeros) and the CRC catalogue's check value.
assert crc32c(bytes(32)) == 0x8A9136AA
assert crc32c(b"123456789") == 0xE3069283


def with_crc(b):
    return b + struct.pack("<I", crc32c(b))


def record(name, dtype, dims, data, length=None):
    name = name.encode()
    b = (struct.pack("<I", len(name)) + name + struct.pack("<BI", dtype, len(dims)) +
         b"".join(struct.pack("<q", d) for d in dims) +
         struct.pack("<Q", len(data) if length is None else length) + data)
    return with_crc(b)


def checkpoint(step, rng, records, version=1, count=None):
    head = (b"RILLCKPT" + struct.pack("<Iq", version, step) +
            struct.pack("<Q", len(rng)) + rng +
            struct.pack("<Q", len(records) if count is None else count))
    return with_crc(with_crc(head) + b"".join(records))


GOLDEN = checkpoint(7, b"rng\x00\x01", [
    record("param/w", F32, [2], struct.pack("<2f", 1.5, -2.0)),
    record("opt/w/t", I64, [], struct.pack("<q", -3)),
])

SEEDS = {
    "golden.ckpt": GOLDEN,
    "empty.ckpt": checkpoint(0, b"", []),
    "all_dtypes.ckpt": checkpoint(123456789, bytes(range(16)), [
        record("param/f32", F32, [2, 3], struct.pack("<6f", 0, .5, -1, 2, 1e30, -0.)),
        record("param/f64", F64, [], struct.pack("<d", 3.141592653589793)),
        record("opt/i32", I32, [0, 3], b""),
        record("opt/i64", I64, [3], struct.pack("<3q", -1, 0, 2**62)),
        record("mask/bool", BOOL, [2, 2], bytes([1, 0, 0, 1])),
    ]),
    "rank4.ckpt": checkpoint(1, b"\xff" * 8, [
        record("param/k", F32, [1, 2, 1, 2], struct.pack("<4f", 1, 2, 3, 4)),
    ]),
    "bad_version.ckpt": checkpoint(0, b"", [], version=2),
    "bad_duplicate.ckpt": checkpoint(1, b"", [
        record("w", I32, [1], struct.pack("<i", 1)),
        record("w", I32, [1], struct.pack("<i", 2)),
    ]),
    "bad_dtype.ckpt": checkpoint(1, b"", [record("w", 9, [1], bytes(4))]),
    "bad_length.ckpt": checkpoint(1, b"", [record("w", F64, [2], bytes(8))]),
    "bad_bool_byte.ckpt": checkpoint(1, b"", [record("b", BOOL, [3], bytes([0, 1, 2]))]),
    "bad_negative_dim.ckpt": checkpoint(1, b"", [record("w", F32, [-1], b"")]),
    "bad_overflow_dims.ckpt": checkpoint(1, b"", [record("w", F64, [2**32, 2**31], b"")]),
    "bad_crc.ckpt": GOLDEN[:80] + bytes([GOLDEN[80] ^ 0x10]) + GOLDEN[81:],  # in data
    "bad_truncated.ckpt": GOLDEN[:-9],
    "bad_huge_length.ckpt": checkpoint(1, b"", [
        record("w", F32, [1], bytes(4), length=2**62)]),
}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT))
    print("kGoldenHex (%d bytes):" % len(GOLDEN))
    h = GOLDEN.hex()
    for i in range(0, len(h), 64):
        print('    "%s"' % h[i:i + 64])
