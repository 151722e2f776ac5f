#!/usr/bin/env bash
# Benchmark of the noise stage of `salm protect` (not a test). On built-in data it measures, per
# model, the noise-stage throughput (image x PGD steps per second, all ranks) against a plain
# LibTorch loop of forward + input-gradient backward on the same model and batch (the roofline),
# and 1 rank x 2 threads against 2 ranks x 1 thread. Prints a Markdown table.
#
# 2-rank efficiency is given twice: against twice the 1-rank throughput (the issue's definition),
# and against two copies of the plain loop running at once, one per core (their throughputs
# summed): what this machine gives two busy cores, the most two ranks can reach on it. (On a VM
# whose two vCPUs share a physical core, or whose clock drops when both are busy, the first is
# below 100% for any program.) The plain loop runs as many image-steps as the salm run.
#
# A shared or virtual machine drifts by 10-40% between runs minutes apart (interference only ever
# slows a run down), so the runs are made in ROUNDS interleaved rounds (plain loop, salm 1x1,
# salm 2x1, plain 2 threads, salm 1x2, two plain loops at once). Each throughput is the best of
# its rounds (the run least disturbed, as timeit's minimum) with the median in brackets; the
# ratios are those of the bests, with the median of the per-round ratios (runs seconds apart).
#   tools/research/bench-protect.sh [models...]        (default: small-cnn resnet18)
# Environment: ROWS (images protected, default 512), STEPS (PGD steps, default 10), BATCH (128),
#              ITERS (outer iterations of each salm run, default 1),
#              ROUNDS (default 3), RAW (a file to append one TSV line per round to: model, plain
#              1x1, salm 1x1, salm 2x1, plain 1x2, salm 1x2, two plain loops at once).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SALM_BUILD_DIR:-$root/build}
models=("$@")
[[ $# -eq 0 ]] && models=(small-cnn resnet18)
rows=${ROWS:-512} steps=${STEPS:-10} batch=${BATCH:-128} rounds=${ROUNDS:-3} iters=${ITERS:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The plain loop is built only when asked (-DSALM_BUILD_BENCHMARKS=ON): ask now if it is missing.
if [[ ! -x "$build/salm_bench_pgd" ]]; then
  SALM_BUILD_DIR=$build "$root/tools/build.sh" -DSALM_BUILD_BENCHMARKS=ON >/dev/null
fi
"$build/salm" synth --out "$work/data.h5" --train "$rows" --val 0 --test 9 --log-level warn
json_get=$root/tools/json-get
field() { "$json_get" --format .1f "$1" "$2"; }
plain_steps=$(( rows * steps * iters / batch > 10 ? rows * steps * iters / batch : 10 ))
plain() {  # model threads [taskset cpu list]
  local pin=()
  [[ $# -gt 2 ]] && pin=(taskset -c "$3")
  "${pin[@]}" "$build/salm_bench_pgd" --model "$1" --batch "$batch" --steps "$plain_steps" --threads "$2" |
    "$json_get" - image_steps_per_second
}
plain_pair() {  # model: two 1-thread plain loops at once, one per core; their throughputs summed
  plain "$1" 1 0 >"$work/pair0" &
  local first=$!
  plain "$1" 1 $((1 % $(nproc))) >"$work/pair1"
  wait "$first"  # a bare `wait` returns 0 even when the background loop failed
  awk -v a="$(cat "$work/pair0")" -v b="$(cat "$work/pair1")" 'BEGIN { printf "%.1f\n", a + b }'
}
protect() {  # ranks threads model tag
  # mpirun binds each rank to one core by default: threads > 1 need --bind-to none.
  local bind=()
  [[ $2 -gt 1 ]] && bind=(--bind-to none)
  mpirun -n "$1" "${bind[@]}" "$build/salm" protect --data "$work/data.h5" --out "$work/$4.h5" --model "$3" --threads "$2" \
    --max-iters "$iters" --train-steps 1 --pgd-steps "$steps" --batch-size "$batch" --stop-acc 0 --no-checkpoint --overwrite \
    --report "$work/$4.json" --log-level warn
  field "$work/$4.json" noise_images_per_second
}
echo "# noise stage, ${rows} images x ${steps} PGD steps x ${iters} iterations, batch ${batch}, $(nproc) cores, best (median) of ${rounds} rounds ($(date -u +%F))"
echo
echo "| model | plain loop 1x1 | salm 1 rank x 1 thread | salm / plain | plain loop 1x2 | salm 1 rank x 2 threads | salm 2 ranks x 1 thread | 2-rank efficiency | plain loop, 2 processes x 1 | 2 ranks / 2 plain processes |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for m in "${models[@]}"; do
  : >"$work/rounds.tsv"
  for ((r = 0; r < rounds; ++r)); do
    p1=$(plain "$m" 1)
    s11=$(protect 1 1 "$m" "$m-1x1")
    s21=$(protect 2 1 "$m" "$m-2x1")
    p2=$(plain "$m" 2)
    s12=$(protect 1 2 "$m" "$m-1x2")
    pp=$(plain_pair "$m")
    echo "$p1 $s11 $s21 $p2 $s12 $pp" >>"$work/rounds.tsv"
    if [[ -n ${RAW:-} ]]; then printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$p1" "$s11" "$s21" "$p2" "$s12" "$pp" >>"$RAW"; fi
  done
  # One table row from the rounds: best (median) of each column; ratios of the bests (median of
  # the per-round ratios).
  python3 - "$m" "$work/rounds.tsv" <<'PY'
import statistics, sys
v = [[float(x) for x in l.split()] for l in open(sys.argv[2]) if l.strip()]
col = lambda i: [r[i] for r in v]
bm = lambda i: f"{max(col(i)):.1f} ({statistics.median(col(i)):.1f})"
def ratio(f):  # f(p1, s11, s21, p2, s12, pair) -> percentage
    best = f(*[max(col(i)) for i in range(6)])
    return f"{best:.0f}% ({statistics.median(f(*r) for r in v):.0f}%)"
salm_plain = ratio(lambda p1, s11, s21, p2, s12, pp: 100 * s11 / p1)
eff = ratio(lambda p1, s11, s21, p2, s12, pp: 100 * s21 / (2 * s11))
pair = ratio(lambda p1, s11, s21, p2, s12, pp: 100 * s21 / pp)
print(f"| {sys.argv[1]} | {bm(0)} | {bm(1)} | {salm_plain} | {bm(3)} | {bm(4)} | {bm(2)} | {eff} | {bm(5)} | {pair} |")
PY
done
