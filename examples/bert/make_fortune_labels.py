#!/usr/bin/python3
"""Writes a labelled text-classification set from Debian's fortune files.

The label is the fortune's category file (/usr/share/games/fortunes/
<category>, entries separated by "%" lines): real labels, offline. Six
topical categories with 580 or more entries each:

  computers, men-women, politics, science, songs-poems, work

Left out: the categories of mixed topic (people, cookie, miscellaneous,
wisdom, platitudes, zippy, art, knghtbrd, fortunes), definitions (a format
rather than a topic), the small ones (under 350 entries), "ethnic" (jokes
about groups of people), and the offensive/ (off/) directories, which the
`fortunes` package does not ship (fortunes-off does).

Entries are those of make_corpus.py (the same reader, so that ASCII art is
left out as there), whitespace collapsed to single spaces. Each category is
shuffled with its own random.Random(SEED + index) and split 80/10/10 into
train/validation/test, so every split holds each category in proportion.
Rows are then shuffled per split. Output, in DIR:

  train.tsv, validation.tsv, test.tsv   category<TAB>text, one per line
  labels.txt                            the categories in id order (sorted)

  /usr/bin/python3 examples/bert/make_fortune_labels.py -o DIR

It prints the class counts per split, the package version and a SHA-256 of
the three files, so the same fortunes version gives the same bytes.

Note: examples/bert/make_corpus.py puts every fortune entry (these texts
included, without their labels) in the pretraining corpus.
"""

import argparse
import hashlib
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_corpus  # noqa: E402

CATEGORIES = ["computers", "men-women", "politics", "science", "songs-poems",
              "work"]
SEED = 17
SPLITS = (("train", 0.8), ("validation", 0.1), ("test", 0.1))


def split_category(texts, rng):
    texts = list(texts)
    rng.shuffle(texts)
    n = len(texts)
    n_val = round(n * SPLITS[1][1])
    n_test = round(n * SPLITS[2][1])
    n_train = n - n_val - n_test
    return (texts[:n_train], texts[n_train:n_train + n_val],
            texts[n_train + n_val:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", required=True,
                        help="the directory to write (created if missing)")
    args = parser.parse_args()
    if not os.path.isdir(make_corpus.FORTUNES):
        sys.exit(f"make_fortune_labels: {make_corpus.FORTUNES} is missing: "
                 "apt-get install fortunes")
    by_category = {c: [] for c in CATEGORIES}
    for category, entry in make_corpus.fortune_entries():
        if category in by_category:
            text = " ".join(entry.split())
            if text:
                by_category[category].append(text)
    rows = {name: [] for name, _ in SPLITS}
    for index, category in enumerate(CATEGORIES):
        parts = split_category(by_category[category],
                               random.Random(SEED + index))
        for (name, _), texts in zip(SPLITS, parts):
            rows[name].extend((category, t) for t in texts)
    os.makedirs(args.output, exist_ok=True)
    digest = hashlib.sha256()
    for split, _ in SPLITS:
        random.Random(SEED).shuffle(rows[split])
        data = "".join(f"{c}\t{t}\n" for c, t in rows[split])
        digest.update(data.encode())
        with open(os.path.join(args.output, split + ".tsv"), "w",
                  encoding="utf-8") as f:
            f.write(data)
        counts = ", ".join(f"{c} {sum(r[0] == c for r in rows[split])}"
                           for c in CATEGORIES)
        print(f"{split}: {len(rows[split])} rows ({counts})")
    with open(os.path.join(args.output, "labels.txt"), "w") as f:
        f.write("".join(c + "\n" for c in CATEGORIES))
    print(f"{args.output}: sha256 {digest.hexdigest()[:16]} (fortunes "
          f"{make_corpus.package_version('fortunes')})")


if __name__ == "__main__":
    main()
