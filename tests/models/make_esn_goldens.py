#!/usr/bin/python3
"""Writes the ESN golden files in testdata/: an independent NumPy reference.

Run with Debian's python3-numpy (1.24):  /usr/bin/python3 make_esn_goldens.py
from this directory. It fixes a small W (with zeros, so the CSR path has
empty and partial rows), W_in, b and an input sequence, then computes

  x_t = (1 - a) x_{t-1} + a tanh(W_in u_t + W x_{t-1} + b),  x_{-1} = 0
  z_t = [1; u_t; x_t],  t >= warmup
  (Z^T Z + lam D) W_out^T = Z^T Y,  D = I with D[0,0] = 0 (bias not
  penalised) or D = I (regularize_bias),

solving with numpy.linalg.solve on the explicit normal equations. The
targets Y are a fixed function of the inputs (next-step values of a
sinusoid), so the readout has something to fit.

It also integrates Mackey-Glass (tau=17, a=0.2, b=0.1, n=10, x0=1.2) with
the scheme models/mackey_glass.h documents -- RK4, dt=0.1, constant history
x0 on [-tau, 0], the delayed value at half steps the mean of its two
neighbours, sampled every 1 time unit -- written here from the equation,
for the first 500 samples.
"""
import os

import numpy as np

UNITS, INPUTS, OUTPUTS, STEPS = 7, 2, 2, 60
LEAK, RIDGE, WARMUP = 0.3, 1e-3, 10


def mackey_glass(samples, tau=17.0, a=0.2, b=0.1, n=10.0, x0=1.2, dt=0.1):
    delay, every = int(round(tau / dt)), int(round(1.0 / dt))
    hist = [x0] * (delay + 1)

    def f(x, lag):
        return a * lag / (1.0 + lag ** n) - b * x

    out = []
    for _ in range(samples):
        out.append(hist[-1])
        for _ in range(every):
            x, lag0, lag1 = hist[-1], hist[-1 - delay], hist[-delay]
            half = 0.5 * (lag0 + lag1)
            k1 = f(x, lag0)
            k2 = f(x + 0.5 * dt * k1, half)
            k3 = f(x + 0.5 * dt * k2, half)
            k4 = f(x + dt * k3, lag1)
            hist.append(x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4))
    return np.array(out)


def main():
    rng = np.random.default_rng(20240607)
    w = rng.uniform(-1, 1, (UNITS, UNITS))
    w[rng.uniform(0, 1, (UNITS, UNITS)) < 0.6] = 0.0
    w[3, :] = 0.0  # an empty row
    w *= 0.9 / np.max(np.abs(np.linalg.eigvals(w)))
    w_in = rng.uniform(-0.8, 0.8, (UNITS, INPUTS))
    b = rng.uniform(-0.2, 0.2, UNITS)
    t = np.arange(STEPS + 1, dtype=np.float64)
    series = np.stack([np.sin(0.3 * t), np.cos(0.17 * t) * 0.5], axis=1)
    u, y = series[:-1], series[1:]

    x = np.zeros(UNITS)
    states = np.empty((STEPS, UNITS))
    for i in range(STEPS):
        x = (1 - LEAK) * x + LEAK * np.tanh(w_in @ u[i] + w @ x + b)
        states[i] = x

    z = np.concatenate([np.ones((STEPS, 1)), u, states], axis=1)[WARMUP:]
    outs = {}
    for name, reg_bias in (("w_out", False), ("w_out_regbias", True)):
        d = np.eye(z.shape[1])
        if not reg_bias:
            d[0, 0] = 0.0
        outs[name] = np.linalg.solve(z.T @ z + RIDGE * d, z.T @ y[WARMUP:]).T

    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
    arrays = dict(w=w, w_in=w_in, b=b, u=u, y=y, states=states,
                  mackey_glass=mackey_glass(500),
                  params=np.array([LEAK, RIDGE, WARMUP], dtype=np.float64),
                  **outs)
    for name, a in arrays.items():
        np.save(os.path.join(out_dir, "esn_golden_%s.npy" % name),
                np.ascontiguousarray(a, dtype=np.float64))


if __name__ == "__main__":
    main()
