#!/usr/bin/python3
"""Writes the attention goldens in testdata/ (attention_<case>_<name>.npy).

Run with Debian's python3-torch and python3-numpy, from any directory:
  /usr/bin/python3 make_attention_goldens.py

MHA cases: torch.nn.MultiheadAttention(D, h, batch_first=True) in float64
with fixed random weights (every bias nonzero), in its own layout
(in_proj_weight [3D, D], in_proj_bias [3D], out_proj.weight [D, D],
out_proj.bias [D]). The loss is sum(output * r) for a fixed random r; the
files hold the weights, the inputs, r, the key lengths (int64), the output
and the gradient of the loss with respect to every weight and input
(`d_<name>`). Keys t >= lengths[b] are padding (key_padding_mask True).

  mha_self   self-attention, x [2, 4, 6], 2 heads, a causal mask and key
             lengths [4, 2]: every query keeps at least key 0.
  mha_cross  source-target attention, query [2, 3, 6] over key_value
             [2, 5, 6], 3 heads, key lengths [5, 3], no causal mask.

Positional encoding: pe_<length>x<d_model> tables from the closed form of
SPEC.md, PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) =
cos(pos / 10000^(2i/d)), in NumPy, independently of torch.
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
WEIGHTS = ["in_proj_weight", "in_proj_bias", "out_proj.weight",
           "out_proj.bias"]


def save(case, name, value, dtype=np.float64):
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    path = os.path.join(OUT, "attention_%s_%s.npy" % (case, name))
    np.save(path, np.ascontiguousarray(value, dtype=dtype))


def mha_case(case, d, heads, b, tq, tk, lengths, causal, self_attention):
    torch.manual_seed(len(case) * 97 + tk)
    mha = torch.nn.MultiheadAttention(d, heads, batch_first=True,
                                      dtype=torch.float64)
    with torch.no_grad():
        for name, p in mha.named_parameters():
            p.copy_(torch.empty_like(p).uniform_(-0.5, 0.5))
    query = torch.randn(b, tq, d, dtype=torch.float64, requires_grad=True)
    if self_attention:
        kv = query
    else:
        kv = torch.randn(b, tk, d, dtype=torch.float64, requires_grad=True)
    r = torch.randn(b, tq, d, dtype=torch.float64)
    lengths = torch.tensor(lengths, dtype=torch.int64)
    padding = torch.arange(tk)[None, :] >= lengths[:, None]  # True: pad
    attn_mask = None
    if causal:
        attn_mask = torch.triu(torch.ones(tq, tk, dtype=torch.bool), 1)
    out, _ = mha(query, kv, kv, key_padding_mask=padding,
                 attn_mask=attn_mask, need_weights=False)
    assert torch.isfinite(out).all()
    (out * r).sum().backward()
    params = dict(mha.named_parameters())
    for w in WEIGHTS:
        save(case, w, params[w])
        save(case, "d_" + w, params[w].grad)
    if self_attention:
        save(case, "x", query)
        save(case, "d_x", query.grad)
    else:
        save(case, "query", query)
        save(case, "key_value", kv)
        save(case, "d_query", query.grad)
        save(case, "d_key_value", kv.grad)
    save(case, "r", r)
    save(case, "lengths", lengths, np.int64)
    save(case, "output", out)


def pe_table(length, d):
    pos = np.arange(length, dtype=np.float64)[:, None]
    two_i = (np.arange(d) // 2 * 2).astype(np.float64)[None, :]
    angle = pos / np.power(10000.0, two_i / d)
    return np.where(np.arange(d)[None, :] % 2 == 0, np.sin(angle),
                    np.cos(angle))


def main():
    os.makedirs(OUT, exist_ok=True)
    mha_case("mha_self", 6, 2, 2, 4, 4, [4, 2], True, True)
    mha_case("mha_cross", 6, 3, 2, 3, 5, [5, 3], False, False)
    for length, d in [(50, 16), (9, 7)]:
        np.save(os.path.join(OUT, "attention_pe_%dx%d.npy" % (length, d)),
                pe_table(length, d))


if __name__ == "__main__":
    main()
