#!/usr/bin/env python3
"""Writes testdata/tokenizer_goldens.txt and testdata/bleu_stats_goldens.txt.

An independent implementation of sacreBLEU 2.x's preprocessing in Python,
with real regular-expression engines (`re` for 13a, the `regex` module for
intl's Unicode categories), to cross-check the hand-written scanners in
metrics/tokenizer.cc. The rules are those of sacreBLEU's tokenizer_13a.py,
tokenizer_re.py, tokenizer_intl.py and tokenizer_char.py; str.lower,
str.split and str.rstrip are Python's own.

Needs Python 3 and the `regex` module (Debian: python3-regex). The C++ tests
only read the committed output. Characters are chosen from Unicode versions
old enough that Python, `regex` and ICU 72 agree on their properties.

In tokenizer_goldens.txt each line is KIND <TAB> INPUT <TAB> EXPECTED, with backslash, tab,
newline and carriage return escaped as \\\\, \\t, \\n and \\r. For 'split' the
expected tokens are joined by single spaces.
"""

import os
import random
import re
from collections import Counter

import regex

# 13a: the language-independent replacements, then four substitutions.
_RE_13A = [
    (re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),
    (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
    (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),
    (re.compile(r'([0-9])(-)'), r'\1 \2 '),
]

_RE_INTL = [
    (regex.compile(r'(\P{N})(\p{P})'), r'\1 \2 '),
    (regex.compile(r'(\p{P})(\P{N})'), r' \1 \2'),
    (regex.compile(r'(\p{S})'), r' \1 '),
]


def tok_13a(line):
    line = line.replace('<skipped>', '').replace('-\n', '').replace('\n', ' ')
    if '&' in line:
        for old, new in (('&quot;', '"'), ('&amp;', '&'), ('&lt;', '<'),
                         ('&gt;', '>')):
            line = line.replace(old, new)
    line = f' {line} '
    for pattern, repl in _RE_13A:
        line = pattern.sub(repl, line)
    return ' '.join(line.split())


def tok_intl(line):
    for pattern, repl in _RE_INTL:
        line = pattern.sub(repl, line)
    return ' '.join(line.split())


def tok_char(line):
    return ' '.join(' '.join(line).split())


def tok_none(line):
    return ' '.join(line.split())


KINDS = {
    '13a': tok_13a,
    'intl': tok_intl,
    'char': tok_char,
    'none': tok_none,
    'lower': lambda s: s.lower(),
    'split': lambda s: ' '.join(s.split()),
    'rstrip': lambda s: s.rstrip(),
}

HANDPICKED = [
    '', ' ', 'Hello, world.', "It wasn't surprising.", '3.14 and 1,000,000.',
    'pages 10-20, not 10 - 20', 'a-b 5-x x-5 -5 5-', 'end 2019.', 'end 2019. ',
    '.5 5. 5.5 a.b a. .a ..', ',,5,,a,,', 'e.g., i.e.: (yes) [no] {maybe}',
    'x&amp;y &quot;q&quot; &lt;tag&gt; &amp;lt; &&amp;',
    'a<skipped>b <skip<skipped>ped>', 'line-\nbreak and\nnewline',
    'tab\tsep\u00a0nbsp\u3000ideo\u2028ls\u0085nel', '$5 + 3 = 8 ^ 2 ~ | `x`',
    'Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;',
    'producţia de zahăr brut se exprimă în zahăr alb;',
    '«Bonjour», dit-il… ¿Qué? ¡Sí!', '中文，标点。测试！', 'الرقم ٣٫١٤؟',
    '€10 £5 ©2020 ±3° 2×3÷4 ∑ → ☺ 😀', '½ ² Ⅻ ٣', '“quoted” ‘single’ — dash –',
    'ΣΑΣ ΟΔΟΣ. Σ', 'İstanbul ẞ ǅ ﬁ Ａ', 'e\u0301 combining', 'x_y x@y x/y',
    'a.,b ,.x 1.,2 1,.a', 'U.S.A. Mr. Smith', '..., ... .,.,',
]

ATOMS = (list('abcXYZ019 ,.-\'"&;:!?()[]{}<>/\\@#$%^*+=|~`_') + [
    ' ', ' ', 'the', 'Dog', '42', '\t', '\n', '-\n', '&amp;', '&quot;',
    '&lt;', '&gt;', '<skipped>', 'é', 'ß', 'İ', 'Σ', 'ς', 'Ω', '«', '»',
    '„', '“', '”', '‘', '’', '—', '–', '…', '·', '¿', '¡', '、', '。', '！',
    '，', '؟', '٫', '€', '£', '©', '°', '±', '×', '÷', '∑', '→', '☺', '😀',
    '٣', '½', 'Ⅻ', '²', '\u00a0', '\u3000', '\u2028', '\u0085', '\u0301',
    '中', 'ǅ', 'ﬁ', 'Ａ', '¨', '＄', '\u200b', '\u180e', '\x1c',
])


def bleu_stats(hyp, refs, tok, lowercase, max_order=4):
    """sacreBLEU's segment statistics: preprocess (lower, rstrip, tokenize),
    clipped n-gram counts with the max over references, closest ref length
    with ties to the shorter."""
    def prep(s):
        if lowercase:
            s = s.lower()
        return KINDS[tok](s.rstrip()).split()

    def grams(toks):
        return Counter(tuple(toks[i:i + n]) for n in range(1, max_order + 1)
                       for i in range(len(toks) - n + 1))

    h = prep(hyp)
    best, ref_lens = Counter(), []
    for ref in refs:
        r = prep(ref)
        ref_lens.append(len(r))
        best |= grams(r)  # | keeps the maximum count
    ref_len = min(ref_lens, key=lambda x: (abs(x - len(h)), x))
    correct, total = [0] * max_order, [0] * max_order
    for gram, count in grams(h).items():
        total[len(gram) - 1] += count
        correct[len(gram) - 1] += min(count, best[gram])
    return [len(h), ref_len] + correct + total


def random_segment(rng, base=None):
    words = ['the', 'The', 'DOG', 'dog', 'bit', 'man', 'zahăr', 'ΟΔΟΣ',
             'İstanbul', '3.5', '10-20', 'U.S.', '1,000']
    pieces = words + ATOMS
    out = []
    if base:
        cut = rng.randint(0, len(base))
        out.append(base[:cut])
    for _ in range(rng.randint(0, 12)):
        out.append(rng.choice(pieces))
        out.append(rng.choice([' ', ' ', ' ', '', '\u00a0']))
    return ''.join(out)


def escape(s):
    return (s.replace('\\', '\\\\').replace('\t', '\\t').replace('\n', '\\n')
            .replace('\r', '\\r'))


def main():
    rng = random.Random(9)
    inputs = list(HANDPICKED)
    for _ in range(120):
        inputs.append(''.join(rng.choice(ATOMS)
                              for _ in range(rng.randint(1, 24))))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'testdata',
                       'tokenizer_goldens.txt')
    with open(out, 'w', encoding='utf-8', newline='\n') as f:
        for kind, fn in KINDS.items():
            for s in inputs:
                f.write(f'{kind}\t{escape(s)}\t{escape(fn(s))}\n')

    # Whole-segment BLEU statistics: TOK <TAB> LOWERCASE <TAB> HYP <TAB> REF1
    # <TAB> REF2 <TAB> "sys_len ref_len correct... total...".
    out = os.path.join(os.path.dirname(out), 'bleu_stats_goldens.txt')
    with open(out, 'w', encoding='utf-8', newline='\n') as f:
        for tok in ('none', '13a', 'intl', 'char'):
            for lowercase in (0, 1):
                for _ in range(40):
                    hyp = random_segment(rng)
                    refs = [random_segment(rng, hyp), random_segment(rng, hyp)]
                    stats = bleu_stats(hyp, refs, tok, lowercase)
                    fields = [tok, str(lowercase), hyp] + refs
                    f.write('\t'.join(escape(x) for x in fields) + '\t' +
                            ' '.join(map(str, stats)) + '\n')


if __name__ == '__main__':
    main()
