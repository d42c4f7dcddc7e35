#!/usr/bin/python3
"""The PyTorch side of check_against_pytorch.sh, for lstm_bi2_lengths.pbtxt:
nn.LSTM(4, 3, num_layers=2, bidirectional=True) in float64 over a packed
variable-length batch.

  pytorch_lstm.py write DIR    writes DIR/weights/<state_dict key>.npy and
                               the feeds DIR/{x,h0,c0,sequence_lengths}.npy
                               and the upstream gradients DIR/seed_*.npy
  pytorch_lstm.py compare DIR  runs the module and autograd on the same
                               files and compares every result with rill's
                               in DIR/rill (written by `rill run -o`);
                               exits 1 when one differs by more than 1e-12
                               of its largest value.

Run with Debian's python3 (torch, numpy): /usr/bin/python3.
"""
import os
import sys

import numpy as np
import torch

T, B, I, H, LAYERS = 5, 3, 4, 3, 2
LENGTHS = [5, 2, 4]
TOLERANCE = 1e-12


def module():
    torch.manual_seed(23)
    return torch.nn.LSTM(I, H, num_layers=LAYERS,
                         bidirectional=True).double()


def load(directory, name):
    return torch.from_numpy(np.load(os.path.join(directory, name + ".npy")))


def write(directory):
    lstm = module()
    os.makedirs(os.path.join(directory, "weights"), exist_ok=True)
    for key, value in lstm.state_dict().items():
        np.save(os.path.join(directory, "weights", key + ".npy"),
                value.numpy())
    rng = np.random.default_rng(23)
    arrays = {
        "x": rng.standard_normal((T, B, I)),
        "h0": rng.standard_normal((2 * LAYERS, B, H)),
        "c0": rng.standard_normal((2 * LAYERS, B, H)),
        "sequence_lengths": np.array(LENGTHS, dtype=np.int64),
        "seed_output": rng.standard_normal((T, B, 2 * H)),
        "seed_h_n": rng.standard_normal((2 * LAYERS, B, H)),
        "seed_c_n": rng.standard_normal((2 * LAYERS, B, H)),
    }
    for name, value in arrays.items():
        np.save(os.path.join(directory, name + ".npy"), value)


def rill_file(name):
    # `rill run -o DIR` writes fetch `name` as DIR/<name, / and : as _>.npy.
    return name.replace("/", "_").replace(":", "_")


def compare(directory):
    lstm = module()
    for key, value in lstm.state_dict().items():
        value.copy_(load(os.path.join(directory, "weights"), key))
    x, h0, c0 = (load(directory, n).requires_grad_() for n in ("x", "h0",
                                                               "c0"))
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, load(directory, "sequence_lengths"), enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed, (h0, c0))
    # Zeros at padded steps; h_n, c_n at each sequence's last valid step.
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    results = {"output": output, "h_n": h_n, "c_n": c_n}
    loss = sum((v * load(directory, "seed_" + k)).sum()
               for k, v in results.items())
    loss.backward()
    for name, t in (("x", x), ("h0", h0), ("c0", c0)):
        results[name + "/grad"] = t.grad
    for key, p in lstm.named_parameters():
        # weight_ih_l1_reverse is the Parameter rnn/l1/weight_ih_reverse.
        base, layer = key.split("_l")[0], key.split("_l")[1]
        index, _, reverse = layer.partition("_")
        node = "rnn/l%s/%s%s" % (index, base, "_" + reverse if reverse else "")
        results[node + "/grad"] = p.grad
    worst = 0.0
    for name, want in results.items():
        want = want.detach().numpy()
        got = np.load(os.path.join(directory, "rill", rill_file(name) +
                                   ".npy"))
        error = np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want)))
        worst = max(worst, error)
        print("%-32s %-12s max relative error %.2g" %
              (name, "x".join(map(str, want.shape)), error))
    verdict = "OK" if worst <= TOLERANCE else "FAILED"
    print("largest error %.2g (tolerance %g): %s" % (worst, TOLERANCE, verdict))
    return worst <= TOLERANCE


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "compare"):
        sys.exit(__doc__)
    if sys.argv[1] == "write":
        write(sys.argv[2])
    elif not compare(sys.argv[2]):
        sys.exit(1)


if __name__ == "__main__":
    main()
