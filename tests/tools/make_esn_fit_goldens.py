#!/usr/bin/python3
"""Writes testdata/esn_fit/: `rill esn fit`, `states` and `predict` with a
given reservoir, against an independent NumPy reference.

Run with Debian's python3-numpy:  /usr/bin/python3 make_esn_fit_goldens.py
from this directory. It fixes a reservoir (W with zeros, W_in, b), inputs
u [T, 2] and targets y [T, 3] that are not the next inputs (a task other
than one-step forecasting), then computes, from x_{-1} = 0,

  x_t = (1 - a) x_{t-1} + a tanh(W_in u_t + W x_{t-1} + b)
  z_t = [1; u_t; x_t]  for the training steps t in [warmup, train)
  W_out from numpy.linalg.lstsq(Z, Y) (ridge 0: ordinary least squares) or
        numpy.linalg.solve(Z^T Z + lam D, Z^T Y), D = I but D[0,0] = 0,
  predictions W_out z_t over every step, teacher-forced from x_{-1} = 0.

Three cases, each with its config (<case>.esn.pbtxt):
  ols      well-conditioned, ridge 0: W_out, states and predictions compare.
  illcond  the second input is the first plus 1e-6 noise, ridge 0: Z^T Z has
           a condition number near 1e12, so W_out is only determined to
           about cond * eps; the predictions still are, and compare.
  singular the second input equals the first, ridge 0: Z^T Z is singular
           (numpy.linalg.matrix_rank says so), which rill must refuse.
"""
import os

import numpy as np

UNITS, STEPS, TRAIN_FRACTION, WARMUP, LEAK = 12, 200, 0.75, 20, 0.4
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                   "esn_fit")


def reservoir(rng, inputs):
    w = rng.uniform(-1, 1, (UNITS, UNITS))
    w[rng.uniform(size=w.shape) > 0.3] = 0  # Sparse: empty and partial rows.
    w *= 0.9 / max(abs(np.linalg.eigvals(w)))
    w_in = rng.uniform(-0.5, 0.5, (UNITS, inputs))
    b = rng.uniform(-0.2, 0.2, UNITS)
    return w, w_in, b


def states(w, w_in, b, u):
    x, out = np.zeros(UNITS), []
    for u_t in u:
        x = (1 - LEAK) * x + LEAK * np.tanh(w_in @ u_t + w @ x + b)
        out.append(x)
    return np.array(out)


def design(u, x):
    return np.hstack([np.ones((len(u), 1)), u, x])


def config(name, ridge, output):
    fit = "least squares" if ridge == 0 else f"ridge {ridge}"
    return (
        "# Written by make_esn_fit_goldens.py: the given reservoir, inputs\n"
        f"# and targets (not the next inputs), fitted by {fit}.\n"
        'reservoir_w: "w.npy"\n'
        'reservoir_w_in: "w_in.npy"\n'
        'reservoir_b: "b.npy"\n'
        f"leak_rate: {LEAK}\n"
        f"ridge: {ridge}\n"
        f"warmup: {WARMUP}\n"
        f'inputs: "{name}_inputs.npy"\n'
        f'targets: "{name}_targets.npy"\n'
        f"train_fraction: {TRAIN_FRACTION}\n"
        f'output: "{output}.rckpt"\n')


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(23)
    t = np.arange(STEPS)
    base = np.sin(0.21 * t) + 0.3 * rng.standard_normal(STEPS)
    other = np.cos(0.13 * t) + 0.3 * rng.standard_normal(STEPS)
    cases = {
        "ols": np.stack([base, other], 1),
        "illcond": np.stack([base, base + 1e-6 * rng.standard_normal(STEPS)],
                            1),
        "singular": np.stack([base, base], 1),
    }
    w, w_in, b = reservoir(rng, 2)
    for key, value in [("w", w), ("w_in", w_in), ("b", b)]:
        np.save(os.path.join(OUT, f"{key}.npy"), value)
    train = int(round(STEPS * TRAIN_FRACTION))
    for name, u in cases.items():
        # Targets: a delayed input, a product and a smoothed sine; the
        # first steps' delays see zeros.
        lag2 = np.concatenate([[0, 0], u[:-2, 0]])
        y = np.stack([lag2, u[:, 0] * u[:, 1], np.tanh(u[:, 0] + u[:, 1])], 1)
        x = states(w, w_in, b, u)
        z = design(u, x)[WARMUP:train]
        rank = np.linalg.matrix_rank(z)
        for key, value in [("inputs", u), ("targets", y)]:
            np.save(os.path.join(OUT, f"{name}_{key}.npy"), value)
        with open(os.path.join(OUT, f"{name}.esn.pbtxt"), "w") as f:
            f.write(config(name, 0, name))
        if rank < z.shape[1]:
            print(f"{name}: rank {rank} of {z.shape[1]}: singular")
            continue
        w_out = np.linalg.lstsq(z, y[WARMUP:train], rcond=None)[0].T
        pred = design(u, x) @ w_out.T
        print(f"{name}: cond(Z^T Z) {np.linalg.cond(z.T @ z):.3g}")
        np.save(os.path.join(OUT, f"{name}_states.npy"), x[WARMUP:train])
        np.save(os.path.join(OUT, f"{name}_w_out.npy"),
                np.ascontiguousarray(w_out))
        np.save(os.path.join(OUT, f"{name}_predictions.npy"), pred)
    # The ridge solve, on the ols case, with the bias not penalised.
    u, y = cases["ols"], np.load(os.path.join(OUT, "ols_targets.npy"))
    z = design(u, states(w, w_in, b, u))[WARMUP:train]
    d = np.eye(z.shape[1])
    d[0, 0] = 0
    ridge = 0.5
    w_out = np.linalg.solve(z.T @ z + ridge * d, z.T @ y[WARMUP:train]).T
    np.save(os.path.join(OUT, "ols_w_out_ridge.npy"),
            np.ascontiguousarray(w_out))
    with open(os.path.join(OUT, "ridge.esn.pbtxt"), "w") as f:
        f.write(config("ols", ridge, "ridge"))


if __name__ == "__main__":
    main()
