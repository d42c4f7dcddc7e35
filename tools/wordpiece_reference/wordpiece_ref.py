#!/usr/bin/env python3
"""An independent reference for BERT's tokenizer, for rill's tests and bench.

Written from the published algorithm (google-research/bert tokenization.py
and Hugging Face's BertTokenizer, as /work/shared/FACTS.md and issue 15
describe them), in plain Python with the standard library's unicodedata. It
is deliberately literal and slow: each step is the published one.

Basic tokenizer:
  1. clean: drop U+0000, U+FFFD and Cc/Cf (but tab, newline, CR); tab,
     newline, CR and Zs become a space;
  2. put spaces around CJK ideographs (the blocks below);
  3. hf mode only: NFC;
  4. split on whitespace (Python's str.split());
  5. per token, when lowercasing: str.lower(), then NFD and drop Mn;
  6. split each token on punctuation (ASCII 33-47, 58-64, 91-96, 123-126
     and every Unicode P* category), each punctuation character a word;
  7. split the joined words on whitespace again.
WordPiece: a word longer than max_input_chars_per_word characters is
[UNK]; otherwise greedy longest-match-first, continuation pieces looked up
as "##" + piece, and a word with any unmatched part is one [UNK].

Command line (what bench/wordpiece_vs_python.py times):
  wordpiece_ref.py --vocab V [--lowercase] [--mode google|hf] [--pieces]
reads lines from stdin (split on "\\n", a trailing "\\r" dropped, strict
UTF-8) and prints one line of ids (or pieces) per line, as `rill tokenize`.
"""

import argparse
import sys
import unicodedata

CJK_BLOCKS = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
              (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
              (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
ASCII_PUNCT = [(33, 47), (58, 64), (91, 96), (123, 126)]
DEFAULT_MAX_CHARS = {"google": 200, "hf": 100}


def is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punctuation(ch):
    cp = ord(ch)
    if any(lo <= cp <= hi for lo, hi in ASCII_PUNCT):
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(ch):
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK_BLOCKS)


def clean(text):
    out = []
    for ch in text:
        if ord(ch) in (0, 0xFFFD) or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    return "".join(out)


def space_cjk(text):
    return "".join(f" {ch} " if is_cjk(ch) else ch for ch in text)


def strip_accents(token):
    return "".join(ch for ch in unicodedata.normalize("NFD", token)
                   if unicodedata.category(ch) != "Mn")


def split_punctuation(token):
    words, current = [], []
    for ch in token:
        if is_punctuation(ch):
            if current:
                words.append("".join(current))
                current = []
            words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def basic_tokenize(text, lowercase, mode):
    text = space_cjk(clean(text))
    if mode == "hf":
        text = unicodedata.normalize("NFC", text)
    words = []
    for token in text.split():
        if lowercase:
            token = strip_accents(token.lower())
        words.extend(split_punctuation(token))
    return " ".join(words).split()


def wordpiece(word, vocab, max_chars, unk="[UNK]"):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = word[start:end]
            if start > 0:
                piece = "##" + piece
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


def load_vocab(path):
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return {line.rstrip("\r"): i for i, line in enumerate(lines)}


def tokenize(text, vocab, lowercase=False, mode="google", max_chars=0):
    max_chars = max_chars or DEFAULT_MAX_CHARS[mode]
    pieces = []
    for word in basic_tokenize(text, lowercase, mode):
        pieces.extend(wordpiece(word, vocab, max_chars))
    return pieces


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--lowercase", action="store_true")
    parser.add_argument("--mode", choices=["google", "hf"], default="google")
    parser.add_argument("--pieces", action="store_true")
    args = parser.parse_args()
    vocab = load_vocab(args.vocab)
    data = sys.stdin.buffer.read()
    if data.endswith(b"\n"):
        data = data[:-1]
    out = []
    for raw in data.split(b"\n") if data else []:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        pieces = tokenize(line.decode("utf-8"), vocab, args.lowercase,
                          args.mode)
        out.append(" ".join(pieces if args.pieces else
                            (str(vocab[p]) for p in pieces)))
    sys.stdout.write("".join(line + "\n" for line in out))


if __name__ == "__main__":
    main()
