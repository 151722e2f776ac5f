#!/usr/bin/env bash
# Effectiveness sweep: protect a dataset with several settings and train a victim of another
# architecture on each protected copy; prints one TSV row per setting (victim clean test accuracy).
# Not a test: it takes minutes per row on 2 CPU cores.
#
#   tools/research/sweep-protect.sh DATA OUTDIR 'NAME|protect options' ['NAME|protect options' ...]
# Environment: SALM_BIN (default build/salm), RANKS (2), VICTIM ("--model vgg11 --epochs 8 --optimizer adam"),
#              SOURCE ("--model small-cnn").
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
salm=${SALM_BIN:-$root/build/salm}
data=$1 out=$2
shift 2
ranks=${RANKS:-2}
victim=${VICTIM:---model vgg11 --epochs 8 --optimizer adam}
source_model=${SOURCE:---model small-cnn}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
run() { mpirun -n "$ranks" "$salm" "$@"; }
mkdir -p "$out"
json_get=$root/tools/json-get
acc() { "$json_get" --scale 100 --format .1f "$1" clean_test_accuracy best_test_accuracy; }
if [[ ! -f "$out/clean.json" ]]; then
  run evaluate --data "$data" $victim --report "$out/clean.json" --log-level warn
fi
printf 'setting\tvictim_final\tvictim_best\tprotect_train_acc\titerations\tprotect_seconds\n'
printf 'clean\t%s\t-\t-\t-\n' "$(acc "$out/clean.json")"
for spec in "$@"; do
  name=${spec%%|*} opts=${spec#*|}
  if [[ ! -f "$out/$name.noise.json" ]]; then
    run protect --data "$data" --out "$out/$name.h5" $source_model $opts --no-checkpoint --overwrite \
      --report "$out/$name.noise.json" --log-level warn
  fi
  if [[ ! -f "$out/$name.victim.json" ]]; then
    run evaluate --data "$data" --noise "$out/$name.h5" $victim --report "$out/$name.victim.json" --log-level warn
  fi
  p=$(printf '%s\t%s\t%s' "$("$json_get" --scale 100 --format .1f "$out/$name.noise.json" final_train_accuracy)" \
    "$("$json_get" "$out/$name.noise.json" iterations)" "$("$json_get" --format .0f "$out/$name.noise.json" seconds.total)")
  printf '%s\t%s\t%s\n' "$name" "$(acc "$out/$name.victim.json")" "$p"
done
