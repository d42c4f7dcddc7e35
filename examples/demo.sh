#!/usr/bin/env bash
# The main demo: check, draw and run the gated MLP example on both backends.
# Usage: examples/demo.sh PATH_TO_RILL
set -euo pipefail
rill=${1:?usage: examples/demo.sh PATH_TO_RILL}
cd "$(dirname "$0")/.."
out=$(mktemp -d)
echo "== rill check examples/gated_mlp.pbtxt"
"$rill" check examples/gated_mlp.pbtxt
echo
echo "== rill dot examples/gated_mlp.pbtxt (first lines)"
"$rill" dot examples/gated_mlp.pbtxt | head -n 5
echo
echo "== rill run on oneDNN, writing the outputs to $out"
"$rill" run examples/gated_mlp.pbtxt --feed x=examples/gated_mlp_x.npy --out "$out"
echo
echo "== the same on the reference backend"
"$rill" run examples/gated_mlp.pbtxt --feed x=examples/gated_mlp_x.npy --backend reference
echo
echo "Training (rill train) arrives with the training issue; this demo runs the"
echo "forward pass, which is what the foundation provides."
