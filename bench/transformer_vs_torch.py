#!/usr/bin/python3
"""One Transformer encoder layer training step in rill and in PyTorch, side
by side (issue 8). Runs bench/transformer_bench (built with -c opt), then
times the same step with Debian's python3-torch:
nn.TransformerEncoderLayer(256, 4, 1024, dropout=0, batch_first=True)
(post-norm, ReLU) on x [32, 64, 256] f32, loss = sum(layer(x) * r), and
backward to the gradients of every parameter and of x. Both use the same
number of threads (rill's oneDNN uses all the cores it may run on, as
OpenMP does by default) and are timed the same way: 5 warm-up steps, then
the median of single timed steps. Debian's torch runs its matmuls through
the system BLAS: with only libblas3 that is the slow reference one, so
./dev bench transformer installs libopenblas0-pthread; the script prints
which BLAS torch loaded. Usage: bench/transformer_vs_torch.py
"""
import os
import re
import subprocess
import sys
import time


def threads():
    """What OpenMP, and so rill's oneDNN, uses by default."""
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"])
    return len(os.sched_getaffinity(0))


# Before torch loads OpenBLAS, which reads these once: the machine's
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE would pin it to another CPU's
# kernels, and its own thread pool should match rill's thread count.
THREADS = threads()
for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(var, None)
os.environ["OPENBLAS_NUM_THREADS"] = str(THREADS)
os.environ["OMP_NUM_THREADS"] = str(THREADS)

import torch  # noqa: E402

BATCH, SEQ, D_MODEL, HEADS, FF = 32, 64, 256, 4, 1024
WARMUP, STEPS = 5, 30
BINARY = "bazel-bin/bench/transformer_bench"


def blas_library():
    """The BLAS torch has loaded (after a matmul): Debian's reference one is
    blas/libblas.so.3, OpenBLAS's openblas-pthread/libopenblasp-*.so."""
    with open("/proc/self/maps") as maps:
        paths = {os.path.realpath(line.split()[-1]) for line in maps
                 if "blas" in line.split()[-1]}
    shown = sorted("/".join(p.split("/")[-2:]) for p in paths
                   if "lapack" not in os.path.basename(p))
    return ", ".join(shown) or "none"


def torch_step_ms():
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, dropout=0.0,
                                             batch_first=True)
    layer.train()
    x = torch.rand(BATCH, SEQ, D_MODEL) * 2 - 1
    r = torch.rand(BATCH, SEQ, D_MODEL) * 2 - 1
    x.requires_grad_(True)

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        loss = (layer(x) * r).sum()
        loss.backward()

    for _ in range(WARMUP):
        step()
    times = []
    for _ in range(STEPS):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    # bazel-bin follows the last build's mode: after a plain `bazel test`
    # it holds an unoptimised binary, whose reference kernels crawl.
    if not os.path.exists(BINARY) or "-opt" not in os.path.realpath("bazel-bin"):
        sys.exit(f"{BINARY} missing or not optimised: "
                 "bazel build -c opt //bench:transformer_bench")
    n = THREADS
    out = subprocess.run([BINARY, f"--steps={STEPS}"], check=True,
                         capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS=str(n))).stdout
    print(out.strip())
    rill_ms = float(re.search(r"^rill_ms\s+([0-9.]+)", out, re.M).group(1))
    torch.set_num_threads(n)
    torch_ms, torch_min = torch_step_ms()
    print(f"{'torch_ms':<22} {torch_ms:10.2f}  median of {STEPS} steps, "
          f"torch {torch.__version__}, {n} threads")
    print(f"{'torch_min_ms':<22} {torch_min:10.2f}  fastest step")
    print(f"{'torch_blas':<22} {blas_library()}")
    print(f"{'rill_ms':<22} {rill_ms:10.2f}  median of {STEPS} steps, "
          f"{n} threads")
    print(f"{'rill_over_torch':<22} {rill_ms / torch_ms:10.2f}  "
          "rill_ms / torch_ms (below 1: rill is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
