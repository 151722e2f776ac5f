#!/usr/bin/env bash
# Benchmark (not a test), issue 21 item 3: time to protection. For every dataset, method (SALM,
# EM), active set (off, on) and seed: the wall time of `salm protect` from start to its stop
# condition (the profile's: source train accuracy >= --stop-acc, or --max-iters), the work the
# active set left out, and the clean test accuracy of a victim trained on the protected rows;
# then one Markdown table of medians and ranges over the seeds, beside a clean victim.
#   tools/research/bench-time-to-protection.sh [DATA.h5 ...]
# Without arguments: the built-in data (synth --train 1000 --val 200 --test 500). With
# arguments: those datasets (e.g. the brain-MRI set of tools/research/brain-patches).
# Environment:
#   SALM_BIN (build/salm), RANKS (2), SEEDS ("0 1 2"),
#   PROFILE (configs/protect-small-cnn-strong.ini), METHODS ("salm em"),
#   ACTIVE (the active set's options, "--active-change 0.3": the rule chosen in docs/benchmarks.md),
#   VICTIM (the victim's evaluate options, "--model small-cnn --optimizer adam --epochs 8"),
#   KEEP (a folder to keep the reports in; default: a temporary one, removed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
salm=${SALM_BIN:-$root/build/salm}
ranks=${RANKS:-2}
seeds=${SEEDS:-"0 1 2"}
profile=${PROFILE:-$root/configs/protect-small-cnn-strong.ini}
methods=${METHODS:-"salm em"}
active=${ACTIVE:-"--active-change 0.3"}
victim=${VICTIM:-"--model small-cnn --optimizer adam --epochs 8"}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
[[ -x "$salm" ]] || { echo "bench-time-to-protection: $salm: no salm binary (tools/build.sh, or set SALM_BIN)" >&2; exit 2; }
[[ -r "$profile" ]] || { echo "bench-time-to-protection: $profile: cannot read the profile" >&2; exit 2; }
for d in "$@"; do [[ -r "$d" ]] || { echo "bench-time-to-protection: $d: cannot read" >&2; exit 2; }; done
if [[ -n "${KEEP:-}" ]]; then
  work=$KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
datasets=("$@")
if [[ ${#datasets[@]} -eq 0 ]]; then
  "$salm" synth --out "$work/builtin.h5" --train 1000 --val 200 --test 500 --overwrite --log-level warn
  datasets=("$work/builtin.h5")
fi
mpi=(mpirun -n "$ranks" "$salm")
for data in "${datasets[@]}"; do
  tag=$(basename "$data" .h5)
  for seed in $seeds; do
    # shellcheck disable=SC2086
    "${mpi[@]}" evaluate --data "$data" $victim --seed "$seed" --report "$work/$tag-clean-$seed.json" \
      --overwrite --log-level warn >/dev/null
    for method in $methods; do
      for a in off on; do
        opts=()
        [[ $a == on ]] && read -r -a opts <<<"$active"
        name="$tag-$method-$a-$seed"
        t0=$(date +%s.%N)
        "${mpi[@]}" protect --config "$profile" --method "$method" --data "$data" --seed "$seed" "${opts[@]}" \
          --out "$work/$name.h5" --report "$work/$name.protect.json" --no-checkpoint --overwrite --log-level warn >/dev/null
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "{\"wall_seconds\": %.3f}\n", b - a }' >"$work/$name.wall.json"
        # shellcheck disable=SC2086
        "${mpi[@]}" evaluate --data "$data" --noise "$work/$name.h5" $victim --seed "$seed" \
          --report "$work/$name.victim.json" --overwrite --log-level warn >/dev/null
        echo "bench-time-to-protection: $name done" >&2
      done
    done
  done
done
python3 - "$work" "$seeds" "$methods" "${datasets[@]}" <<'PY'
import json, os, statistics, sys
work, seeds, methods, datasets = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4:]
def load(name):
    with open(os.path.join(work, name)) as f:
        return json.load(f)
def acc(report):  # the victim's clean test accuracy
    return 100 * report["clean_test_accuracy"]
def spread(v, fmt):
    return f"{fmt(statistics.median(v))} ({fmt(min(v))}-{fmt(max(v))})" if len(v) > 1 else fmt(v[0])
print("| data | method | active set | time to stop, s | iterations | image-steps skipped | victim test acc. % | clean victim % |")
print("|---|---|---|---|---|---|---|---|")
for data in datasets:
    tag = os.path.basename(data)[:-3]
    clean = [acc(load(f"{tag}-clean-{s}.json")) for s in seeds]
    base = {}
    for m in methods:
        for a in ("off", "on"):
            runs = [(load(f"{tag}-{m}-{a}-{s}.wall.json"), load(f"{tag}-{m}-{a}-{s}.protect.json"),
                     load(f"{tag}-{m}-{a}-{s}.victim.json")) for s in seeds]
            wall = [w["wall_seconds"] for w, _, _ in runs]
            iters = [p["iterations"] for _, p, _ in runs]
            skip = [100 * p["noise_image_steps_skipped"] / max(1, p["noise_image_steps"] + p["noise_image_steps_skipped"])
                    for _, p, _ in runs]
            vic = [acc(v) for _, _, v in runs]
            speed = ""
            if a == "off":
                base[m] = statistics.median(wall)
            else:
                speed = f" ({base[m] / statistics.median(wall):.2f}x)"
            print(f"| {tag} | {m} | {a} | {spread(wall, lambda x: f'{x:.0f}')}{speed} | {spread(iters, lambda x: f'{x:g}')} | "
                  f"{spread(skip, lambda x: f'{x:.0f}%')} | {spread(vic, lambda x: f'{x:.1f}')} | {spread(clean, lambda x: f'{x:.1f}')} |")
PY
