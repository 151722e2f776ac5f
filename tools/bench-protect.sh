#!/usr/bin/env bash
# Benchmark of the noise stage of `salm protect` (not a test). On built-in data it measures, per
# model, the noise-stage throughput (image x PGD steps per second, all ranks) against a plain
# LibTorch loop of forward + input-gradient backward on the same model and batch (the roofline),
# and 1 rank x 2 threads against 2 ranks x 1 thread. Prints a Markdown table.
#   tools/bench-protect.sh [models...]        (default: small-cnn resnet18)
# Environment: ROWS (images protected, default 512), STEPS (PGD steps, default 10), BATCH (128).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SALM_BUILD_DIR:-$root/build}
models=("${@:-small-cnn resnet18}")
[[ $# -eq 0 ]] && models=(small-cnn resnet18)
rows=${ROWS:-512} steps=${STEPS:-10} batch=${BATCH:-128}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/salm" synth --out "$work/data.h5" --train "$rows" --val 0 --test 9 --log-level warn
field() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))[sys.argv[2]], 1))" "$1" "$2"; }
protect() {  # ranks threads model tag
  # mpirun binds each rank to one core by default: threads > 1 need --bind-to none.
  local bind=()
  [[ $2 -gt 1 ]] && bind=(--bind-to none)
  mpirun -n "$1" "${bind[@]}" "$build/salm" protect --data "$work/data.h5" --out "$work/$4.h5" --model "$3" --threads "$2" \
    --max-iters 1 --train-steps 1 --pgd-steps "$steps" --batch-size "$batch" --stop-acc 0 --no-checkpoint \
    --report "$work/$4.json" --log-level warn
  field "$work/$4.json" noise_images_per_second
}
echo "# noise stage, ${rows} images x ${steps} PGD steps, batch ${batch}, $(nproc) cores ($(date -u +%F))"
echo
echo "| model | plain loop 1x1 | salm 1 rank x 1 thread | ratio | plain loop 1x2 | salm 1 rank x 2 threads | salm 2 ranks x 1 thread | 2-rank efficiency |"
echo "|---|---|---|---|---|---|---|---|"
for m in "${models[@]}"; do
  plain1=$("$build/salm_bench_pgd" --model "$m" --batch "$batch" --steps "$steps" --threads 1 | python3 -c "import json,sys; print(json.load(sys.stdin)['image_steps_per_second'])")
  plain2=$("$build/salm_bench_pgd" --model "$m" --batch "$batch" --steps "$steps" --threads 2 | python3 -c "import json,sys; print(json.load(sys.stdin)['image_steps_per_second'])")
  s11=$(protect 1 1 "$m" "$m-1x1")
  s12=$(protect 1 2 "$m" "$m-1x2")
  s21=$(protect 2 1 "$m" "$m-2x1")
  ratio=$(python3 -c "print(f'{100*$s11/$plain1:.0f}%')")
  eff=$(python3 -c "print(f'{100*$s21/(2*$s11):.0f}%')")
  echo "| $m | $plain1 | $s11 | $ratio | $plain2 | $s12 | $s21 | $eff |"
done
