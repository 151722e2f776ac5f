#!/usr/bin/env bash
# Benchmark (not a test): salm's EM against the public EM reference implementation, side by side,
# on the same data, model, batch and steps. Prints a Markdown table of the train-stage and
# noise-stage throughputs and their ratios (salm / reference; >= 1.0 means salm is as fast).
#
# The reference (Huang et al., ICLR 2021: https://github.com/HanxunH/Unlearnable-Examples) is a
# checkout outside this project, imported at run time by tools/research/em_reference_bench.py;
# none of its code is in salm. Get it once with
#   git clone https://github.com/HanxunH/Unlearnable-Examples /somewhere/outside
#
#   EM_REF=/path/to/Unlearnable-Examples tools/research/bench-em-reference.sh
# Both sides: one process with THREADS threads, the reference's CIFAR ResNet-18 and salm's
# resnet18 (the same architecture) on ROWS built-in 28x28x3 images, one outer iteration of
# TRAIN_STEPS train steps (batch BATCH, SGD lr 0.1) and PGD_STEPS noise steps of 0.8/255 on every
# row (eps 8/255). The runs alternate, ROUNDS times; each figure is the best round (interference
# only ever slows a run down) with the median in brackets.
# Environment: EM_REF (required), PYTHON (a Python with torch and numpy; default the torch 2.11.0
#   venv that tools/setup.sh makes for the CUDA variant, ~/.cache/salm/torch-2.11.0/bin/python),
#   SALM_BIN (build/salm), ROWS (512), TRAIN_STEPS (10), PGD_STEPS (20), BATCH (128), THREADS (2),
#   ROUNDS (3).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
salm=${SALM_BIN:-$root/build/salm}
py=${PYTHON:-$HOME/.cache/salm/torch-2.11.0/bin/python}
rows=${ROWS:-512} train=${TRAIN_STEPS:-10} pgd=${PGD_STEPS:-20} batch=${BATCH:-128} threads=${THREADS:-2}
rounds=${ROUNDS:-3}
die() { echo "bench-em-reference: $*" >&2; exit 2; }
[[ -n "${EM_REF:-}" ]] || die "set EM_REF to a checkout of https://github.com/HanxunH/Unlearnable-Examples (outside this project)"
[[ -f "$EM_REF/toolbox.py" && -f "$EM_REF/models/ResNet.py" ]] || die "$EM_REF: not a checkout of HanxunH/Unlearnable-Examples (no toolbox.py, models/ResNet.py)"
[[ -x "$py" ]] || die "$py: no Python with torch (SALM_TORCH=cuda tools/setup.sh installs one, or set PYTHON)"
[[ -x "$salm" ]] || die "$salm: no salm binary (tools/build.sh, or set SALM_BIN)"
for v in rows train pgd batch threads rounds; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "${v^^} must be a positive integer, got '${!v}'"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$salm" synth --out "$work/data.h5" --train "$rows" --val 0 --test 9 --log-level warn
# The same rows for the reference, as numpy arrays (Debian's h5py reads salm's file).
/usr/bin/python3 - "$work/data.h5" "$work/data.npz" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    np.savez(sys.argv[2], x=f["/train/images"][:], y=f["/train/labels"][:].astype(np.int64))
PY

ref() {
  "$py" "$root/tools/research/em_reference_bench.py" --ref "$EM_REF" --data "$work/data.npz" --train-steps "$train" \
    --pgd-steps "$pgd" --batch "$batch" --threads "$threads" >"$work/ref.json"
  echo "$("$root/tools/json-get" --format .1f "$work/ref.json" train_images_per_second) $("$root/tools/json-get" --format .1f "$work/ref.json" noise_images_per_second)"
}
mine() {
  "$salm" protect --data "$work/data.h5" --out "$work/n.h5" --method em --model resnet18 --init uniform \
    --train-steps "$train" --pgd-steps "$pgd" --step-size 0.8 --epsilon 8 --batch-size "$batch" --lr 0.1 \
    --max-iters 1 --stop-acc 0 --threads "$threads" --no-checkpoint --overwrite --report "$work/salm.json" --log-level warn
  echo "$("$root/tools/json-get" --format .1f "$work/salm.json" train_images_per_second) $("$root/tools/json-get" --format .1f "$work/salm.json" noise_images_per_second)"
}
: >"$work/rounds"
for ((r = 1; r <= rounds; r++)); do
  ref >"$work/r.txt" || die "the reference run failed (see above)"
  mine >"$work/s.txt" || die "the salm run failed (see above)"
  read -r rt rn <"$work/r.txt"
  read -r st sn <"$work/s.txt"
  echo "$rt $rn $st $sn" >>"$work/rounds"
  echo "bench-em-reference: round $r: reference train $rt, noise $rn; salm train $st, noise $sn" >&2
done
python3 - "$work/rounds" "$rows" "$train" "$pgd" "$batch" "$threads" "$("$root/tools/json-get" "$work/ref.json" torch)" <<'PY'
import statistics, sys
rounds = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
rows, train, pgd, batch, threads, torch = sys.argv[2:]
col = lambda i: [r[i] for r in rounds]
best = lambda i: max(col(i))
med = lambda i: statistics.median(col(i))
print(f"EM, ResNet-18 on {rows} images 28x28x3, batch {batch}, {train} train + {pgd} PGD steps, 1 process x {threads} "
      f"threads, best of {len(rounds)} rounds (median); reference on torch {torch}")
print()
print("| stage | reference | salm | salm / reference |")
print("|---|---|---|---|")
for name, i in (("train (images/s)", 0), ("noise (image-steps/s)", 1)):
    ratios = [r[i + 2] / r[i] for r in rounds]
    print(f"| {name} | {best(i):.1f} ({med(i):.1f}) | {best(i + 2):.1f} ({med(i + 2):.1f}) | "
          f"{best(i + 2) / best(i):.2f}x ({statistics.median(ratios):.2f}x) |")
PY
