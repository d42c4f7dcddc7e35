#!/usr/bin/python3
"""Scores the same 100k-segment corpus with rill and with NLTK's corpus_bleu,
checks that the scores agree to 1e-9, and prints the speed ratio.

Needs Debian's python3-nltk (only this script; the tests never do):
  apt-get install -y python3-nltk
  bench/bleu_vs_nltk.py      (or ./dev bench bleu)
It builds bench:bleu_bench with -c opt itself: bazel-bin points at whatever
configuration was built last, and a debug build would skew the ratio.

Both sides see whitespace-tokenised text and no smoothing; the NLTK time
covers corpus_bleu alone (its inputs are split beforehand), the rill time
covers CorpusBleu including its own whitespace split. Best of 5 on each side.
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nltk.translate.bleu_score import corpus_bleu

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bazel-bin" / "bench" / "bleu_bench"


def main():
    subprocess.run(["bazel", "build", "-c", "opt", "//bench:bleu_bench"],
                   check=True, cwd=ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([str(BENCH), tmp], check=True, capture_output=True,
                             text=True).stdout
        rill = dict(line.split() for line in out.splitlines())
        hyps = [l.split() for l in Path(tmp, "hyp.txt").read_text().splitlines()]
        refs = [[l.split()] for l in Path(tmp, "ref.txt").read_text().splitlines()]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        nltk_score = 100 * corpus_bleu(refs, hyps)
        best = min(best, time.perf_counter() - start)
    rill_score, rill_seconds = float(rill["rill_bleu"]), float(rill["rill_seconds"])
    print(f"segments      {rill['segments']}")
    print(f"rill BLEU     {rill_score:.12f}  ({rill_seconds * 1e3:.1f} ms)")
    print(f"NLTK BLEU     {nltk_score:.12f}  ({best * 1e3:.1f} ms)")
    diff = abs(rill_score - nltk_score)
    print(f"difference    {diff:.3e}  ({'agree' if diff <= 1e-9 else 'DISAGREE'} to 1e-9)")
    print(f"speed ratio   rill is {best / rill_seconds:.1f}x faster than NLTK")
    return 0 if diff <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
