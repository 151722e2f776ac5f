#!/usr/bin/env bash
# tools/research/bench-time-to-protection.sh's plumbing on tiny data (2 ranks, 2 seeds, SALM only):
# every run happens, the table has one row per active-set setting with its counts and medians,
# the active set's row says what it skipped, and bad input is refused in one line.
# Environment (from CTest): SALM_ROOT, SALM_BIN, SALM_TEST_WORK.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$SALM_TEST_WORK/bench-time-to-protection
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$SALM_BIN" synth --out tiny.h5 --train 48 --val 12 --test 24 --size 16 --classes 3 --log-level warn
cat >tiny.ini <<'INI'
[protect]
model = small-cnn
k = 30
max-iters = 2
train-steps = 2
pgd-steps = 6
step-size = 2
batch-size = 16
stop-acc = 0
INI
PROFILE=$PWD/tiny.ini SEEDS="0 1" METHODS=salm KEEP=$PWD/keep \
  ACTIVE="--active-change 0.3 --active-loss 1.05" VICTIM="--model small-cnn --epochs 1 --batch-size 16" \
  "$SALM_ROOT/tools/research/bench-time-to-protection.sh" tiny.h5 >table.md
cat table.md
[[ $(grep -c '^| tiny | salm |' table.md) == 2 ]] || fail "not one row per active-set setting"
# off: nothing skipped; on: something skipped, and a speed-up column; both: 2 iterations, victims
grep -E -q '^\| tiny \| salm \| off \| [0-9]+ \([0-9]+-[0-9]+\) \| 2 \(2-2\) \| 0% \(0%-0%\) \| [0-9.]+ \([0-9.]+-[0-9.]+\) \| [0-9.]+ \([0-9.]+-[0-9.]+\) \|$' table.md ||
  fail "the off row"
grep -E '^\| tiny \| salm \| on \|' table.md | grep -E -q '\([0-9.]+x\) \| 2 \(2-2\) \| [1-9][0-9]*% ' || fail "the on row"
for s in 0 1; do
  for a in off on; do [[ -s keep/tiny-salm-$a-$s.victim.json ]] || fail "no victim report for $a, seed $s"; done
done
"$SALM_ROOT/tools/research/bench-time-to-protection.sh" nofile.h5 2>err.txt && fail "ran on a missing file"
grep -q "nofile.h5: cannot read" err.txt || fail "no clear error: $(cat err.txt)"
echo "ok"
