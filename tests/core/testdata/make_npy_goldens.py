#!/usr/bin/env python3
"""Writes the golden .npy files that npy_test.cc compares against.

Needs numpy (Debian: apt-get install python3-numpy; these were made with
1.24.2). The tests only read the committed outputs. Run from anywhere:
  python3 tests/core/testdata/make_npy_goldens.py
"""
import os

import numpy as np

OUT = os.path.dirname(os.path.abspath(__file__))

GOLDENS = {
    "f32_2x3.npy": np.arange(6, dtype="<f4").reshape(2, 3) / 4,
    "f64_empty_0x4.npy": np.zeros((0, 4), dtype="<f8"),
    "i32_2x3x4.npy": np.arange(-12, 12, dtype="<i4").reshape(2, 3, 4),
    "i64_scalar.npy": np.array(-7, dtype="<i8"),
    "bool_5.npy": np.array([True, False, True, True, False]),
    # Here 10 + len(header) + 1 is a multiple of 64, and numpy still pads
    # with 64 spaces rather than none.
    "bool_aligned_header.npy": np.zeros((0, 1, 1, 1) + (10,) * 8, dtype=bool),
    # Valid numpy files that rill rejects.
    "f32_fortran.npy": np.asfortranarray(np.ones((2, 3), dtype="<f4")),
    "f8_big_endian.npy": np.arange(3, dtype=">f8"),
}

for name, array in GOLDENS.items():
    np.save(os.path.join(OUT, name), array)
