#!/usr/bin/python3
"""Writes the PyTorch weight-import goldens in testdata/pytorch_lstm/.

Run with Debian's python3-torch and python3-numpy, from this directory:
  /usr/bin/python3 make_rnn_weights_goldens.py

The model matches the ModelSpec in tests/models/rnn_weights_test.cc: a bidirectional
2-layer torch.nn.LSTM (batch-first, I=3, H=4) and a torch.nn.Linear head
(O=2) on the last step's output. Its state_dict is saved as one .npy per
entry, named as PyTorch names them (weight_ih_l0.npy, ...,
weight_hh_l1_reverse.npy, head.weight.npy, head.bias.npy), in float32, as
a torch user would save them; that also checks the f32 -> f64 conversion.
The input x [B, T, I] and torch's head output y [B, O], computed in float64
from the same (f32-rounded) weights, go to the parent testdata/ directory.
"""
import os

import numpy as np
import torch

B, T, I, H, O = 3, 4, 3, 4, 2
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
OUT = os.path.join(HERE, "pytorch_lstm")


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True,
                                 batch_first=True)
        self.head = torch.nn.Linear(2 * H, O)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1, :])


def main():
    torch.manual_seed(6)
    model = Model().float()
    os.makedirs(OUT, exist_ok=True)
    for key, value in model.state_dict().items():
        # The LSTM's own entries under their nn.LSTM names; the head's as
        # nn.Linear's with the "head." prefix.
        name = key[len("rnn."):] if key.startswith("rnn.") else key
        np.save(os.path.join(OUT, name + ".npy"),
                value.numpy().astype(np.float32))
    model = model.double()
    x = torch.randn(B, T, I, dtype=torch.float64)
    with torch.no_grad():
        y = model(x)
    np.save(os.path.join(HERE, "rnn_weights_x.npy"), x.numpy())
    np.save(os.path.join(HERE, "rnn_weights_y.npy"), y.numpy())


if __name__ == "__main__":
    main()
