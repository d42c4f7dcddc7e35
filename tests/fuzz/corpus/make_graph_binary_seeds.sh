#!/usr/bin/env bash
# Encodes the example graphs and the well-formed-text malformed cases as
# binary rill.Graph messages: the seed corpus of graph_binary_fuzzer.
# Run from the repository root: tests/fuzz/corpus/make_graph_binary_seeds.sh
set -euo pipefail
out=tests/fuzz/corpus/graph_binary
rm -f "$out"/*.pb
for f in examples/*.pbtxt tests/graph/testdata/malformed/*.pbtxt; do
  name=$(basename "$f" .pbtxt)
  # Files that are not valid text format (the parse-error cases) are skipped.
  protoc --encode=rill.Graph proto/graph.proto <"$f" >"$out/$name.pb" 2>/dev/null ||
    rm -f "$out/$name.pb"
done
ls "$out" | wc -l
