#!/usr/bin/python3
"""The sine model's loss in PyTorch, from the weights `rill export-weights`
wrote: nn.GRU(1, 8, 2, bidirectional=True, batch_first=True) and
nn.Linear(16, 1) on the last step's output, the mean squared error against
the target. Usage: torch_sine_loss.py WEIGHTS_DIR X.npy TARGET.npy
"""

import os
import sys

import numpy as np
import torch


def main(weights_dir, x_path, target_path):
    gru = torch.nn.GRU(1, 8, 2, bidirectional=True, batch_first=True)
    head = torch.nn.Linear(16, 1)
    for module, prefix in ((gru, ""), (head, "head.")):
        module.load_state_dict({
            name: torch.from_numpy(
                np.load(os.path.join(weights_dir, prefix + name + ".npy")))
            for name in module.state_dict()
        })
    x = torch.from_numpy(np.load(x_path))
    target = torch.from_numpy(np.load(target_path))
    with torch.no_grad():
        out, _ = gru(x)
        loss = torch.nn.functional.mse_loss(head(out[:, -1, :]), target)
    print("torch loss %g" % loss.item())


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
