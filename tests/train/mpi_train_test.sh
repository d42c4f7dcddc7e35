#!/usr/bin/env bash
# Runs the data-parallel tests under mpirun on this one machine: the gtest
# binary at 2 and 3 ranks, then rill_mpi end to end (train at 2 ranks,
# resume at 3 and in one process, a rank killed mid-run).
set -euo pipefail
test_bin=$(realpath "$1") rill_mpi=$(realpath "$2") rill=$(realpath "$3")
# Open MPI's session directory holds Unix sockets, whose paths must stay
# short: not under Bazel's long TEST_TMPDIR.
export TMPDIR=/tmp OMP_NUM_THREADS=1
# Under ./dev test --asan: Open MPI's own allocations outlive MPI_Finalize.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
# vader's single-copy (CMA) fails in containers; root needs the override.
mpi=(mpirun --oversubscribe --allow-run-as-root --mca btl self,vader
  --mca btl_vader_single_copy_mechanism none)

for n in 2 3; do
  echo "== $n ranks: mpi_train_test"
  timeout 300 "${mpi[@]}" -np "$n" "$test_bin"
done

work=$TEST_TMPDIR/cli
mkdir -p "$work"
examples=$PWD/examples/train
sed -e "s|^graph: \"|graph: \"$examples/|" -e "s|file: \"|file: \"$examples/|" \
  -e 's/^batch_size: .*/batch_size: 24/' -e 's/^steps: .*/steps: 40/' \
  -e 's/^eval_every: .*/eval_every: 20/' -e 's/warmup_steps: 50/warmup_steps: 5/' \
  -e 's/^checkpoint_every: .*/checkpoint_every: 20/' \
  -e 's/^log_every: .*/log_every: 20/' \
  "$examples/sine_mlp.train.pbtxt" >"$work/sine.pbtxt"
sed 's/^steps: .*/steps: 60/' "$work/sine.pbtxt" >"$work/sine60.pbtxt"
sed 's/^steps: .*/steps: 80/' "$work/sine.pbtxt" >"$work/sine80.pbtxt"
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== rill_mpi train at 2 ranks"
timeout 120 "${mpi[@]}" -np 2 "$rill_mpi" train sine.pbtxt -o out --threads 1 \
  >train.log 2>&1 || { cat train.log; fail "2-rank run"; }
# Rank 0 alone prints.
[ "$(grep -c '^training sine.pbtxt for 40 steps' train.log)" = 1 ] ||
  { cat train.log; fail "want one 'training' line"; }
[ -f out/ckpt-00000040.rckpt ] && [ "$(wc -l <out/metrics.csv)" = 41 ] ||
  fail "checkpoint or metrics.csv missing"

echo "== resumed at 3 ranks, then in one process"
timeout 120 "${mpi[@]}" -np 3 "$rill_mpi" train sine60.pbtxt -o out \
  --resume out --threads 1 >resume3.log 2>&1 || { cat resume3.log; fail "3-rank resume"; }
grep -q '^resumed from out at step 40' resume3.log || fail "no resume at 3"
[ "$(grep -c 'was saved by a run with another plan' resume3.log)" = 1 ] ||
  { cat resume3.log; fail "want the plan warning once, from rank 0"; }
timeout 120 "$rill" train sine80.pbtxt -o out --resume out --threads 1 \
  >resume1.log 2>&1 || { cat resume1.log; fail "1-process resume"; }
grep -q '^resumed from out at step 60' resume1.log || fail "no resume at 1"
[ "$(wc -l <out/metrics.csv)" = 81 ] || fail "metrics.csv rows"

echo "== a batch that does not divide"
sed 's/^batch_size: .*/batch_size: 25/' sine.pbtxt >odd.pbtxt
if timeout 60 "${mpi[@]}" -np 2 "$rill_mpi" train odd.pbtxt -o odd \
  --threads 1 >odd.log 2>&1; then fail "batch 25 at 2 ranks ran"; fi
grep -q 'batch_size: 25 is not a multiple of the 2 ranks' odd.log ||
  { cat odd.log; fail "no batch error"; }
[ ! -e odd/metrics.csv ] || fail "odd wrote metrics.csv"
echo "== kill -9 of one rank mid-run"
sed -e 's/^steps: .*/steps: 1000000/' -e 's/^checkpoint_every: .*/checkpoint_every: 50/' \
  sine.pbtxt >long.pbtxt
timeout 120 "${mpi[@]}" -np 2 "$rill_mpi" train long.pbtxt -o long \
  --threads 1 >long.log 2>&1 &
launcher=$!
# Any checkpoint: on a quiet machine the run writes thousands of steps a
# second and keeps only the newest three, so a given one may be gone when
# looked for.
for _ in $(seq 600); do
  compgen -G 'long/ckpt-*.rckpt' >/dev/null && break
  sleep 0.1
done
compgen -G 'long/ckpt-*.rckpt' >/dev/null ||
  { cat long.log; fail "no checkpoint within a minute"; }
# timeout runs mpirun, which runs the ranks: kill the newest rank.
victim=$(pgrep -P "$(pgrep -P "$launcher" -n)" -n)
[ -n "$victim" ] || fail "no rank found"
kill -9 "$victim"
killed_at=$(date +%s)
code=0
wait "$launcher" || code=$?
took=$(($(date +%s) - killed_at))
echo "the job ended $took s after the kill, exit code $code"
[ "$code" -ne 0 ] && [ "$code" -ne 124 ] || { cat long.log; fail "exit $code"; }
[ "$took" -le 10 ] || fail "took $took s to stop"
grep -q 'exited on signal 9' long.log || { cat long.log; fail "no message"; }
# The newest complete checkpoint resumes in one process.
timeout 120 "$rill" train sine.pbtxt -o long --resume long --threads 1 \
  >after.log 2>&1 || { cat after.log; fail "resume after the kill"; }
grep -q '^resumed from long at step' after.log || fail "no resume after kill"
echo "PASS"
