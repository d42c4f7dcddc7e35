#!/usr/bin/python3
"""Loading BERT-base from a checkpoint, two builds of rill side by side
(issue 16 item 3): `rill build` of the spec, then `rill run --params CKPT`
at S128 B1 (wall time and peak RSS from /usr/bin/time -v), and scale_bench
DIR ckpt for the phases inside it (load, first forward, VmHWM), the two
builds alternating round by round so that both see the same load.

Usage: bench/scale_compare.py A_BIN B_BIN [DIR] [ROUNDS]
where each *_BIN directory holds `rill` and `scale_bench` (bazel-bin/tools/
rill and bazel-bin/bench/scale_bench of a -c opt build). DIR (default
/tmp/rill_scale_compare) gets the graph and the checkpoint, written by
B_BIN's scale_bench DIR init."""

import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale_cli import SPEC, write_inputs  # noqa: E402


def timed(args):
    """Runs args under /usr/bin/time -v: (wall s, peak RSS MB, stdout)."""
    proc = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)",
                     proc.stderr)
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                        proc.stderr).group(1))
    return seconds, rss / 1024, proc.stdout


def phases(out):
    """scale_bench's figures: load seconds, first forward seconds, peak MB,
    peak as a multiple of parameters + activations."""
    def num(label, unit="s"):
        m = re.search(re.escape(label) + r".*?([\d.]+) " + unit, out)
        return float(m.group(1))
    load = re.search(r"load: \+ (?:read|draw).*?\s([\d.]+) s", out)
    # main's checkpoint mode prints the draw, then the read as its own row.
    read = re.search(r"read parameters from checkpoint\s+([\d.]+) s", out)
    seconds = float(load.group(1)) + (float(read.group(1)) if read else 0)
    ratio = float(re.search(r"= ([\d.]+)x", out).group(1))
    return seconds, num("first forward"), num("peak resident (VmHWM)", "MB"), \
        ratio


def main():
    a_bin, b_bin = sys.argv[1], sys.argv[2]
    d = sys.argv[3] if len(sys.argv) > 3 else "/tmp/rill_scale_compare"
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    os.makedirs(d, exist_ok=True)
    names = write_inputs(d, 1)
    with open(f"{d}/bert_base_model.pbtxt", "w") as f:
        f.write(SPEC)
    subprocess.run([f"{b_bin}/scale_bench", d, "init"], check=True,
                   capture_output=True)
    feeds = [f"--feed={n}={d}/{n}.npy" for n in names]
    rows = {}
    losses = {}
    for r in range(rounds):
        for label, bin_dir in (("A", a_bin), ("B", b_bin)):
            rill = f"{bin_dir}/rill"
            s, rss, _ = timed([rill, "build", f"{d}/bert_base_model.pbtxt",
                               "-o", f"{d}/built_{label}.pbtxt"])
            rows.setdefault(("rill build: wall s", label), []).append(s)
            rows.setdefault(("rill build: peak RSS MB", label), []).append(rss)
            s, rss, _ = timed([rill, "run", f"{d}/bert_base.pbtxt", *feeds,
                               "--fetch=loss", "-o", f"{d}/run_{label}",
                               f"--params={d}/params.rckpt",
                               "--max_file_mb=4096"])
            losses[label] = np.load(f"{d}/run_{label}/loss.npy")
            rows.setdefault(("rill run --params: wall s", label), []).append(s)
            rows.setdefault(("rill run --params: peak RSS MB", label),
                            []).append(rss)
            _, _, out = timed([f"{bin_dir}/scale_bench", d, "ckpt"])
            load, forward, peak, ratio = phases(out)
            for key, v in (("load (parse, validate, parameters) s", load),
                           ("first forward (compile + run) s", forward),
                           ("peak resident MB", peak),
                           ("peak / (params + activations)", ratio)):
                rows.setdefault((key, label), []).append(v)
    print("BERT-base L12 H768 A12 ff3072 V30522, S128 B1, f32, from a "
          "checkpoint")
    print(f"A = {a_bin}\nB = {b_bin}\n{rounds} rounds, alternating")
    print(f"{'':40} {'A':>18} {'B':>18}  B/A")
    for key in dict.fromkeys(k for k, _ in rows):
        a, b = rows[(key, "A")], rows[(key, "B")]
        cell = lambda v: ", ".join(f"{x:.2f}" for x in v)  # noqa: E731
        print(f"{key:40} {cell(a):>18} {cell(b):>18}  "
              f"{sum(b) / sum(a):.2f}")
    print("loss A", losses["A"], "B", losses["B"], "same:",
          bool(np.array_equal(losses["A"], losses["B"])))
    print(os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
