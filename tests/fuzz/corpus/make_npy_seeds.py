#!/usr/bin/env python3
"""Writes the seed corpus for npy_fuzzer into npy/ beside this script.

Standard library only. Headers are laid out as numpy 1.24 writes them, so the
valid seeds are real .npy files; the invalid ones each break one rule.
  python3 tests/fuzz/corpus/make_npy_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npy")


def npy(descr, shape, data, fortran=False, version=1):
    shape_text = "(%s,)" % shape[0] if len(shape) == 1 else repr(tuple(shape))
    header = "{'descr': %r, 'fortran_order': %r, 'shape': %s, }" % (
        descr, fortran, shape_text)
    if shape:  # numpy leaves room for the first axis to grow
        header += " " * (21 - len(repr(shape[0])))
    fmt = "<H" if version == 1 else "<I"
    prefix = 8 + struct.calcsize(fmt)
    hlen = len(header) + 1
    pad = 64 - (prefix + hlen) % 64
    return (b"\x93NUMPY" + bytes([version, 0]) +
            struct.pack(fmt, hlen + pad) +
            (header + " " * pad + "\n").encode("latin1") + data)


SEEDS = {
    "f32_2x3.npy": npy("<f4", [2, 3], struct.pack("<6f", 0, .5, -1, 2, 1e30, -0.)),
    "f64_scalar.npy": npy("<f8", [], struct.pack("<d", 3.141592653589793)),
    "i32_empty_0x3.npy": npy("<i4", [0, 3], b""),
    "i64_3.npy": npy("<i8", [3], struct.pack("<3q", -1, 0, 2**62)),
    "bool_2x2.npy": npy("|b1", [2, 2], bytes([1, 0, 0, 1])),
    "i32_v2.npy": npy("<i4", [2], struct.pack("<2i", 7, -7), version=2),
    "bad_fortran.npy": npy("<f4", [2, 2], bytes(16), fortran=True),
    "bad_big_endian.npy": npy(">f8", [1], struct.pack(">d", 1.0)),
    "bad_truncated.npy": npy("<i8", [4], struct.pack("<3q", 1, 2, 3)),
    "bad_bool_byte.npy": npy("|b1", [3], bytes([0, 1, 2])),
}

os.makedirs(OUT, exist_ok=True)
for name, content in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(content)
