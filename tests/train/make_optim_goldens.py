#!/usr/bin/python3
"""Writes the goldens that optimizer_test.cc and schedule_test.cc compare
against, into tests/train/testdata/optim/.

The independent reference is PyTorch (Debian 12: apt-get install
python3-torch python3-numpy; made with torch 1.13.1+dfsg-4 and numpy
1.24.2). The C++ tests only read the committed .npy files. Run with Debian's
interpreter, from anywhere:
  /usr/bin/python3 tests/train/make_optim_goldens.py

Optimizer goldens. Three f32 parameters, named as a model would name them:
  p0 "layer/weight" f32[3, 4], p1 "layer/bias" f32[4], p2 "scale" f32[]
  (a scalar). p<i>_init.npy holds the initial values, p<i>_grads.npy the 20
  gradients fed to steps 0..19 (axis 0 is the step), both drawn once from
  numpy's default_rng(20240605) at mixed scales, with a few exact zeros.
For each case below, torch.optim runs 20 steps on torch.float32 copies of the
parameters, setting .grad from p<i>_grads before each step:
  <case>_lr.npy   f64[20]: the learning rate of step s (what the C++ test
                  passes to Step);
  <case>_p<i>.npy f32[20, ...]: parameter i after step s.
  <case>_f64_p<i>.npy f64[20, ...]: the same run on torch.float64 copies
                  (the f32 initial values and gradients widened exactly),
                  for rill's f64 training.
PyTorch ran its AVX2 kernels (torch.__config__.show(): "CPU capability
usage: AVX2"), whose add(x, alpha=a) and addcmul round a * b + c once, as a
fused multiply-add; rill does the same, and so matches these bit for bit.
The cases (torch defaults elsewhere: dampening 0, weight_decay 0 for SGD and
Adam, amsgrad off, foreach off, maximize off):
  sgd           SGD(lr=0.1)
  sgd_momentum  SGD(lr=0.05, momentum=0.9)
  sgd_nesterov  SGD(lr=0.05, momentum=0.9, nesterov=True)
  adam          Adam(lr=0.01)                      betas (0.9, 0.999), eps 1e-8
  adam_custom   Adam(lr=0.03, betas=(0.8, 0.99), eps=1e-6)
  adamw         AdamW(lr=0.05, weight_decay=0.1) with two parameter groups:
                "layer/bias" (matched by the no_decay pattern "*bias") in a
                group with weight_decay=0; and the learning rate multiplied
                by 0.9 after every step (torch ExponentialLR(gamma=0.9)), so
                decay and bias correction meet a changing rate.
  adamw_default AdamW(lr=0.01)                     weight_decay 0.01 on all

Schedule goldens, sched_<case>.npy f64[20]: the learning rate of updates
0..19 of a 20-update run with base rate 0.1. Where PyTorch has the schedule,
the values are torch.optim.lr_scheduler's: the group's lr is read before each
optimizer.step(), then scheduler.step() advances it.
  step              StepLR(step_size=3, gamma=0.5)
  exponential       ExponentialLR(gamma=0.9)
  warmup_linear     LambdaLR with the lambda of Hugging Face's
                    get_linear_schedule_with_warmup, warmup 5:
                    s / W for s < W, else max(0, (T - s) / (T - W))
  warmup_linear_w0  the same with warmup 0
  cosine            CosineAnnealingLR(T_max=20, eta_min=0.01)
  cosine_min0       CosineAnnealingLR(T_max=20, eta_min=0)
PyTorch has no cosine with linear warm-up, so this one is closed form here:
  cosine_warmup     warmup 5, min_lr 0.01: lr * s / W for s < W, else
                    min_lr + (lr - min_lr) * (1 + cos(pi * (s - W) / (T - W))) / 2
"""

import fnmatch
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                   "optim")
STEPS = 20
NAMES = ["layer/weight", "layer/bias", "scale"]
SHAPES = [(3, 4), (4,), ()]


def make_inputs():
    rng = np.random.default_rng(20240605)
    inits, grads = [], []
    for shape in SHAPES:
        inits.append(rng.normal(0.0, 1.0, shape).astype(np.float32))
        g = rng.normal(0.0, 1.0, (STEPS,) + shape)
        # Mixed magnitudes per step (Adam's normalisation and eps matter at
        # the small end), and exact zeros now and then.
        g *= 10.0 ** rng.integers(-4, 2, (STEPS,) + shape)
        g[rng.random((STEPS,) + shape) < 0.08] = 0.0
        grads.append(g.astype(np.float32))
    return inits, grads


def run_optimizer(make, inits, grads, dtype=np.float32):
    params = [torch.nn.Parameter(torch.from_numpy(p.astype(dtype)))
              for p in inits]
    optimizer, scheduler = make(params)
    lrs, history = [], [[] for _ in params]
    for s in range(STEPS):
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(np.array(g[s], dtype=dtype))
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        for h, p in zip(history, params):
            h.append(p.detach().numpy().copy())
    return np.array(lrs, dtype=np.float64), [np.stack(h) for h in history]


def adamw_with_no_decay(params):
    exempt = [fnmatch.fnmatchcase(n, "*bias") for n in NAMES]
    decay = [p for e, p in zip(exempt, params) if not e]
    no_decay = [p for e, p in zip(exempt, params) if e]
    optimizer = torch.optim.AdamW([{"params": decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=0.05, weight_decay=0.1)
    return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)


OPTIMIZERS = {
    "sgd": lambda ps: (torch.optim.SGD(ps, lr=0.1), None),
    "sgd_momentum": lambda ps: (torch.optim.SGD(ps, lr=0.05, momentum=0.9),
                                None),
    "sgd_nesterov": lambda ps: (torch.optim.SGD(
        ps, lr=0.05, momentum=0.9, nesterov=True), None),
    "adam": lambda ps: (torch.optim.Adam(ps, lr=0.01), None),
    "adam_custom": lambda ps: (torch.optim.Adam(
        ps, lr=0.03, betas=(0.8, 0.99), eps=1e-6), None),
    "adamw": adamw_with_no_decay,
    "adamw_default": lambda ps: (torch.optim.AdamW(ps, lr=0.01), None),
}

BASE_LR = 0.1
MIN_LR = 0.01
WARMUP = 5


def linear_warmup_lambda(warmup):
    def f(s):
        if s < warmup:
            return s / warmup
        return max(0.0, (STEPS - s) / (STEPS - warmup))
    return f


SCHEDULERS = {
    "step": lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5),
    "exponential": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9),
    "warmup_linear": lambda o: torch.optim.lr_scheduler.LambdaLR(
        o, linear_warmup_lambda(WARMUP)),
    "warmup_linear_w0": lambda o: torch.optim.lr_scheduler.LambdaLR(
        o, linear_warmup_lambda(0)),
    "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
        o, T_max=STEPS, eta_min=MIN_LR),
    "cosine_min0": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
        o, T_max=STEPS, eta_min=0.0),
}


def torch_schedule(make):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=BASE_LR)
    scheduler = make(optimizer)
    lrs = []
    for _ in range(STEPS):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # No gradient: a no-op, but keeps torch's order.
        scheduler.step()
    return np.array(lrs, dtype=np.float64)


def cosine_warmup():
    lrs = []
    for s in range(STEPS):
        if s < WARMUP:
            lrs.append(BASE_LR * s / WARMUP)
        else:
            t = (s - WARMUP) / (STEPS - WARMUP)
            lrs.append(MIN_LR + (BASE_LR - MIN_LR) * (1 + math.cos(math.pi * t)) / 2)
    return np.array(lrs, dtype=np.float64)


def main():
    os.makedirs(OUT, exist_ok=True)
    inits, grads = make_inputs()
    for i, (p, g) in enumerate(zip(inits, grads)):
        np.save(os.path.join(OUT, f"p{i}_init.npy"), p)
        np.save(os.path.join(OUT, f"p{i}_grads.npy"), g)
    for case, make in OPTIMIZERS.items():
        lrs, history = run_optimizer(make, inits, grads)
        np.save(os.path.join(OUT, f"{case}_lr.npy"), lrs)
        for i, h in enumerate(history):
            np.save(os.path.join(OUT, f"{case}_p{i}.npy"), h)
        _, history = run_optimizer(make, inits, grads, np.float64)
        for i, h in enumerate(history):
            np.save(os.path.join(OUT, f"{case}_f64_p{i}.npy"), h)
    for case, make in SCHEDULERS.items():
        np.save(os.path.join(OUT, f"sched_{case}.npy"), torch_schedule(make))
    np.save(os.path.join(OUT, "sched_cosine_warmup.npy"), cosine_warmup())


if __name__ == "__main__":
    main()
