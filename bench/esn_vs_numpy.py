#!/usr/bin/python3
"""The same ESN fit in rill and in NumPy, side by side (issue 7's target:
rill at least 3x faster). Runs bench/esn_fit_bench (built with -c opt),
which fits 1000 units on 10k steps of Mackey-Glass and writes its reservoir,
series and W_out; then fits the same reservoir here with NumPy (dense W,
the same state update and the same ridge normal equations), checks that
the two W_out agree, and prints the ratio. Given several esn_fit_bench
binaries (say an older rill's and this one's), runs them all, alternating
with NumPy, so that one run compares them on the same machine load.
The ratio depends on the BLAS behind NumPy (Debian's reference libblas or
OpenBLAS, whichever the libblas.so.3 alternative names), so it is printed.
Usage: bench/esn_vs_numpy.py [ESN_FIT_BENCH ...]
"""
import os
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


def rill_fit(binary, d):
    """rill's best-of-3 fit time in ms, and the arrays it wrote to d."""
    out = subprocess.run([binary, d], check=True, capture_output=True,
                         text=True).stdout
    print(f"{binary}: {out.strip()}")
    arrays = {n: np.load(f"{d}/{n}.npy")
              for n in ("w", "w_in", "b", "series", "w_out")}
    return float(out.split(": ")[2].split(" ms")[0]), arrays


def numpy_ms(a):
    best, w_out = float("inf"), None
    for _ in range(3):
        start = time.perf_counter()
        w_out = numpy_fit(a["w"], a["w_in"], a["b"][0], a["series"])
        best = min(best, (time.perf_counter() - start) * 1e3)
    return best, w_out


def blas_libraries():
    """The BLAS libraries this process has loaded (NumPy's)."""
    np.ones((2, 2)) @ np.ones((2, 2))
    with open("/proc/self/maps") as maps:
        return sorted({line.split()[-1] for line in maps
                       if "blas" in line.split()[-1]})


def main():
    binaries = sys.argv[1:] or ["bazel-bin/bench/esn_fit_bench"]
    print("numpy's BLAS:", ", ".join(blas_libraries()))
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    ratios = []
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        for binary in binaries:
            rill_ms, a = rill_fit(binary, d)
            np_ms, w_out = numpy_ms(a)
            # With a ridge of 1e-8 the normal equations are ill-conditioned:
            # the two W_out may differ while fitting equally well, so compare
            # what they predict on the training rows.
            z, y = design(a["w"], a["w_in"], a["b"][0], a["series"])
            diff = np.sqrt(np.mean((z @ w_out.T - z @ a["w_out"].T) ** 2))
            diff /= y.std()
            worst = max(worst, diff)
            print(f"numpy fit: {np_ms:.1f} ms (best of 3; dense W); "
                  f"predictions differ by {diff:.2e} of the target's std")
            ratios.append((binary, np_ms / rill_ms))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())
    for binary, r in ratios:
        print(f"ratio: {binary} is {r:.1f}x faster than NumPy "
              f"(target: at least 3x)")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
