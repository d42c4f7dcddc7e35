#!/usr/bin/python3
"""Writes the bare-layer spec goldens in testdata/torch_layers/<case>/.

Run with Debian's python3-torch (1.13) and python3-numpy, from anywhere:
  /usr/bin/python3 make_torch_layer_goldens.py

Each case is one PyTorch module in float64 (dropout 0) with every weight
(LayerNorm's too) drawn at random, and masks with arbitrary holes (no
query row fully masked, where PyTorch gives NaN). A case's folder holds:
  spec.pbtxt          the ModelSpec of the same layer (dtype f64)
  weights/<key>.npy   the module's state_dict, one file per entry
  inputs/<name>.npy   forward()'s tensor arguments, named as the spec's
                      graph Inputs (masks bool, or float for additive)
  seeds/<out>.npy     a random upstream gradient for each output
  outputs/<out>.npy   forward()'s results (attn_output_weights averaged
                      over heads, PyTorch's default)
  grads/<name>.npy    d(sum over outputs of out * seed) with respect to
                      every state_dict entry (by key) and every float
                      input that is not a mask
"""
import os
import shutil

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                   "torch_layers")
B = 3


def holes(rng, rows, cols):
    """A bool mask, True = not allowed, with random holes."""
    return rng.random((rows, cols)) < 0.35


def make_mask(rng, kind, rows, cols):
    if kind == "":
        return None
    if kind == "bool":
        return holes(rng, rows, cols)
    mask = rng.normal(size=(rows, cols))
    mask[holes(rng, rows, cols)] = -1e9
    return mask


def save(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    np.save(path, np.ascontiguousarray(value))


def spec_text(kind, fields):
    body = " ".join("%s: %s" % (k, ('"%s"' % v) if isinstance(v, str) else
                                 ("true" if v is True else
                                  "false" if v is False else repr(v)))
                    for k, v in fields.items())
    return 'dtype: "f64"\n%s { %s }\n' % (kind, body)


def seq(rng, batch_first, n, width):
    shape = (B, n, width) if batch_first else (n, B, width)
    return rng.normal(size=shape)


def run_case(name, kind, fields, module, inputs, mask_inputs, call, rng):
    """Saves everything for one case; `call(module, tensors)` returns the
    outputs as a dict name -> tensor."""
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    with open(os.path.join(folder, "spec.pbtxt"), "w") as f:
        f.write(spec_text(kind, fields))
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(rng.normal(scale=0.4, size=p.shape)))
    for key, value in module.state_dict().items():
        save(os.path.join(folder, "weights", key + ".npy"), value)
    tensors = {}
    for n, value in inputs.items():
        tensors[n] = torch.from_numpy(value).requires_grad_(True)
        save(os.path.join(folder, "inputs", n + ".npy"), value)
    for n, value in mask_inputs.items():
        if value is None:
            continue
        tensors[n] = torch.from_numpy(value)
        save(os.path.join(folder, "inputs", n + ".npy"), value)
    outputs = call(module, tensors)
    total = 0
    for n, out in outputs.items():
        seed = rng.normal(size=tuple(out.shape))
        save(os.path.join(folder, "seeds", n + ".npy"), seed)
        save(os.path.join(folder, "outputs", n + ".npy"), out)
        total = total + (out * torch.from_numpy(seed)).sum()
    total.backward()
    for key, p in module.named_parameters():
        save(os.path.join(folder, "grads", key + ".npy"), p.grad)
    for n in inputs:
        save(os.path.join(folder, "grads", n + ".npy"), tensors[n].grad)


def no_full_rows(kpm, attn):
    """True when every (b, query) row keeps at least one key."""
    forbidden = np.zeros((1, 1, 1), dtype=bool)
    if kpm is not None:
        forbidden = forbidden | kpm[:, None, :]
    if attn is not None:
        a = attn if attn.dtype == bool else attn < -1e8
        forbidden = forbidden | a[None, :, :]
    return not forbidden.all(axis=2).any()


def draw_masks(rng, kpm_kind, attn_kind, rows, keys):
    while True:
        kpm = make_mask(rng, kpm_kind, B, keys)
        attn = make_mask(rng, attn_kind, rows, keys)
        if no_full_rows(kpm, attn):
            return kpm, attn


def mha_case(rng, name, batch_first, bias, kpm_kind, attn_kind, kdim=None,
             vdim=None):
    e, heads, l, s = 8, 2, 4, 5
    fields = {"embed_dim": e, "num_heads": heads, "bias": bias,
              "batch_first": batch_first, "query_length": l, "key_length": s,
              "key_padding_mask": kpm_kind, "attn_mask": attn_kind,
              "need_weights": True}
    if kdim:
        fields.update({"kdim": kdim, "vdim": vdim})
    module = torch.nn.MultiheadAttention(e, heads, bias=bias,
                                         batch_first=batch_first,
                                         kdim=kdim, vdim=vdim,
                                         dtype=torch.float64)
    kpm, attn = draw_masks(rng, kpm_kind, attn_kind, l, s)
    inputs = {"query": seq(rng, batch_first, l, e),
              "key": seq(rng, batch_first, s, kdim or e),
              "value": seq(rng, batch_first, s, vdim or e)}

    def call(m, t):
        out, weights = m(t["query"], t["key"], t["value"],
                         key_padding_mask=t.get("key_padding_mask"),
                         attn_mask=t.get("attn_mask"), need_weights=True)
        return {"attn_output": out, "attn_output_weights": weights}

    run_case(name, "multihead_attention", fields, module, inputs,
             {"key_padding_mask": kpm, "attn_mask": attn}, call, rng)


def layer_fields(d, heads, ff, activation, eps, batch_first, norm_first):
    return {"d_model": d, "nhead": heads, "dim_feedforward": ff,
            "activation": activation, "layer_norm_eps": eps,
            "batch_first": batch_first, "norm_first": norm_first}


def encoder_case(rng, name, batch_first, norm_first, activation, eps,
                 mask_kind, kpm_kind):
    d, heads, ff, s = 8, 2, 12, 5
    fields = layer_fields(d, heads, ff, activation, eps, batch_first,
                          norm_first)
    fields.update({"src_length": s, "src_mask": mask_kind,
                   "src_key_padding_mask": kpm_kind})
    module = torch.nn.TransformerEncoderLayer(
        d, heads, ff, dropout=0.0, activation=activation,
        layer_norm_eps=eps, batch_first=batch_first, norm_first=norm_first,
        dtype=torch.float64)
    kpm, attn = draw_masks(rng, kpm_kind, mask_kind, s, s)
    inputs = {"src": seq(rng, batch_first, s, d)}

    def call(m, t):
        return {"output": m(t["src"], src_mask=t.get("src_mask"),
                            src_key_padding_mask=t.get(
                                "src_key_padding_mask"))}

    run_case(name, "transformer_encoder_layer", fields, module, inputs,
             {"src_mask": attn, "src_key_padding_mask": kpm}, call, rng)


def decoder_case(rng, name, batch_first, norm_first, activation, eps,
                 kinds):
    d, heads, ff, t_len, s = 8, 2, 12, 4, 5
    fields = layer_fields(d, heads, ff, activation, eps, batch_first,
                          norm_first)
    fields.update({"src_length": s, "tgt_length": t_len})
    fields.update(kinds)
    module = torch.nn.TransformerDecoderLayer(
        d, heads, ff, dropout=0.0, activation=activation,
        layer_norm_eps=eps, batch_first=batch_first, norm_first=norm_first,
        dtype=torch.float64)
    tgt_kpm, tgt_mask = draw_masks(rng, kinds["tgt_key_padding_mask"],
                                   kinds["tgt_mask"], t_len, t_len)
    mem_kpm, mem_mask = draw_masks(rng, kinds["memory_key_padding_mask"],
                                   kinds["memory_mask"], t_len, s)
    inputs = {"tgt": seq(rng, batch_first, t_len, d),
              "memory": seq(rng, batch_first, s, d)}

    def call(m, t):
        return {"output": m(
            t["tgt"], t["memory"], tgt_mask=t.get("tgt_mask"),
            memory_mask=t.get("memory_mask"),
            tgt_key_padding_mask=t.get("tgt_key_padding_mask"),
            memory_key_padding_mask=t.get("memory_key_padding_mask"))}

    run_case(name, "transformer_decoder_layer", fields, module, inputs,
             {"tgt_mask": tgt_mask, "memory_mask": mem_mask,
              "tgt_key_padding_mask": tgt_kpm,
              "memory_key_padding_mask": mem_kpm}, call, rng)


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(23)
    mha_case(rng, "mha_batch_first_bool", True, True, "bool", "bool")
    mha_case(rng, "mha_seq_first_additive_nobias", False, False, "bool",
             "additive")
    mha_case(rng, "mha_plain", True, True, "", "")
    encoder_case(rng, "encoder_post_relu_bool", True, False, "relu", 1e-5,
                 "bool", "bool")
    encoder_case(rng, "encoder_pre_gelu_additive", False, True, "gelu",
                 1e-6, "additive", "bool")
    decoder_case(rng, "decoder_post_relu", True, False, "relu", 1e-5,
                 {"tgt_mask": "additive", "memory_mask": "bool",
                  "tgt_key_padding_mask": "bool",
                  "memory_key_padding_mask": "bool"})
    decoder_case(rng, "decoder_pre_gelu", False, True, "gelu", 1e-5,
                 {"tgt_mask": "bool", "memory_mask": "additive",
                  "tgt_key_padding_mask": "",
                  "memory_key_padding_mask": "bool"})
    mha_case(rng, "mha_kdim_vdim", False, True, "bool", "additive", kdim=5,
             vdim=3)


if __name__ == "__main__":
    main()
