#!/usr/bin/python3
"""Exports small PyTorch 1.13 models to ONNX for tests/onnx/torch_export_test.

Run with Debian's python (it has torch 1.13 and numpy):
  /usr/bin/python3 tests/onnx/make_torch_exports.py tests/onnx/testdata

For each model and opset writes <name>_opset<N>.onnx, the inputs
<name>.<input>.npy and PyTorch's outputs <name>.<output>.npy (f32, eval mode).
"""
import os
import sys

import numpy as np
import torch

OPSETS = (14, 17)


class Lstm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(5, 7)

    def forward(self, x):
        y, (h, c) = self.rnn(x)
        return y, h, c


class BiGru(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.GRU(5, 6, num_layers=2, bidirectional=True,
                                batch_first=True)

    def forward(self, x):
        y, h = self.rnn(x)
        return y, h


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        layer = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32,
                                                 dropout=0.1)
        self.encoder = torch.nn.TransformerEncoder(layer, 2)

    def forward(self, src, pad):
        return self.encoder(src, src_key_padding_mask=pad)


class LstmRegressor(torch.nn.Module):
    """An LSTM and a linear head on the last step, with its MSE loss: the
    graph that the fine-tuning test trains."""

    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(3, 8, batch_first=True)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x, target):
        y, _ = self.rnn(x)
        return ((self.head(y[:, -1]) - target) ** 2).mean()


def export(out_dir, name, model, inputs, input_names, output_names):
    model.eval()
    # Torch 1.13's TransformerEncoder takes a fast path under no_grad that
    # does not export (FACTS.md): run and export with grad enabled.
    outputs = model(*inputs)
    if not isinstance(outputs, tuple):
        outputs = (outputs,)
    for n, v in zip(input_names, inputs):
        np.save(os.path.join(out_dir, f"{name}.{n}.npy"), v.numpy())
    for n, v in zip(output_names, outputs):
        np.save(os.path.join(out_dir, f"{name}.{n}.npy"),
                v.detach().numpy().astype(np.float32))
    for opset in OPSETS:
        torch.onnx.export(model, tuple(inputs),
                          os.path.join(out_dir, f"{name}_opset{opset}.onnx"),
                          input_names=input_names, output_names=output_names,
                          opset_version=opset)


def main():
    out_dir = sys.argv[1]
    torch.manual_seed(20)
    export(out_dir, "lstm", Lstm(), [torch.randn(4, 3, 5)], ["x"],
           ["y", "h", "c"])
    export(out_dir, "bigru", BiGru(), [torch.randn(3, 4, 5)], ["x"],
           ["y", "h"])
    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[1, 3:] = True
    # The fine-tuning data: the target is the mean of the last step's inputs.
    x = torch.randn(64, 6, 3)
    np.save(os.path.join(out_dir, "regressor_train.x.npy"), x.numpy())
    np.save(os.path.join(out_dir, "regressor_train.target.npy"),
            x[:, -1].mean(dim=1, keepdim=True).numpy())
    export(out_dir, "regressor", LstmRegressor(), [x[:8], torch.zeros(8, 1)],
           ["x", "target"], ["loss"])
    export(out_dir, "encoder", Encoder(), [torch.randn(5, 2, 16), pad],
           ["src", "pad"], ["out"])


if __name__ == "__main__":
    main()
