#!/usr/bin/env bash
# The main demo: train a small MLP from a text-proto config and watch the
# loss fall, then run the trained model on all the examples.
# Usage: examples/demo.sh PATH_TO_RILL
set -euo pipefail
rill=${1:?usage: examples/demo.sh PATH_TO_RILL}
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
config=examples/train/sine_mlp.train.pbtxt
echo "== rill check examples/train/sine_mlp.pbtxt"
"$rill" check examples/train/sine_mlp.pbtxt
echo
echo "== rill train $config -o $out"
echo "   (fits y = sin(2 x0) * cos(x1) + noise; see the config for the settings)"
"$rill" train "$config" -o "$out" | tee "$out/train.log"
echo
checkpoint=$(ls "$out"/ckpt-*.rckpt | tail -n 1)
echo "== rill run with the trained parameters ($checkpoint), on all 1024 examples"
"$rill" run examples/train/sine_mlp.pbtxt --params "$checkpoint" \
  --feed x=examples/train/sine_x.npy --feed target=examples/train/sine_y.npy
echo
# The demo's verdict: the validation loss must end well below where it
# started (about 0.46 before training; the noise floor is 0.0025).
threshold=0.02
val=$(sed -n 's/.*validation loss \([0-9.e+-]*\).*/\1/p' "$out/train.log" | tail -n 1)
if awk -v v="$val" -v t="$threshold" 'BEGIN { exit !(v < t) }'; then
  echo "final validation loss $val < threshold $threshold: OK"
else
  echo "final validation loss $val >= threshold $threshold: FAILED"
  exit 1
fi
