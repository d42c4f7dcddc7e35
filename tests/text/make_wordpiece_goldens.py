#!/usr/bin/env python3
"""Writes testdata/wordpiece_cases.tsv: BERT tokenizations of hard text by
the independent Python reference (tools/wordpiece_reference/wordpiece_ref.py),
which wordpiece_test.cc compares rill's tokenizer against.

Run from the repository root:  tests/text/make_wordpiece_goldens.py
The output is committed; the tests only read it.

Unicode versions: Python's unicodedata here is Unicode 14.0, ICU 72 (rill's)
is 15.0. A comparison of all code points found no category or canonical
decomposition that differs between the two for characters assigned in 14.0;
15.0 assigns 4,489 new ones (e.g. CJK Extension H, Kawi). So every
character of every case must be assigned in this Python's Unicode (checked
below), which keeps the new ones out.

Columns, tab-separated: vocab (small: tests/text/testdata/small_vocab.txt,
bert: examples/bert/bert-base-uncased-vocab.txt), mode, lowercase (0/1),
max_input_chars_per_word (0: the mode's default), the text as hex UTF-8,
the ids, the pieces (both space-separated).
"""

import os
import random
import sys
import unicodedata

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "tools", "wordpiece_reference"))
import wordpiece_ref  # noqa: E402

VOCABS = {"small": "tests/text/testdata/small_vocab.txt",
          "bert": "examples/bert/bert-base-uncased-vocab.txt"}

HARD = [
    # Empty and blank.
    "", " ", "\t\n\r ", "\u3000\u00a0\u2009",
    # ASCII.
    "Hello, World!", "unaffable", "UNAFFABLE un-affable", "abcd abc ab",
    "running runs the", "I'm don't won't", "e-mail e_mail C++ C# .NET",
    "3.14159 1,000,000 2nd 10km $100.00 50% #tag @user",
    # Runs of punctuation.
    "!!!???...", "--==>>", "a...b", "(x)[y]{z}<w>", "~`^_|\\/", "\"'\"'",
    "¿Qué?¡Sí!", "«quoted» ‘smart’ “quotes” a—b–c", "§¶·†‡※", "、。「」",
    "＂ＡＢＣ！＂", "\u037e\u0387", "\u1fef\u1fed\u1fee", "…‥",
    # Accents, composed and decomposed, and case.
    "café Café CAFÉ naïve résumé", "cafe\u0301 CAFE\u0301", "e\u0301",
    "A\u030a \u212b \u00c5ngstr\u00f6m", "İstanbul", "ΣΊΣΥΦΟΣ σίσυφος",
    "ΌΣΟΣ Σ", "Straße STRASSE", "ﬁne ﬂow", "ǅemal ǈ", "ᾳ ᾼ \u0345",
    "\u0301\u0301", " \u0301x", "x\u0301\u0327", "\u1100\u1161\u11a8",
    "Ωhm \u2126", "Åå\u030a",
    # Scripts.
    "中文字符", "日本語のテキスト", "한국어 텍스트", "𠀀𠀁𪜀", "\uf900\ufa0e",
    "\U0002f800\U0002fa1d", "中a文b", "ｶﾀｶﾅ カタカナ", "مرحبا بالعالم، نعم؟",
    "שָׁלוֹם", "สวัสดีครับ", "नमस्ते दुनिया।", "Привет, мир!", "Ἀθῆναι",
    # Emoji.
    "🙂👍🏽 x🙂y", "👨\u200d👩\u200d👧 family", "❤️ ❤\ufe0f", "🇩🇪 flag",
    # Controls and formats.
    "a\x00b", "a\x01b\x7f c", "soft\u00adhyphen", "zero\u200bwidth",
    "x\ufffdy", "bidi\u202eoverride\u202c", "a\x0bb\x0cc", "a\x85b",
    "line\u2028sep\u2029para", "nbsp\u00a0here", "ideographic\u3000space",
    "thin\u2009space\u200aend", "tab\there", "\ufeffbom", "a\u180eb",
    "x\x1cy\x1dz\x1e\x1f", "\u0600\u06dd arabic number sign",
    # Words at and over the limits.
    "a" * 99, "b" * 100, "c" * 101, "d" * 200, "e" * 201, "é" * 101,
    "\u0301" * 150 + "x", "abc" * 40, "supercalifragilisticexpialidocious" * 4,
    # Text full of [UNK].
    "ᚠᛇᚻ᛫ᛒᛦᚦ ⠁⠃⠉ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∀x∈ℝ", "xyzzyqx qwzx", "🜁🜂🜃 ♔♕♖",
    "\ue000\U000f0000 private",
]

# Characters the random cases draw from, by kind.
POOL = {
    "ascii": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "space": " \t\n\r\u00a0\u2003\u3000\u2028",
    "punct": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»—–‘’“”…、。·\u055d\u1fef",
    "accent": "éÉèàçñöüÅåøßæœıİĳǅΣσςΆάΐ",
    "mark": "\u0300\u0301\u0302\u0308\u030a\u0327\u0345\u093f\u0e31",
    "cjk": "中文字本日語\u3400\uf900\U00020000\U0002a700\U0002b740",
    "kana_hangul": "のカタ한국ｶ",
    "emoji": "🙂👍🏽❤\ufe0f🇩",
    "control": "\x00\x01\x07\x1b\x7f\x85\u00ad\u200b\u200d\u202e\ufeff\ufffd",
    "other": "ΩЖж€∑∀ℝ™①Ⅳ\ue000",
}
KIND_WEIGHTS = {"ascii": 30, "space": 6, "punct": 6, "accent": 5, "mark": 3,
                "cjk": 3, "kana_hangul": 2, "emoji": 2, "control": 3,
                "other": 2}


def random_text(rng):
    kinds = list(KIND_WEIGHTS)
    weights = [KIND_WEIGHTS[k] for k in kinds]
    chars = []
    for _ in range(rng.randint(0, 40)):
        kind = rng.choices(kinds, weights)[0]
        chars.append(rng.choice(POOL[kind]))
    return "".join(chars)


def check_assigned(text):
    for ch in text:
        if unicodedata.category(ch) == "Cn":
            sys.exit(f"U+{ord(ch):04X} is unassigned in Unicode "
                     f"{unicodedata.unidata_version}; leave it out")


def main():
    rng = random.Random(15)
    texts = HARD + [random_text(rng) for _ in range(150)]
    vocabs = {name: wordpiece_ref.load_vocab(path)
              for name, path in VOCABS.items()}
    rows = []
    for text in texts:
        check_assigned(text)
        for name, vocab in vocabs.items():
            for mode in ("google", "hf"):
                for lowercase in (0, 1):
                    pieces = wordpiece_ref.tokenize(text, vocab, lowercase,
                                                    mode)
                    ids = [str(vocab[p]) for p in pieces]
                    rows.append([name, mode, str(lowercase), "0",
                                 text.encode("utf-8").hex(), " ".join(ids),
                                 " ".join(pieces)])
    # A limit other than the defaults.
    for text in ("abcd", "abcde", "héllo wörld", "中文"):
        for limit in ("1", "4", "5"):
            pieces = wordpiece_ref.tokenize(text, vocabs["bert"], 1, "google",
                                            int(limit))
            rows.append(["bert", "google", "1", limit,
                         text.encode("utf-8").hex(),
                         " ".join(str(vocabs["bert"][p]) for p in pieces),
                         " ".join(pieces)])
    out = "tests/text/testdata/wordpiece_cases.tsv"
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# Written by tests/text/make_wordpiece_goldens.py (Python "
                f"{sys.version.split()[0]}, Unicode "
                f"{unicodedata.unidata_version}). Columns: vocab mode "
                f"lowercase max_chars text_hex ids pieces\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    print(f"{out}: {len(rows)} cases from {len(texts)} texts")


if __name__ == "__main__":
    main()
