#!/usr/bin/python3
"""Exports small PyTorch 1.13 models to ONNX for tests/onnx/torch_export_test.

Run with Debian's python (it has torch 1.13 and numpy):
  OPENBLAS_CORETYPE=Haswell /usr/bin/python3 \
      tests/onnx/make_torch_exports.py tests/onnx/testdata
OpenBLAS picks its kernels by CPU, and another CPU's kernels round the
outputs differently (by up to 5e-7): the committed files are Haswell's, so
the variable pins it, and the script rewrites every file byte for byte.

For each model and opset writes <name>_opset<N>.onnx, the inputs
<name>.<input>.npy and PyTorch's outputs <name>.<output>.npy (f32, eval mode;
the BERT encoder's computed in f64 and saved as f32). The LSTM, the
bidirectional GRU and the TransformerEncoder are exported at every opset
13 to 17, the others at 14 and 17.
"""
import copy
import os
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "models"))
import make_bert_goldens as bert  # noqa: E402

OPSETS = (14, 17)
ALL_OPSETS = (13, 14, 15, 16, 17)


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


class GeluMlp(torch.nn.Module):
    """nn.GELU and F.gelu (both the erf form): exported as Div, Erf, Add,
    Mul, Mul, which rill imports as one Gelu each."""

    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(6, 8)
        self.act = torch.nn.GELU()
        self.l2 = torch.nn.Linear(8, 4)

    def forward(self, x):
        return torch.nn.functional.gelu(self.l2(self.act(self.l1(x))))


class Decoder(torch.nn.Module):
    """Two post-LN decoder layers: a causal target mask (a constant of the
    export) and a key padding mask on the memory."""

    def __init__(self):
        super().__init__()
        layer = torch.nn.TransformerDecoderLayer(16, 4, dim_feedforward=32,
                                                 dropout=0.1)
        self.decoder = torch.nn.TransformerDecoder(layer, 2)

    def forward(self, tgt, memory, memory_pad):
        causal = torch.nn.Transformer.generate_square_subsequent_mask(
            tgt.shape[0])
        return self.decoder(tgt, memory, tgt_mask=causal,
                            memory_key_padding_mask=memory_pad)


class BertEncoder(torch.nn.Module):
    """The hand-written BERT of tests/models/make_bert_goldens.py (its
    encoder(): embeddings, post-LN layers with the additive padding mask,
    erf GELU, pooler), at L 2, H 64, A 4, ff 256, in f32; its outputs are
    computed in f64."""

    def __init__(self):
        super().__init__()
        bert.H, bert.A, bert.L, bert.FF = 64, 4, 2, 256
        gen = torch.Generator().manual_seed(20)
        self.names = []
        for name, value in bert.random_parameters(gen).items():
            self.names.append(name)
            if name.endswith("weight") and value.dim() == 2 and \
                    "embeddings" not in name:
                # Linear weights: sqrt(16 / H) keeps the sums over H at
                # the goldens' (H 16) scale.
                value = value * 0.5
            self.register_parameter(
                name.replace(".", "_"),
                torch.nn.Parameter(value.detach().float()))
        self.inputs = bert.inputs(gen)

    def forward(self, input_ids, token_type_ids, attention_mask):
        p = {n: getattr(self, n.replace(".", "_")) for n in self.names}
        x = dict(input_ids=input_ids, token_type_ids=token_type_ids,
                 attention_mask=attention_mask)
        return bert.encoder(p, x, "gelu",
                            p["bert.embeddings.word_embeddings.weight"])


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


class Packed(torch.nn.Module):
    """A recurrent module over a padded batch (batch-first) of sequences of
    `lens` steps, through pack_padded_sequence and pad_packed_sequence: the
    export's LSTM/GRU/RNN node reads sequence_lens from the lens input.
    enforce_sorted: the lengths are in decreasing order (unsorted ones
    export a TopK and ScatterElements, which rill does not import)."""

    def __init__(self, rnn, with_h0=False):
        super().__init__()
        self.rnn = rnn
        self.with_h0 = with_h0

    def forward(self, x, lens, h0=None):
        packed = pack_padded_sequence(x, lens, batch_first=True)
        y, state = self.rnn(packed, h0) if self.with_h0 else self.rnn(packed)
        y, _ = pad_packed_sequence(y, batch_first=True,
                                   total_length=x.shape[1])
        return (y,) + (state if isinstance(state, tuple) else (state,))


def save(out_dir, prefix, inputs, input_names, outputs, output_names):
    if not isinstance(outputs, tuple):
        outputs = (outputs,)
    for n, v in zip(input_names, inputs):
        np.save(os.path.join(out_dir, f"{prefix}.{n}.npy"), v.numpy())
    for n, v in zip(output_names, outputs):
        np.save(os.path.join(out_dir, f"{prefix}.{n}.npy"),
                v.detach().numpy().astype(np.float32))


def export(out_dir, name, model, inputs, input_names, output_names,
           f64_outputs=False, opsets=OPSETS):
    model.eval()
    # Torch 1.13's TransformerEncoder takes a fast path under no_grad that
    # does not export (FACTS.md): run and export with grad enabled.
    outputs = model(*inputs)
    if f64_outputs:
        # The f32 model's function computed in f64 (its weights widened):
        # PyTorch's own f32 rounding would take half of the 1e-5.
        outputs = copy.deepcopy(model).double()(*inputs)
    save(out_dir, name, inputs, input_names, outputs, output_names)
    for opset in opsets:
        torch.onnx.export(model, tuple(inputs),
                          os.path.join(out_dir, f"{name}_opset{opset}.onnx"),
                          input_names=input_names, output_names=output_names,
                          opset_version=opset)


def export_dynamic(out_dir, name, model, input_sets, input_names,
                   output_names, dynamic_axes):
    """Exported once with dynamic_axes; each input set k (other batch and
    sequence sizes, or other lengths) saved as <name>.<k>.<input>.npy with
    PyTorch's outputs <name>.<k>.<output>.npy."""
    model.eval()
    for k, inputs in enumerate(input_sets):
        save(out_dir, f"{name}.{k}", inputs, input_names, model(*inputs),
             output_names)
    for opset in OPSETS:
        torch.onnx.export(model, tuple(input_sets[0]),
                          os.path.join(out_dir, f"{name}_opset{opset}.onnx"),
                          input_names=input_names, output_names=output_names,
                          opset_version=opset, dynamic_axes=dynamic_axes)


def padding(batch, steps, lengths):
    pad = torch.zeros(batch, steps, dtype=torch.bool)
    for b, n in enumerate(lengths):
        pad[b, n:] = True
    return pad


def main():
    out_dir = sys.argv[1]
    torch.manual_seed(20)
    export(out_dir, "lstm", Lstm(), [torch.randn(4, 3, 5)], ["x"],
           ["y", "h", "c"], opsets=ALL_OPSETS)
    export(out_dir, "bigru", BiGru(), [torch.randn(3, 4, 5)], ["x"],
           ["y", "h"], opsets=ALL_OPSETS)
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
           ["src", "pad"], ["out"], opsets=ALL_OPSETS)
    export(out_dir, "gelu", GeluMlp(), [torch.randn(3, 6)], ["x"], ["y"])
    memory_pad = torch.zeros(2, 6, dtype=torch.bool)
    memory_pad[0, 4:] = True
    export(out_dir, "decoder", Decoder(),
           [torch.randn(5, 2, 16), torch.randn(6, 2, 16), memory_pad],
           ["tgt", "memory", "memory_pad"], ["out"])
    export_dynamic(out_dir, "lstm_dynamic", Lstm(),
                   [[torch.randn(4, 3, 5)], [torch.randn(7, 2, 5)]], ["x"],
                   ["y", "h", "c"],
                   {"x": {0: "T", 1: "B"}, "y": {0: "T", 1: "B"},
                    "h": {1: "B"}, "c": {1: "B"}})
    export_dynamic(out_dir, "encoder_dynamic", Encoder(),
                   [[torch.randn(5, 2, 16), padding(2, 5, [5, 3])],
                    [torch.randn(8, 3, 16), padding(3, 8, [8, 2, 6])]],
                   ["src", "pad"], ["out"],
                   {"src": {0: "S", 1: "B"}, "pad": {0: "B", 1: "S"},
                    "out": {0: "S", 1: "B"}})
    model = BertEncoder()
    names = ["input_ids", "token_type_ids", "attention_mask"]
    export(out_dir, "bert", model, [model.inputs[n] for n in names], names,
           ["sequence_output", "pooled_output"], f64_outputs=True)
    # Packed sequences (sequence_lens fed at run time): one imported graph
    # run at two length vectors (1 is the least pack_padded_sequence
    # takes). The GRU, given h0, has a dynamic batch (3, then 5); the LSTM
    # and the RNN keep theirs: without h0, PyTorch bakes the export's batch
    # into their zero initial states (it warns of it).
    lens = [torch.tensor([4, 2, 1]), torch.tensor([3, 2, 2])]
    xs = [torch.randn(3, 4, 5), torch.randn(3, 4, 5)]
    export_dynamic(
        out_dir, "packed_lstm",
        Packed(torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True,
                             batch_first=True)),
        [[x, n] for x, n in zip(xs, lens)], ["x", "lens"], ["y", "h", "c"],
        {})
    gru_lens = [torch.tensor([4, 2, 1]), torch.tensor([4, 4, 3, 2, 1])]
    gru_xs = [torch.randn(3, 4, 5), torch.randn(5, 4, 5)]
    h0s = [torch.randn(2, 3, 6), torch.randn(2, 5, 6)]
    export_dynamic(
        out_dir, "packed_gru",
        Packed(torch.nn.GRU(5, 6, bidirectional=True, batch_first=True),
               with_h0=True),
        [list(v) for v in zip(gru_xs, gru_lens, h0s)], ["x", "lens", "h0"],
        ["y", "h"],
        {"x": {0: "B"}, "lens": {0: "B"}, "h0": {1: "B"}, "y": {0: "B"},
         "h": {1: "B"}})
    export_dynamic(
        out_dir, "packed_rnn",
        Packed(torch.nn.RNN(5, 6, nonlinearity="relu", batch_first=True)),
        [[x, n] for x, n in zip(xs, lens)], ["x", "lens"], ["y", "h"], {})


if __name__ == "__main__":
    main()
