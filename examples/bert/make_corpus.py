#!/usr/bin/env python3
"""Builds BERT's offline pretraining corpus from text that Debian ships.

Nothing here is downloaded. The text comes from two sources on any Debian 12
machine (`./dev` installs the `fortunes` package; base-files provides the
licences):

  * /usr/share/games/fortunes/<category>: fortune-mod's quotations, jokes and
    poems, one entry per document (entries are separated by "%" lines);
  * /usr/share/common-licenses/*: the licence texts, one file per document.

Output (create_pretraining_data's input format): one sentence per line, a
blank line between documents. Sentences are split after ".", "!" or "?"
followed by whitespace and an upper-case letter, a digit or a quote, after
the lines of each paragraph are joined. Entries whose text is mostly
non-letters (ASCII art) are left out. Files are read in sorted order, so the
same package versions give the same bytes; the script prints the versions
and a SHA-256 of what it wrote.

  python3 examples/bert/make_corpus.py -o corpus.txt [--labels labels.tsv]

--labels also writes every fortune entry of two or more sentences as
"<category>\t<text>" (one line), for fine-tuning a classifier on the
category files' real labels.
"""

import argparse
import hashlib
import os
import re
import subprocess
import sys

FORTUNES = "/usr/share/games/fortunes"
LICENSES = "/usr/share/common-licenses"
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(])")


def sentences(paragraph):
    text = " ".join(paragraph.split())
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def document_sentences(text):
    """Sentences of a text whose paragraphs are separated by blank lines."""
    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        out.extend(sentences(paragraph))
    return out


def mostly_letters(text):
    letters = sum(c.isalpha() for c in text)
    visible = sum(not c.isspace() for c in text)
    return visible > 0 and letters / visible >= 0.6


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def fortune_entries():
    """(category, entry text) for every fortune, in sorted file order."""
    for name in sorted(os.listdir(FORTUNES)):
        path = os.path.join(FORTUNES, name)
        if name.endswith((".dat", ".u8")) or os.path.islink(path):
            continue
        for entry in re.split(r"^%\s*$", read(path), flags=re.M):
            if entry.strip() and mostly_letters(entry):
                yield name, entry


def license_documents():
    for name in sorted(os.listdir(LICENSES)):
        path = os.path.join(LICENSES, name)
        if not os.path.islink(path):
            yield read(path)


def package_version(package):
    try:
        return subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "not installed"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--labels", help="also write category<TAB>text")
    args = parser.parse_args()
    if not os.path.isdir(FORTUNES):
        sys.exit(f"make_corpus: {FORTUNES} is missing: "
                 "apt-get install fortunes (./dev does it)")
    documents, labelled = [], []
    for category, entry in fortune_entries():
        found = document_sentences(entry)
        if found:
            documents.append(found)
        if len(found) >= 2:
            labelled.append((category, " ".join(found)))
    for text in license_documents():
        found = document_sentences(text)
        if found:
            documents.append(found)
    data = "\n\n".join("\n".join(d) for d in documents) + "\n"
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(data)
    if args.labels:
        with open(args.labels, "w", encoding="utf-8") as f:
            for category, text in labelled:
                f.write(f"{category}\t{text}\n")
    sentence_count = sum(len(d) for d in documents)
    print(f"{args.output}: {len(documents)} documents, {sentence_count} "
          f"sentences, {len(data.encode())} bytes, sha256 "
          f"{hashlib.sha256(data.encode()).hexdigest()[:16]} (fortunes "
          f"{package_version('fortunes')}, base-files "
          f"{package_version('base-files')})")
    if args.labels:
        print(f"{args.labels}: {len(labelled)} labelled entries")


if __name__ == "__main__":
    main()
