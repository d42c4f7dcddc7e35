#!/usr/bin/python3
"""Tokenizes the same >= 10 MB of text with `rill tokenize` and with the
independent Python reference (tools/wordpiece_reference/wordpiece_ref.py),
in one run; checks that the ids agree line for line and prints the ratio.

  bench/wordpiece_vs_python.py [--mb 10]     (or ./dev bench tokenize)

The text is made reproducibly from Debian's /usr/share/common-licenses (the
base-files package; its files in sorted order), with a fixed multilingual
line (accents, CJK, emoji, punctuation) after every 20th line, repeated until
it reaches --mb MiB; its SHA-256 is printed. Both sides run as commands over
the same file with bert-base-uncased's vocabulary and --lowercase, so each
time includes starting up, loading the vocabulary and reading the text.
rill is built with -c opt first (bazel-bin shows whatever was built last).
"""
import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RILL = ROOT / "bazel-bin" / "tools" / "rill"
REFERENCE = ROOT / "tools" / "wordpiece_reference" / "wordpiece_ref.py"
VOCAB = ROOT / "examples" / "bert" / "bert-base-uncased-vocab.txt"
LICENSES = Path("/usr/share/common-licenses")
MULTILINGUAL = ("Naïve café owners — «quoted» ¿Qué? 中文字符 日本語 한국어 "
                "Привет, мир! 🙂👍 résumé ΣΊΣΥΦΟΣ straße (x)[y]{z}...")


def make_corpus(path, mib):
    lines = []
    for f in sorted(LICENSES.iterdir()):
        if f.is_file() and not f.is_symlink():
            lines += f.read_text(encoding="utf-8", errors="replace").split("\n")
    block = []
    for i, line in enumerate(lines):
        block.append(line)
        if i % 20 == 19:
            block.append(MULTILINGUAL)
    block = ("\n".join(block) + "\n").encode("utf-8")
    data = block * (mib * (1 << 20) // len(block) + 1)
    path.write_bytes(data)
    return len(data), data.count(b"\n"), hashlib.sha256(data).hexdigest()


def timed(cmd, text):
    start = time.perf_counter()
    with open(text, "rb") as stdin:
        out = subprocess.run(cmd, stdin=stdin, check=True,
                             capture_output=True).stdout
    return time.perf_counter() - start, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=10)
    args = parser.parse_args()
    subprocess.run(["bazel", "build", "-c", "opt", "//tools:rill"], check=True,
                   cwd=ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp, "text.txt")
        size, lines, digest = make_corpus(text, args.mb)
        print(f"text          {size / (1 << 20):.1f} MiB, {lines} lines, "
              f"sha256 {digest[:16]}")
        rill_cmd = [str(RILL), "tokenize", "--vocab", str(VOCAB),
                    "--lowercase"]
        ref_cmd = [sys.executable, str(REFERENCE), "--vocab", str(VOCAB),
                   "--lowercase"]
        runs = [timed(rill_cmd, text) for _ in range(3)]
        rill_s, rill_out = min(r[0] for r in runs), runs[0][1]
        ref_s, ref_out = timed(ref_cmd, text)
    same = rill_out == ref_out
    print(f"rill          {rill_s:.2f} s  ({size / (1 << 20) / rill_s:.1f} "
          f"MiB/s, best of 3)")
    print(f"Python ref    {ref_s:.2f} s  ({size / (1 << 20) / ref_s:.2f} "
          f"MiB/s, one run)")
    ids = len(rill_out.split())
    print(f"ids           {ids} from rill, {'identical' if same else 'DIFFER'}"
          f" to the reference's")
    print(f"speed ratio   rill is {ref_s / rill_s:.1f}x faster than the Python "
          f"reference")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
