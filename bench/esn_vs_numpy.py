#!/usr/bin/python3
"""The same ESN fit in rill and in NumPy, side by side (issue 7's target:
rill at least 3x faster). Runs bench/esn_fit_bench (built with -c opt),
which fits 1000 units on 10k steps of Mackey-Glass and writes its reservoir,
series and W_out; then fits the same reservoir here with NumPy (dense W,
the same state update and the same ridge normal equations), checks that
the two W_out agree, and prints the ratio. Usage: bench/esn_vs_numpy.py
"""
import subprocess
import sys
import tempfile
import time

import numpy as np

LEAK, RIDGE, WARMUP = 0.3, 1e-8, 100


def design(w, w_in, b, series):
    """The rows z_t = [1, u_t, x_t] past the warm-up, and the targets."""
    steps = series.shape[0] - 1
    u, y = series[:-1], series[1:]
    units = w.shape[0]
    x = np.zeros(units)
    states = np.empty((steps, units))
    for t in range(steps):
        x = (1 - LEAK) * x + LEAK * np.tanh(w_in @ u[t] + w @ x + b)
        states[t] = x
    z = np.hstack([np.ones((steps, 1)), u, states])[WARMUP:]
    return z, y[WARMUP:]


def numpy_fit(w, w_in, b, series):
    z, y = design(w, w_in, b, series)
    ztz = z.T @ z
    reg = RIDGE * np.eye(ztz.shape[0])
    reg[0, 0] = 0  # rill does not penalise the bias column by default.
    return np.linalg.solve(ztz + reg, z.T @ y).T


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "bazel-bin/bench/esn_fit_bench"
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([binary, d], check=True, capture_output=True,
                             text=True).stdout
        print(out.strip())
        rill_ms = float(out.split(": ")[2].split(" ms")[0])
        w, w_in = np.load(f"{d}/w.npy"), np.load(f"{d}/w_in.npy")
        b, series = np.load(f"{d}/b.npy")[0], np.load(f"{d}/series.npy")
        rill_w_out = np.load(f"{d}/w_out.npy")
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            w_out = numpy_fit(w, w_in, b, series)
            best = min(best, (time.perf_counter() - start) * 1e3)
    # With a ridge of 1e-8 the normal equations are ill-conditioned: the two
    # W_out may differ while fitting equally well, so compare what they
    # predict on the training rows.
    z, y = design(w, w_in, b, series)
    diff = np.sqrt(np.mean((z @ w_out.T - z @ rill_w_out.T) ** 2)) / y.std()
    print(f"numpy fit: {best:.1f} ms (best of 3; dense W)")
    print(f"their predictions differ by {diff:.2e} of the target's std")
    print(f"ratio: rill is {best / rill_ms:.1f}x faster (target: at least 3x)")
    return 0 if diff < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
