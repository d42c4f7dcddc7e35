#!/usr/bin/python3
"""Data-parallel training on this machine (issue 18 item 5): the same global
batch trained three ways, alternating round by round so that all see the
same load:

  1x2       one process, `rill train --threads 2`
  2x1 one   2 ranks x 1 thread, one gradient bucket (sent after the
            backward pass: no overlap)
  2x1 small 2 ranks x 1 thread, buckets of SMALL_MB (sent while the
            backward pass goes on)

on the translation Transformer of examples/translate (0.7 MB of gradients)
and a 2-layer LSTM (H 256, 3.2 MB of gradients) on examples/rnn's sine
data. It prints seconds per step (the trainer's own time, compilation and
the last checkpoint included, the same in every set-up) and, for the ranks,
the share of that time spent in gradient allreduce, and the part of it
after the backward pass (what nothing overlapped), as rank 0's last line
reports them.

Usage: bench/mpi_overlap.py [ROUNDS] [SMALL_MB]   (defaults 3 and 0.1)
It builds //tools:rill and //tools:rill_mpi with -c opt first. Ranks share
cores here, so they run with --mca mpi_yield_when_idle 1 (see README)."""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPIRUN = ["mpirun", "-np", "2", "--oversubscribe", "--allow-run-as-root",
          "--mca", "btl", "self,vader",
          "--mca", "btl_vader_single_copy_mechanism", "none",
          "--mca", "mpi_yield_when_idle", "1"]

LSTM_SPEC = """input { name: "x" features: 1 steps: 16 }
recurrent { cell: "lstm" hidden_size: 256 num_layers: 2 seed: 1 }
head { outputs: 1 }
loss { mse { target: "target" } }
"""


def configs(d, small_mb):
    """(name, steps, {set-up: config path}) per model."""
    common = ("shuffle: true\noptimizer { learning_rate: 0.001 adam {} }\n"
              "batch_size: 64\nseed: 5\nlog_every: 1000\n")
    translate = os.path.join(ROOT, "examples/translate")
    models = {
        "translation Transformer": (150, (
            f'model_spec: "{translate}/translate_model.pbtxt"\n'
            f'data {{ input: "src" file: "{translate}/train_src.npy" }}\n'
            f'data {{ input: "tgt_in" file: "{translate}/train_tgt_in.npy" }}\n'
            f'data {{ input: "tgt_out" file: "{translate}/train_tgt_out.npy" }}'
            "\n")),
        "LSTM H256 x2, T16": (100, (
            f'model_spec: "{d}/lstm.pbtxt"\n'
            f'data {{ input: "x" file: "{ROOT}/examples/rnn/sine_x.npy" }}\n'
            f'data {{ input: "target" file: "{ROOT}/examples/rnn/'
            'sine_target.npy" }\n')),
    }
    with open(os.path.join(d, "lstm.pbtxt"), "w") as f:
        f.write(LSTM_SPEC)
    out = []
    for i, (name, (steps, body)) in enumerate(models.items()):
        paths = {}
        for setup, cap in (("1x2", 0), ("2x1 one", 1 << 20),
                           ("2x1 small", small_mb)):
            path = os.path.join(d, f"m{i}_{setup.replace(' ', '_')}.pbtxt")
            with open(path, "w") as f:
                f.write(f"{body}{common}steps: {steps}\n"
                        f"bucket_cap_mb: {cap}\n")
            paths[setup] = path
        out.append((name, steps, paths))
    return out


def run(setup, config, d):
    """One training run: (seconds, allreduce s, after-backward s, buckets,
    buckets started early); the last four None in one process."""
    out_dir = os.path.join(d, "out")
    bin_dir = os.path.join(ROOT, "bazel-bin/tools")
    if setup == "1x2":
        env = dict(os.environ, OMP_NUM_THREADS="2")
        args = [f"{bin_dir}/rill", "train", config, "--threads", "2"]
    else:
        env = dict(os.environ, OMP_NUM_THREADS="1", TMPDIR="/tmp")
        args = MPIRUN + [f"{bin_dir}/rill_mpi", "train", config,
                         "--threads", "1"]
    args += ["-o", out_dir, "--overwrite"]
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    done = re.search(r"^done after \d+ steps in ([\d.]+) s", proc.stdout,
                     re.M)
    parallel = re.search(
        r"data-parallel: ([\d.e+-]+) s of ([\d.e+-]+) s in gradient "
        r"allreduce, ([\d.e+-]+) s of it after the backward passes; (\d+) "
        r"buckets, (\d+) started", proc.stdout)
    if parallel is None:
        return float(done.group(1)), None, None, None, None
    a, total, after, buckets, early = parallel.groups()
    return float(total), float(a), float(after), int(buckets), int(early)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    small_mb = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
    subprocess.run(["bazel", "build", "-c", "opt", "--jobs=2",
                    "//tools:rill", "//tools:rill_mpi"], cwd=ROOT,
                   check=True)
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory() as d:
        for name, steps, paths in configs(d, small_mb):
            results = {setup: [] for setup in paths}
            for _ in range(rounds):
                for setup, config in paths.items():
                    results[setup].append(run(setup, config, d))
            print(f"\n{name}, {steps} steps of global batch 64, {rounds} "
                  f"rounds alternating (small buckets: {small_mb} MB)")
            print("| set-up | ms per step | in allreduce | of it after the "
                  "backward pass | buckets (started early per step) |")
            print("|---|---|---|---|---|")
            for setup, runs in results.items():
                ms = ", ".join(f"{1000 * r[0] / steps:.1f}" for r in runs)
                if runs[0][1] is None:
                    print(f"| {setup} | {ms} | — | — | — |")
                    continue
                share = ", ".join(f"{100 * r[1] / r[0]:.0f} %" for r in runs)
                after = ", ".join(f"{100 * r[2] / r[0]:.0f} %" for r in runs)
                early = ", ".join(f"{r[4] / steps:.1f}" for r in runs)
                print(f"| {setup} | {ms} | {share} | {after} | "
                      f"{runs[0][3]} ({early}) |")
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
