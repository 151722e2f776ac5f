#!/usr/bin/env bash
# tools/research/bench-estimate.sh's plumbing on two tiny cases (2 ranks): the estimate and the real
# run happen and each case's table row holds both and their ratio (not its timings). Two cases:
# mpirun reads its standard input, which once swallowed every case after the first.
# Environment (from CTest): SALM_ROOT, SALM_BIN, SALM_TEST_WORK.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$SALM_TEST_WORK/bench-estimate
rm -rf "$work" && mkdir -p "$work" && cd "$work"
CASES="tiny|--train 48 --val 12 --size 16 --classes 3|--model small-cnn --max-iters 2 --train-steps 2 --pgd-steps 2 --batch-size 16
tiny em|--train 32 --val 12 --size 16 --classes 3|--method em --model small-cnn --max-iters 1 --train-steps 2 --pgd-steps 2 --batch-size 16" \
  "$SALM_ROOT/tools/research/bench-estimate.sh" >table.md
cat table.md
for c in "tiny" "tiny em"; do
  grep -E -q "^\| $c \| [0-9.]+ s \| [0-9.]+ s \| [0-9.]+ \| 00:0[0-9]:00 \|\$" table.md || fail "no row for the case '$c'"
done
SALM_BIN=$PWD/nosalm "$SALM_ROOT/tools/research/bench-estimate.sh" 2>err.txt && fail "ran without a binary"
grep -q "nosalm: no salm binary" err.txt || fail "no clear error: $(cat err.txt)"
echo "ok"
