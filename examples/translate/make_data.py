#!/usr/bin/python3
"""Writes the toy translation task of this directory (run from anywhere).

A rule-based language pair: the source is 3 to 7 digits ("3 1 4"), and its
translation reverses them and spells each as an English word ("four one
three"), so that the model must learn a vocabulary mapping and a
reordering. Token ids come from vocab.txt (line k is id k): <pad>, <s>,
</s>, the digits, then the words.

  train_src.npy     i64 [N, 7]  source ids, padded with <pad> (0)
  train_tgt_in.npy  i64 [N, 8]  <s> then the target's ids, padded
  train_tgt_out.npy i64 [N, 8]  the target's ids then </s>, padded
  test.src.txt, test.ref.txt    200 held-out pairs as text, for
                                `rill decode` and `rill bleu`

No test source occurs in the training data.
"""
import os
import random

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven",
         "eight", "nine"]
VOCAB = ["<pad>", "<s>", "</s>"] + [str(d) for d in range(10)] + WORDS
ID = {t: i for i, t in enumerate(VOCAB)}
SRC_LEN, TGT_LEN = 7, 8
TRAIN, TEST = 6000, 200


def translate(digits):
    return [WORDS[int(d)] for d in reversed(digits)]


def sample(rng):
    return [str(rng.randrange(10)) for _ in range(rng.randint(3, SRC_LEN))]


def main():
    rng = random.Random(20261128)
    test, seen = [], set()
    while len(test) < TEST:
        s = sample(rng)
        if tuple(s) not in seen:
            seen.add(tuple(s))
            test.append(s)
    train = []
    while len(train) < TRAIN:
        s = sample(rng)
        if tuple(s) not in seen:
            train.append(s)
    src = np.zeros((TRAIN, SRC_LEN), np.int64)
    tgt_in = np.zeros((TRAIN, TGT_LEN), np.int64)
    tgt_out = np.zeros((TRAIN, TGT_LEN), np.int64)
    for i, s in enumerate(train):
        t = [ID[w] for w in translate(s)]
        src[i, :len(s)] = [ID[d] for d in s]
        tgt_in[i, :len(t) + 1] = [ID["<s>"]] + t
        tgt_out[i, :len(t) + 1] = t + [ID["</s>"]]
    np.save(os.path.join(HERE, "train_src.npy"), src)
    np.save(os.path.join(HERE, "train_tgt_in.npy"), tgt_in)
    np.save(os.path.join(HERE, "train_tgt_out.npy"), tgt_out)
    with open(os.path.join(HERE, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    with open(os.path.join(HERE, "test.src.txt"), "w") as f:
        f.writelines(" ".join(s) + "\n" for s in test)
    with open(os.path.join(HERE, "test.ref.txt"), "w") as f:
        f.writelines(" ".join(translate(s)) + "\n" for s in test)


if __name__ == "__main__":
    main()
