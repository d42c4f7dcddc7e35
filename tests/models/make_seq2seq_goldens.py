#!/usr/bin/python3
"""Writes the seq2seq goldens in testdata/ (seq2seq_<case>_*.npy).

Run with Debian's python3-torch and python3-numpy, from any directory:
  /usr/bin/python3 make_seq2seq_goldens.py

The model of models/seq2seq.h built from torch parts, in float64:
nn.Embedding(V, D) (scaled by sqrt(D)) shared by source and target,
positions from the sinusoidal table or an nn.Embedding, nn.Transformer(D,
nhead=2, layers 2 + 2, dim_feedforward=8, dropout=0, batch_first=True), and
logits = h . embedding^T (tied) or an nn.Linear(D, V) `output`. The loss is
F.cross_entropy over the target positions, ignore_index = pad (0), with
label smoothing. The source and target key-padding masks come from the pad
tokens; the decoder's self-attention is causal.

Files: every parameter under its state_dict key (seq2seq_<case>_
encoder.layers.0.self_attn.in_proj_weight.npy), its gradient (d_<key>),
src, tgt_in, tgt_out (int64), logits and loss.

  post_tied  post-norm, relu, sinusoidal, tied output, smoothing 0.1
  pre_untied pre-norm, gelu, learned positions, own output layer, no
             smoothing
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
V, D, HEADS, FF, LAYERS, S, T, PAD = 7, 6, 2, 8, 2, 5, 4, 0


def sinusoidal(length, d):
    pe = np.zeros((length, d))
    for pos in range(length):
        for col in range(d):
            angle = pos / 10000 ** ((col - col % 2) / d)
            pe[pos, col] = math.sin(angle) if col % 2 == 0 else math.cos(angle)
    return torch.tensor(pe)


class Seq2Seq(torch.nn.Module):
    def __init__(self, norm_first, activation, learned, tied):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, D, dtype=torch.float64)
        if learned:
            self.positional = torch.nn.Embedding(max(S, T), D,
                                                 dtype=torch.float64)
        self.table = sinusoidal(max(S, T), D)
        self.learned = learned
        self.transformer = torch.nn.Transformer(
            D, HEADS, LAYERS, LAYERS, FF, dropout=0.0, activation=activation,
            batch_first=True, norm_first=norm_first, dtype=torch.float64)
        self.tied = tied
        if not tied:
            self.output = torch.nn.Linear(D, V, dtype=torch.float64)

    def embed(self, ids):
        n = ids.shape[1]
        pos = (self.positional.weight[:n] if self.learned else self.table[:n])
        return self.embedding(ids) * math.sqrt(D) + pos

    def forward(self, src, tgt_in):
        src_pad = src == PAD
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        h = self.transformer(self.embed(src), self.embed(tgt_in),
                             tgt_mask=causal, src_key_padding_mask=src_pad,
                             memory_key_padding_mask=src_pad)
        if self.tied:
            return h @ self.embedding.weight.T
        return self.output(h)


def save(case, name, value, dtype=np.float64):
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    path = os.path.join(OUT, "seq2seq_%s_%s.npy" % (case, name))
    np.save(path, np.array(value, dtype=dtype, order="C"))  # 0-d stays 0-d


def case(name, seed, norm_first, activation, learned, tied, smoothing):
    torch.manual_seed(seed)
    model = Seq2Seq(norm_first, activation, learned, tied)
    model.train()  # The fast path of eval() zeroes padded rows.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname and pname.endswith("weight"):
                p.copy_(torch.empty_like(p).uniform_(0.5, 1.5))
            else:
                p.copy_(torch.empty_like(p).uniform_(-0.5, 0.5))
    # Tokens 1..V-1; 0 pads. Source lengths 5 and 3; the second target is
    # one token shorter, padded in tgt_in and ignored in tgt_out.
    src = torch.tensor([[3, 4, 5, 6, 2], [4, 3, 2, 0, 0]])
    tgt_in = torch.tensor([[1, 6, 5, 4], [1, 3, 4, 0]])
    tgt_out = torch.tensor([[6, 5, 4, 2], [3, 4, 2, 0]])
    logits = model(src, tgt_in)
    loss = F.cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1),
                           ignore_index=PAD, label_smoothing=smoothing)
    loss.backward()
    for pname, p in model.named_parameters():
        save(name, pname, p)
        save(name, "d_" + pname, p.grad)
    for iname, t in (("src", src), ("tgt_in", tgt_in), ("tgt_out", tgt_out)):
        save(name, iname, t, np.int64)
    save(name, "logits", logits)
    save(name, "loss", loss)


def main():
    os.makedirs(OUT, exist_ok=True)
    case("post_tied", 11, False, "relu", False, True, 0.1)
    case("pre_untied", 12, True, "gelu", True, False, 0.0)


if __name__ == "__main__":
    main()
