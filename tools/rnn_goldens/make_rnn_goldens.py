#!/usr/bin/python3
"""Writes the recurrent-layer goldens in testdata/ (rnn_<case>_<name>.npy),
read by tests/models/rnn_test.cc.

Run with Debian's python3-torch and python3-numpy, from this directory:
  /usr/bin/python3 make_rnn_goldens.py

Every case is one unidirectional layer, sequence-first: x [T, B, I], in
float64, with fixed-seed weights in PyTorch's layout (weight_ih [G*H, I],
weight_hh [G*H, H], bias_ih [G*H], bias_hh [G*H]) and random initial states
h0 (and c0) [B, H]. The loss is sum(output * r) for a fixed random r
[T, B, H]; the files hold the weights, x, h0, c0, r, the output, the final
states and the gradient of the loss with respect to every weight, x, h0 and
c0 (`d_<name>`).

Cases:
  lstm_bi2        a bidirectional 2-layer torch.nn.LSTM.
  lstm_bi_varlen  a bidirectional LSTM over a variable-length batch,
                  lengths [4, 1, 3], through pack_padded_sequence (outputs
                  at padded steps are zero; final states at each
                  sequence's own last valid step).
  lstm, gru_pytorch, rnn_tanh, rnn_relu  torch.nn.LSTM / GRU / RNN.
  gru_seed  the seed GRU of SPEC.md ("Block semantics"), which torch does
            not have: reset before the matmul, z weights the candidate,
              r = s(W_ir x + b_ir + W_hr h + b_hr)
              z = s(W_iz x + b_iz + W_hz h + b_hz)
              n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
              h' = (1 - z) * h + z * n
            The forward pass is written in NumPy; the gradients come from
            torch autograd on a second, separate torch transcription of the
            same equations, whose forward must match NumPy's to 1e-12.
"""
import os

import numpy as np
import torch

T, B, I, H = 4, 3, 5, 4
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")


def save(case, name, value):
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    path = os.path.join(OUT, "rnn_%s_%s.npy" % (case, name))
    np.save(path, np.ascontiguousarray(value, dtype=np.float64))


def torch_case(case, module, lstm):
    """Runs a torch.nn recurrent module and saves everything."""
    module = module.double()
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(1, B, H, dtype=torch.float64, requires_grad=True)
    r = torch.randn(T, B, H, dtype=torch.float64)
    if lstm:
        out, (hn, cn) = module(x, (h0, c0))
    else:
        out, hn = module(x, h0)
    (out * r).sum().backward()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        p = getattr(module, name + "_l0")
        save(case, name, p)
        save(case, "d_" + name, p.grad)
    save(case, "x", x)
    save(case, "d_x", x.grad)
    save(case, "h0", h0[0])
    save(case, "d_h0", h0.grad[0])
    save(case, "r", r)
    save(case, "output", out)
    save(case, "hn", hn[0])
    if lstm:
        save(case, "c0", c0[0])
        save(case, "d_c0", c0.grad[0])
        save(case, "cn", cn[0])


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def seed_gru_numpy(x, h, w_ih, w_hh, b_ih, b_hh):
    """The seed GRU forward pass in NumPy; returns (outputs [T,B,H], h_T)."""
    w_ir, w_iz, w_in = np.split(w_ih, 3)
    w_hr, w_hz, w_hn = np.split(w_hh, 3)
    b_ir, b_iz, b_in = np.split(b_ih, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    outs = []
    for xt in x:
        r = sigmoid(xt @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = sigmoid(xt @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        n = np.tanh(xt @ w_in.T + b_in + (r * h) @ w_hn.T + b_hn)
        h = (1.0 - z) * h + z * n
        outs.append(h)
    return np.stack(outs), h


def seed_gru_torch(x, h, w_ih, w_hh, b_ih, b_hh):
    """The same equations in torch, step by step, for autograd."""
    outs = []
    for t in range(x.shape[0]):
        gi = x[t] @ w_ih.T + b_ih
        r = torch.sigmoid(gi[:, :H] + h @ w_hh[:H].T + b_hh[:H])
        z = torch.sigmoid(gi[:, H:2 * H] + h @ w_hh[H:2 * H].T +
                          b_hh[H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + (r * h) @ w_hh[2 * H:].T + b_hh[2 * H:])
        h = (1 - z) * h + z * n
        outs.append(h)
    return torch.stack(outs), h


def seed_gru_case():
    case = "gru_seed"
    k = 1.0 / np.sqrt(H)
    params = {
        "weight_ih": torch.empty(3 * H, I, dtype=torch.float64),
        "weight_hh": torch.empty(3 * H, H, dtype=torch.float64),
        "bias_ih": torch.empty(3 * H, dtype=torch.float64),
        "bias_hh": torch.empty(3 * H, dtype=torch.float64),
    }
    for p in params.values():
        p.uniform_(-k, k).requires_grad_(True)
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    r = torch.randn(T, B, H, dtype=torch.float64)
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

    out_np, hn_np = seed_gru_numpy(x.detach().numpy(), h0.detach().numpy(),
                                   *(params[n].detach().numpy() for n in names))
    out, hn = seed_gru_torch(x, h0, *(params[n] for n in names))
    assert np.max(np.abs(out.detach().numpy() - out_np)) < 1e-12
    assert np.max(np.abs(hn.detach().numpy() - hn_np)) < 1e-12
    (out * r).sum().backward()

    for name in names:
        save(case, name, params[name])
        save(case, "d_" + name, params[name].grad)
    save(case, "x", x)
    save(case, "d_x", x.grad)
    save(case, "h0", h0)
    save(case, "d_h0", h0.grad)
    save(case, "r", r)
    save(case, "output", out_np)
    save(case, "hn", hn_np)


def stack_case(case, module, lengths=None):
    """A torch.nn.LSTM of any num_layers / bidirectional, optionally over a
    variable-length batch (pack_padded_sequence, outputs padded with zeros).
    Weights keep torch's names (weight_ih_l1_reverse); per-layer states are
    saved as h0_l<k>[_reverse], hn_..., d_h0_... (and c)."""
    module = module.double()
    dirs = 2 if module.bidirectional else 1
    L, F = module.num_layers, dirs * H
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(L * dirs, B, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(L * dirs, B, H, dtype=torch.float64, requires_grad=True)
    r = torch.randn(T, B, F, dtype=torch.float64)
    inp = x
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(lengths), enforce_sorted=False)
    out, (hn, cn) = module(inp, (h0, c0))
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
        save(case, "lengths", np.array(lengths))
    (out * r).sum().backward()
    for name, p in module.named_parameters():
        save(case, name, p)
        save(case, "d_" + name, p.grad)
    save(case, "x", x)
    save(case, "d_x", x.grad)
    save(case, "r", r)
    save(case, "output", out)
    for k in range(L):
        for d in range(dirs):
            tag = "_l%d%s" % (k, "_reverse" if d else "")
            j = k * dirs + d
            for name, v in (("h0", h0[j]), ("c0", c0[j]), ("hn", hn[j]),
                            ("cn", cn[j]), ("d_h0", h0.grad[j]),
                            ("d_c0", c0.grad[j])):
                save(case, name + tag, v)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20261128)
    torch_case("lstm", torch.nn.LSTM(I, H), lstm=True)
    torch_case("gru_pytorch", torch.nn.GRU(I, H), lstm=False)
    torch_case("rnn_tanh", torch.nn.RNN(I, H, nonlinearity="tanh"),
               lstm=False)
    torch_case("rnn_relu", torch.nn.RNN(I, H, nonlinearity="relu"),
               lstm=False)
    seed_gru_case()
    # Appended after the single-layer cases so their draws stay the same.
    stack_case("lstm_bi2", torch.nn.LSTM(I, H, num_layers=2,
                                         bidirectional=True))
    stack_case("lstm_bi_varlen", torch.nn.LSTM(I, H, bidirectional=True),
               lengths=[4, 1, 3])


if __name__ == "__main__":
    main()
