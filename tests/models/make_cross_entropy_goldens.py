#!/usr/bin/python3
"""Writes the cross-entropy goldens in testdata/ (cross_entropy_<case>_<name>.npy).

Run with Debian's python3-torch and python3-numpy, from any directory:
  /usr/bin/python3 make_cross_entropy_goldens.py

Each case is torch.nn.functional.cross_entropy(logits, labels,
ignore_index=..., label_smoothing=..., reduction="mean") in float64 on
random logits (fixed seed); the files hold the logits, the labels (int64,
or int32 for the i32 case), the loss (a 0-d array) and d loss / d logits
(`d_logits`). Every case has at least one counted row.

  case     logits     labels  smoothing  ignore_index  ignored rows
  eps0     [6, 5]     i64     0          -100          1, 4
  eps01    [7, 4]     i64     0.1        -100          0, 5
  seq      [2, 4, 5]  i64     0.2        0             padding 0 at the ends
  i32      [5, 3]     i32     0.3        -100          2
  wide     [4, 6]     i64     0.1        -100          3; logits * 30
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")

# name, logits shape, labels (ignored entries as given), smoothing,
# ignore_index, labels dtype, logits scale.
CASES = [
    ("eps0", (6, 5), [3, -100, 0, 4, -100, 2], 0.0, -100, np.int64, 1.0),
    ("eps01", (7, 4), [-100, 1, 3, 0, 2, -100, 3], 0.1, -100, np.int64, 1.0),
    ("seq", (2, 4, 5), [[2, 4, 1, 0], [3, 0, 0, 0]], 0.2, 0, np.int64, 1.0),
    ("i32", (5, 3), [2, 0, -100, 1, 1], 0.3, -100, np.int32, 1.0),
    ("wide", (4, 6), [5, 0, 2, -100], 0.1, -100, np.int64, 30.0),
]


def save(case, name, value, dtype=np.float64):
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    path = os.path.join(OUT, "cross_entropy_%s_%s.npy" % (case, name))
    # asarray, not ascontiguousarray, which would make the 0-d loss [1].
    np.save(path, np.asarray(value, dtype=dtype, order="C"))


def formula(logits, labels, smoothing, ignore_index):
    """The loss by the formula the C++ builder composes, in NumPy."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    kept = labels != ignore_index
    picked = np.take_along_axis(log_p, np.where(kept, labels, 0)[..., None],
                                axis=-1)[..., 0]
    nll = -picked[kept].mean()
    smooth = -log_p.mean(axis=-1)[kept].mean()
    return (1 - smoothing) * nll + smoothing * smooth


def run_case(seed, case, shape, labels, smoothing, ignore_index, label_dtype,
             scale):
    torch.manual_seed(seed)
    logits = (torch.randn(*shape, dtype=torch.float64) * scale)
    logits.requires_grad_(True)
    labels = torch.tensor(labels, dtype=torch.int64)
    assert labels.shape == logits.shape[:-1]
    assert (labels != ignore_index).any()
    # torch wants [N, C, ...]: the classes move to axis 1.
    loss = torch.nn.functional.cross_entropy(
        torch.movedim(logits, -1, 1), labels, ignore_index=ignore_index,
        label_smoothing=smoothing, reduction="mean")
    assert torch.isfinite(loss)
    assert abs(loss.item() - formula(logits.detach().numpy(), labels.numpy(),
                                     smoothing, ignore_index)) < 1e-12
    loss.backward()
    save(case, "logits", logits)
    save(case, "labels", labels, label_dtype)
    save(case, "loss", loss)
    save(case, "d_logits", logits.grad)


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed, case in enumerate(CASES):
        run_case(1000 + seed, *case)


if __name__ == "__main__":
    main()
