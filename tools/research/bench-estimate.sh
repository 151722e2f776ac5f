#!/usr/bin/env bash
# Benchmark (not a test): how well `salm protect --estimate` predicts the run it calibrates on.
# For each case: the estimate, then the real run with the same options (--stop-acc 0, so that it
# runs every iteration the bound counts), and the ratio of the real stages' time (train + noise
# stage + source check + val checks, the run's own start-up excluded) to the prediction. Prints a
# Markdown table. Goal (issue 21): within 20%.
#   tools/research/bench-estimate.sh
# Environment: SALM_BIN (build/salm), RANKS (2), CASES (default: the three below; one per line:
#   "label|synth options|protect options").
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
salm=${SALM_BIN:-$root/build/salm}
ranks=${RANKS:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
[[ -x "$salm" ]] || { echo "bench-estimate: $salm: no salm binary (tools/build.sh, or set SALM_BIN)" >&2; exit 2; }
strong=$root/configs/protect-small-cnn-strong.ini
cases=${CASES:-"built-in 1000 rows, strong profile, 3 iterations|--train 1000 --val 200|--config $strong --max-iters 3
built-in 4000 rows, strong profile, 2 iterations|--train 4000 --val 200|--config $strong --max-iters 2
built-in 512 rows, ResNet-18 source, 1 iteration|--train 512 --val 100|--model resnet18 --train-steps 10 --pgd-steps 10 --max-iters 1
built-in 1000 rows, strong profile + closed loop, 2 iterations|--train 1000 --val 200|--config $strong --max-iters 2 --target-val-acc 0.01"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "| case | predicted | real | real / predicted | --time |"
echo "|---|---|---|---|---|"
# (mpirun reads standard input: each gets </dev/null, or the first would swallow the other cases.)
while IFS='|' read -r label synth opts; do
  [[ -n "$label" ]] || continue
  # shellcheck disable=SC2086
  "$salm" synth --out "$work/d.h5" --test 10 $synth --overwrite --log-level warn
  common=(--data "$work/d.h5" --out "$work/n.h5" --stop-acc 0 --no-checkpoint --overwrite --log-level warn)
  # shellcheck disable=SC2086
  mpirun -n "$ranks" "$salm" protect "${common[@]}" $opts --estimate --report "$work/e.json" </dev/null >/dev/null
  # shellcheck disable=SC2086
  mpirun -n "$ranks" "$salm" protect "${common[@]}" $opts --report "$work/r.json" </dev/null >/dev/null 2>&1 || true  # exit 4: target not met
  python3 - "$label" "$work/e.json" "$work/r.json" <<'PY'
import json, sys
label, e, r = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
s = r["seconds"]
pred = e["run_seconds"] - e["setup_seconds"]
real = s["train_stage"] + s["noise_stage"] + s["check"]
print(f"| {label} | {pred:.1f} s | {real:.1f} s | {real / pred:.2f} | {e['slurm_time']} |")
PY
done <<<"$cases"
