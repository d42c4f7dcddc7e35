#!/usr/bin/python3
"""Writes the recurrent-spec goldens in testdata/rnn_spec/<case>/, read by
tests/models/rnn_spec_test.cc, which checks them through the command line
(`rill build --weights`, `rill grad --seed_inputs`, `rill run`).

Run with Debian's python3-torch and python3-numpy, from this directory:
  /usr/bin/python3 make_rnn_spec_goldens.py

Each case is a torch.nn.LSTM, GRU or RNN in float64 and the ModelSpec that
describes the same stack (spec.pbtxt: a bare stack, no head and no loss).
A case directory holds:
  spec.pbtxt             the ModelSpec (its first line is `dtype: "f64"`)
  weights/<key>.npy      the module's state_dict (weight_ih_l0, ...)
  x.npy                  the input, [T, B, I] or, batch_first, [B, T, I]
  h0.npy, c0.npy         initial states [L*D, B, H] (when the spec has them)
  sequence_lengths.npy   i64 [B] (variable-length cases)
  seed_<out>.npy         the upstream gradient of each output
  output.npy, h_n.npy, c_n.npy   the module's outputs
  d_<name>.npy           the gradient of
                           sum(output * seed_output) + sum(h_n * seed_h_n)
                           (+ sum(c_n * seed_c_n))
                         with respect to x, h0, c0 and every weight <key>.
Variable-length cases run the module on pack_padded_sequence(x, lengths,
enforce_sorted=False) and unpack with pad_packed_sequence(total_length=T):
the output is zero at padded steps (so their seed gradient reaches
nothing) and h_n/c_n hold each sequence's state at its own last valid step
(the reverse direction starts there, from h0).
"""
import os
import shutil

import numpy as np
import torch

T, B, I, H = 5, 3, 4, 3
LENGTHS = [5, 2, 4]  # One full-length sequence, two shorter, unsorted.
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                   "rnn_spec")

# name, cell (ModelSpec), num_layers, bidirectional, batch_first (None: the
# field absent, which means batch-first), variable length, initial states.
CASES = [
    ("lstm_bi2_lengths", "lstm", 2, True, False, True, True),
    ("lstm_bi2_batch_first", "lstm", 2, True, True, False, True),
    ("lstm_2", "lstm", 2, False, False, False, True),
    ("gru_bi2_lengths_batch_first", "gru_pytorch", 2, True, True, True, True),
    ("gru_2", "gru_pytorch", 2, False, None, False, True),
    ("rnn_tanh_bi2_lengths", "rnn_tanh", 2, True, False, True, True),
    ("rnn_tanh_zero_state", "rnn_tanh", 1, False, False, False, False),
]


def module_for(cell, layers, bidirectional, batch_first):
    kw = dict(num_layers=layers, bidirectional=bidirectional,
              batch_first=bool(batch_first is None or batch_first))
    if cell == "lstm":
        return torch.nn.LSTM(I, H, **kw)
    if cell == "gru_pytorch":
        return torch.nn.GRU(I, H, **kw)
    return torch.nn.RNN(I, H, nonlinearity="tanh", **kw)


def spec_text(cell, layers, bidirectional, batch_first, lengths, states):
    lines = ['dtype: "f64"',
             'input { name: "x" features: %d steps: %d%s }' %
             (I, T, ' sequence_lengths: "sequence_lengths"' if lengths
              else "")]
    fields = ['cell: "%s"' % cell, "hidden_size: %d" % H,
              "num_layers: %d" % layers]
    if bidirectional:
        fields.append("bidirectional: true")
    if batch_first is not None:
        fields.append("batch_first: %s" % ("true" if batch_first else "false"))
    if states:
        fields.append('initial_state: "inputs"')
    lines.append("recurrent { %s }" % " ".join(fields))
    return "\n".join(lines) + "\n"


def save(directory, name, value, dtype=np.float64):
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    np.save(os.path.join(directory, name + ".npy"),
            np.ascontiguousarray(value, dtype=dtype))


def make_case(name, cell, layers, bidirectional, batch_first, lengths,
              states):
    directory = os.path.join(OUT, name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(os.path.join(directory, "weights"))
    with open(os.path.join(directory, "spec.pbtxt"), "w") as f:
        f.write(spec_text(cell, layers, bidirectional, batch_first, lengths,
                          states))
    bf = batch_first is None or batch_first
    module = module_for(cell, layers, bidirectional, batch_first).double()
    dirs = 2 if bidirectional else 1
    x = torch.randn(*((B, T, I) if bf else (T, B, I)), dtype=torch.float64,
                    requires_grad=True)
    lstm = cell == "lstm"
    h0 = torch.randn(layers * dirs, B, H, dtype=torch.float64,
                     requires_grad=True)
    c0 = torch.randn(layers * dirs, B, H, dtype=torch.float64,
                     requires_grad=True)
    init = ((h0, c0) if lstm else h0) if states else None
    inp = x
    if lengths:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(LENGTHS), batch_first=bf, enforce_sorted=False)
    out, hidden = module(inp, init)
    if lengths:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out, batch_first=bf, total_length=T)
        save(directory, "sequence_lengths", np.array(LENGTHS), np.int64)
    outputs = {"output": out}
    if lstm:
        outputs["h_n"], outputs["c_n"] = hidden
    else:
        outputs["h_n"] = hidden
    loss = 0
    for key, value in outputs.items():
        seed = torch.randn(*value.shape, dtype=torch.float64)
        save(directory, "seed_" + key, seed)
        save(directory, key, value)
        loss = loss + (value * seed).sum()
    loss.backward()
    save(directory, "x", x)
    save(directory, "d_x", x.grad)
    if states:
        save(directory, "h0", h0)
        save(directory, "d_h0", h0.grad)
        if lstm:
            save(directory, "c0", c0)
            save(directory, "d_c0", c0.grad)
    for key, p in module.named_parameters():
        save(os.path.join(directory, "weights"), key, p)
        save(directory, "d_" + key, p.grad)


def main():
    torch.manual_seed(20261205)
    for case in CASES:
        make_case(*case)


if __name__ == "__main__":
    main()
