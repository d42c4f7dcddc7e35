#!/usr/bin/env bash
# Checks rill against PyTorch from the command line (README, "Checking
# rill against PyTorch"): a bidirectional 2-layer LSTM over a
# variable-length batch, its outputs and every gradient autograd gives.
# Usage: examples/rnn/check_against_pytorch.sh PATH_TO_RILL [DIR]
set -euo pipefail
rill=$(realpath "${1:?usage: check_against_pytorch.sh PATH_TO_RILL [DIR]}")
cd "$(dirname "$0")"
dir=${2:-$(mktemp -d)}
python=/usr/bin/python3  # Debian's, with torch and numpy.
$python pytorch_lstm.py write "$dir"
"$rill" build lstm_bi2_lengths.pbtxt --weights "$dir/weights" \
  -o "$dir/lstm.pbtxt"
"$rill" grad "$dir/lstm.pbtxt" --loss output,h_n,c_n --seed_inputs \
  --wrt x,h0,c0 --wrt_params -o "$dir/lstm_grad.pbtxt"
"$rill" run "$dir/lstm_grad.pbtxt" -o "$dir/rill" \
  --feed x="$dir/x.npy" --feed h0="$dir/h0.npy" --feed c0="$dir/c0.npy" \
  --feed sequence_lengths="$dir/sequence_lengths.npy" \
  --feed output/grad/seed="$dir/seed_output.npy" \
  --feed h_n/grad/seed="$dir/seed_h_n.npy" \
  --feed c_n/grad/seed="$dir/seed_c_n.npy" >"$dir/run.log"
$python pytorch_lstm.py compare "$dir"
