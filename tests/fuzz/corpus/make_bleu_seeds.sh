#!/bin/sh
# Writes the bleu fuzz target's seeds (see bleu_fuzzer.cc for the layout:
# a mode byte, an order byte, then hypotheses and references split at NUL)
# from examples/bleu. Run from the repository root.
set -eu
out=tests/fuzz/corpus/bleu
b=examples/bleu
seed() {  # NAME MODE ORDER FILE...
  name=$1 mode=$2 order=$3
  shift 3
  {
    printf "\\$(printf %o "$mode")\\$(printf %o "$order")"
    first=1
    for f in "$@"; do
      [ $first -eq 1 ] || printf '\0'
      first=0
      cat "$f"
    done
  } >"$out/$name"
}
# mode: bits 0-1 tokenizer, 2-3 smoothing, 4 lowercase, 5 effective order,
# 6 sentence, 7 two references; order: bits 0-2 max order - 1, 3-4 smooth
# value, 5 weights.
seed corpus_13a_exp 13 3 $b/hyp.txt $b/ref1.txt
seed corpus_two_refs 141 3 $b/hyp.txt $b/ref1.txt $b/ref2.txt
seed sentence_intl_floor 70 11 $b/hyp.txt $b/ref1.txt
seed char_addk_lower 152 2 $b/hyp.txt $b/ref1.txt $b/ref2.txt
seed none_effective_weights 32 37 $b/hyp.txt $b/ref2.txt
seed sentence_none_smoothing 65 7 $b/ref1.txt $b/ref1.txt
printf '\001\003caf\303\251 \316\243\316\243 na\303\257ve\n\0CAF\303\211 \317\203\317\202 NA\303\217VE\n' >"$out/unicode_lower"
printf '\001\003ok\n\377\n\0ok\nok\n' >"$out/invalid_utf8"
printf '\001\003a\nb\n\0a\n' >"$out/line_count_mismatch"
