#!/usr/bin/env bash
# tools/research/bench-protect.sh on tiny settings (not a timing check): every run of every round happens,
# the raw figures are positive throughputs, and the table's bests, medians and ratios are the ones
# the raw rounds give.
# Environment (from CTest): SALM_ROOT, SALM_BUILD_DIR, SALM_TEST_WORK.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$SALM_TEST_WORK/bench-protect
rm -rf "$work" && mkdir -p "$work" && cd "$work"
ROWS=16 STEPS=1 BATCH=8 ROUNDS=2 ITERS=1 RAW=raw.tsv "$SALM_ROOT/tools/research/bench-protect.sh" small-cnn | tee table.md
python3 - <<'PY' || fail "table"
import statistics
raw = [l.split("\t") for l in open("raw.tsv").read().splitlines()]
assert len(raw) == 2 and all(len(r) == 7 and r[0] == "small-cnn" for r in raw), raw
v = [[float(x) for x in r[1:]] for r in raw]
assert all(x > 0 for r in v for x in r), v
rows = [l for l in open("table.md").read().splitlines() if l.startswith("| small-cnn")]
assert len(rows) == 1, rows
cells = [c.strip() for c in rows[0].strip("|").split("|")]
assert len(cells) == 10, cells
col = lambda i: [r[i] for r in v]  # p1 s11 s21 p2 s12 pair
def bm(i):
    return f"{max(col(i)):.1f} ({statistics.median(col(i)):.1f})"
pct = lambda x: f"{x:.0f}%"
assert cells[1] == bm(0) and cells[2] == bm(1) and cells[4] == bm(3), cells
assert cells[5] == bm(4) and cells[6] == bm(2) and cells[8] == bm(5), cells
ratio_med = statistics.median([r[1] / r[0] * 100 for r in v])
assert cells[3] == f"{pct(100 * max(col(1)) / max(col(0)))} ({pct(ratio_med)})", cells[3]
eff_med = statistics.median([r[2] / (2 * r[1]) * 100 for r in v])
assert cells[7] == f"{pct(100 * max(col(2)) / (2 * max(col(1))))} ({pct(eff_med)})", cells[7]
pair_med = statistics.median([r[2] / r[5] * 100 for r in v])
assert cells[9] == f"{pct(100 * max(col(2)) / max(col(5)))} ({pct(pair_med)})", cells[9]
PY
grep -q '16 images x 1 PGD steps x 1 iterations, batch 8, .* of 2 rounds' table.md || fail "heading: $(head -1 table.md)"
echo "bench-protect: ok"
