#!/usr/bin/python3
"""BERT-base through the rill command (issue 16 item 3): build, check, run and
one training step, each timed, with the peak resident memory of each rill
process (ru_maxrss from wait4). Then bazel-bin/bench/scale_bench for the
phases inside a load (init and checkpoint). Usage: bench/scale_cli.py [DIR]
after bazel build -c opt //tools:rill //bench:scale_bench."""

import os
import subprocess
import sys
import time

import numpy as np

RILL = "bazel-bin/tools/rill"
SPEC = """bert {
  vocab_size: 30522
  hidden_size: 768
  num_hidden_layers: 12
  num_attention_heads: 12
  intermediate_size: 3072
  hidden_act: "gelu"
  max_position_embeddings: 512
  type_vocab_size: 2
  seq_length: 128
  max_predictions_per_seq: 20
  seed: 1
}
"""
TRAIN = """graph: "bert_base.pbtxt"
loss: "loss"
%s
batch_size: 1
optimizer { learning_rate: 0.0001 adam {} }
steps: 1
log_every: 1
seed: 1
"""


def timed(args):
    """Runs args; returns (seconds, peak RSS in MB, stdout)."""
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(args)} failed:\n{out}")
    return seconds, usage.ru_maxrss / 1024, out


def write_inputs(d, batch):
    rng = np.random.default_rng(1)
    s, p = 128, 20
    arrays = {
        "input_ids": rng.integers(0, 30522, (batch, s)),
        "token_type_ids": np.zeros((batch, s), np.int64),
        "attention_mask": np.ones((batch, s), np.int64),
        "masked_lm_positions": rng.integers(0, s, (batch, p)),
        "masked_lm_ids": rng.integers(0, 30522, (batch, p)),
        "masked_lm_weights": np.ones((batch, p), np.float32),
        "next_sentence_labels": rng.integers(0, 2, (batch,)),
    }
    for name, a in arrays.items():
        if a.dtype != np.float32:
            a = a.astype(np.int64)
        np.save(f"{d}/{name}.npy", a)
    return list(arrays)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/rill_scale"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/bert_base_model.pbtxt", "w") as f:
        f.write(SPEC)
    names = write_inputs(d, 1)
    graph = f"{d}/bert_base.pbtxt"
    rows = []
    s, rss, _ = timed([RILL, "build", f"{d}/bert_base_model.pbtxt", "-o", graph])
    rows.append(("rill build", s, rss, f"{os.path.getsize(graph) / 1e3:.1f} kB graph"))
    s, rss, out = timed([RILL, "check", graph])
    rows.append(("rill check", s, rss, out.splitlines()[2].strip()))
    feeds = [f"--feed={n}={d}/{n}.npy" for n in names]
    s, rss, _ = timed([RILL, "run", graph, *feeds, "--fetch=loss", "-o", f"{d}/run"])
    loss = float(np.load(f"{d}/run/loss.npy"))
    rows.append(("rill run (initializers, B1)", s, rss, f"loss {loss:.4f}"))
    with open(f"{d}/bert_base.train.pbtxt", "w") as f:
        f.write(TRAIN % "\n".join(f'data {{ input: "{n}" file: "{n}.npy" }}'
                                  for n in names))
    s, rss, _ = timed([RILL, "train", f"{d}/bert_base.train.pbtxt", "-o",
                       f"{d}/train", "--overwrite"])
    rows.append(("rill train (1 step, B1, Adam)", s, rss, "checkpoint in train/"))
    ckpt = f"{d}/train"
    s, rss, _ = timed([RILL, "run", graph, *feeds, "--fetch=loss", "-o",
                       f"{d}/run2", f"--params={ckpt}", "--max_file_mb=4096"])
    rows.append(("rill run --params (trained)", s, rss, ""))
    print("BERT-base L12 H768 A12 ff3072 V30522 S128 through the rill command")
    print(f"{'command':32} {'wall s':>8} {'peak RSS MB':>12}  note")
    for name, s, rss, note in rows:
        print(f"{name:32} {s:8.2f} {rss:12.1f}  {note}")
    print(os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
