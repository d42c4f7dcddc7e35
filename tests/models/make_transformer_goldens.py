#!/usr/bin/python3
"""Writes the Transformer-layer goldens in testdata/ (transformer_<case>_*.npy).

Run with Debian's python3-torch and python3-numpy, from any directory:
  /usr/bin/python3 make_transformer_goldens.py

torch.nn.TransformerEncoderLayer / TransformerDecoderLayer(D=6, nhead=2,
dim_feedforward=8, dropout=0, batch_first=True) in float64, every weight
(LayerNorm's too) set to fixed random values. Files hold each weight under
its state_dict key (transformer_<case>_self_attn.in_proj_weight.npy), the
inputs, r, the key lengths (int64), the output, and the gradients of
loss = sum(output * r) with respect to every weight and input (d_<name>).
Keys t >= lengths[b] are padding (key_padding_mask True).

  enc_post  encoder, post-norm, relu, x [2, 4, 6], lengths [4, 3]
  enc_pre   encoder, pre-norm (norm_first), gelu, lengths [4, 4]
  dec_post  decoder, post-norm, relu, x [2, 4, 6] with a causal tgt mask
            and lengths [4, 3]; memory [2, 5, 6], memory lengths [5, 3]
  dec_pre   decoder, pre-norm, gelu, causal, lengths [4, 4], [5, 2]
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
D, HEADS, FF, B, T, S = 6, 2, 8, 2, 4, 5


def save(case, name, value, dtype=np.float64):
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    path = os.path.join(OUT, "transformer_%s_%s.npy" % (case, name))
    np.save(path, np.ascontiguousarray(value, dtype=dtype))


def padding(lengths, t):
    return torch.arange(t)[None, :] >= lengths[:, None]  # True: pad


def case(name, decoder, norm_first, activation, lengths, mem_lengths=None):
    torch.manual_seed(len(name) * 31 + (7 if decoder else 0) +
                      (3 if norm_first else 0))
    cls = (torch.nn.TransformerDecoderLayer if decoder
           else torch.nn.TransformerEncoderLayer)
    layer = cls(D, HEADS, FF, dropout=0.0, activation=activation,
                batch_first=True, norm_first=norm_first, dtype=torch.float64)
    with torch.no_grad():
        for pname, p in layer.named_parameters():
            if pname.startswith("norm") and pname.endswith("weight"):
                p.copy_(torch.empty_like(p).uniform_(0.5, 1.5))
            else:
                p.copy_(torch.empty_like(p).uniform_(-0.5, 0.5))
    x = torch.randn(B, T, D, dtype=torch.float64, requires_grad=True)
    r = torch.randn(B, T, D, dtype=torch.float64)
    lengths = torch.tensor(lengths, dtype=torch.int64)
    inputs = {"x": x}
    if decoder:
        memory = torch.randn(B, S, D, dtype=torch.float64, requires_grad=True)
        mem_lengths = torch.tensor(mem_lengths, dtype=torch.int64)
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        out = layer(x, memory, tgt_mask=causal,
                    tgt_key_padding_mask=padding(lengths, T),
                    memory_key_padding_mask=padding(mem_lengths, S))
        inputs["memory"] = memory
        save(name, "mem_lengths", mem_lengths, np.int64)
    else:
        out = layer(x, src_key_padding_mask=padding(lengths, T))
    assert torch.isfinite(out).all()
    (out * r).sum().backward()
    for pname, p in layer.named_parameters():
        save(name, pname, p)
        save(name, "d_" + pname, p.grad)
    for iname, t in inputs.items():
        save(name, iname, t)
        save(name, "d_" + iname, t.grad)
    save(name, "r", r)
    save(name, "lengths", lengths, np.int64)
    save(name, "output", out)


def main():
    os.makedirs(OUT, exist_ok=True)
    case("enc_post", False, False, "relu", [4, 3])
    case("enc_pre", False, True, "gelu", [4, 4])
    case("dec_post", True, False, "relu", [4, 3], [5, 3])
    case("dec_pre", True, True, "gelu", [4, 4], [5, 2])


if __name__ == "__main__":
    main()
