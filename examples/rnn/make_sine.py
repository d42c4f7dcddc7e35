#!/usr/bin/python3
"""Writes the noisy-sine data of the recurrent example (Debian's python3-numpy).

Each of N examples is a window of T + 1 samples of sin(2 pi t / period + phase)
+ noise, with a random phase and period: x holds the first T samples
[N, T, 1] (batch-first, as the model spec's Input), target the next one
[N, 1]. Run from this directory: /usr/bin/python3 make_sine.py
"""
import numpy as np

N, T, NOISE = 512, 16, 0.05
rng = np.random.default_rng(6)
phase = rng.uniform(0, 2 * np.pi, size=(N, 1))
period = rng.uniform(12, 24, size=(N, 1))
t = np.arange(T + 1)[None, :]
series = np.sin(2 * np.pi * t / period + phase)
series += NOISE * rng.standard_normal(series.shape)
series = series.astype(np.float32)
np.save("sine_x.npy", series[:, :T, None])
np.save("sine_target.npy", series[:, T:])
