#!/usr/bin/env bash
# tools/research/bench-em-reference.sh without the reference (it lives outside the project and is
# not in CI): every missing piece is one line naming it and exit 2, before any work. Where
# EM_REF names a checkout (a developer's machine), one tiny round runs end to end and its table
# has both stages.
# Environment (from CTest): SALM_ROOT, SALM_BIN, SALM_TEST_WORK; optionally EM_REF.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$SALM_TEST_WORK/bench-em-reference
rm -rf "$work" && mkdir -p "$work" && cd "$work"
tool=$SALM_ROOT/tools/research/bench-em-reference.sh
expect_error() {  # expect_error PATTERN (environment set by the caller)
  if "$tool" >out.txt 2>err.txt; then fail "accepted"; fi
  grep -q -- "$1" err.txt || fail "no clear error, expected '$1': $(cat err.txt)"
  [[ $(wc -l <err.txt) -eq 1 ]] || fail "more than one line: $(cat err.txt)"
}
ref=${EM_REF:-}
EM_REF= expect_error "set EM_REF to a checkout of https://github.com/HanxunH/Unlearnable-Examples"
mkdir -p notref && EM_REF=$PWD/notref expect_error "notref: not a checkout of HanxunH/Unlearnable-Examples"
mkdir -p fake/models && touch fake/toolbox.py fake/models/ResNet.py
EM_REF=$PWD/fake PYTHON=$PWD/nopython expect_error "nopython: no Python with torch"
EM_REF=$PWD/fake PYTHON=/bin/true SALM_BIN=$PWD/nosalm expect_error "nosalm: no salm binary"
EM_REF=$PWD/fake PYTHON=/bin/true SALM_BIN=$SALM_BIN ROWS=0 expect_error "ROWS must be a positive integer, got '0'"
echo "ok: refusals"
if [[ -n "$ref" && -f "$ref/toolbox.py" ]]; then
  EM_REF=$ref SALM_BIN=$SALM_BIN ROWS=32 TRAIN_STEPS=1 PGD_STEPS=1 BATCH=16 THREADS=1 ROUNDS=1 "$tool" >table.md 2>log.txt
  grep -q "^| train (images/s) | " table.md && grep -q "^| noise (image-steps/s) | " table.md || fail "table: $(cat table.md)"
  echo "ok: one round against $ref"
fi
