#!/usr/bin/env bash
# The GPU check: one prepared run on a borrowed GPU machine (no apt, no internet, no MPI, no HDF5;
# Python torch 2.11.0+cu130 with its nvidia-* wheels, h5py). Never part of CI.
#
# Here (after SALM_TORCH=cuda tools/build.sh):
#   tools/device-check.sh pack [PACK]   copies build-cuda/salm and every shared library it needs that
#                                       the torch wheel does not bring (ldd; the loader and C library
#                                       too, so the binary runs on any glibc) into PACK (default
#                                       device-pack/, git-ignored; about 40 MiB)
# There (the device tool's run, carrying PACK):
#   tools/device-check.sh run [PACK]    at most about 8 minutes; prints and writes one JSON report,
#                                       $OUT/device-check.json (OUT: the device tool's folder, else PACK/out)
#   SALM_DEVICE_CHECK_CPU_ONLY=1 ...    the same stages on the CPU with tiny sizes and the local build
#                                       (SALM_BIN): how this script is tested without a GPU
# The stages: salm --version and nvidia-smi; a 1-rank GPU protect on built-in data with every
# noise-file guarantee checked; the same seed again, compared bit for bit; a stop and resume on the
# GPU, compared bit for bit; the same job on the CPU; the noise stage's throughput (ResNet-18,
# fp32 and bf16) against a plain PyTorch loop of the same model on the same GPU; a GPU evaluate;
# and, if time is left, one PathMNIST-size outer iteration (90,000 images, ResNet-18, 20 PGD + 10
# train steps, bf16). A stage that fails is recorded and the next one runs.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
pack=$(realpath -m "${2:-$root/device-pack}")

case "$mode" in
pack)
  bin=${SALM_BIN:-$root/build-cuda/salm}
  [[ -x "$bin" ]] || { echo "device-check: no $bin (SALM_TORCH=cuda tools/build.sh builds it)" >&2; exit 2; }
  rm -rf "$pack" && mkdir -p "$pack/lib"
  cp "$bin" "$pack/salm"
  # every library the loader resolves outside the torch wheel (which the GPU machine has)
  ldd "$bin" | awk '/=> \// {print $3} /^[ \t]*\/.*ld-linux/ {print $1}' | grep -v '/site-packages/' | sort -u |
    while read -r lib; do cp -L "$lib" "$pack/lib/"; done
  du -sh "$pack"
  echo "device-check: packed $(ls "$pack/lib" | wc -l) libraries; carry '${pack#$root/}' to the GPU machine"
  exit 0 ;;
run) ;;
*) echo "usage: tools/device-check.sh pack|run [PACK]" >&2; exit 2 ;;
esac

cpu_only=${SALM_DEVICE_CHECK_CPU_ONLY:-0}
out=${OUT:-$pack/out}
mkdir -p "$out/stages"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
budget=${SALM_DEVICE_CHECK_SECONDS:-480}
py=${SALM_DEVICE_CHECK_PYTHON:-python3}
check=("$py" "$root/tools/device_check.py")

if [[ "$cpu_only" == 1 ]]; then
  salm=("${SALM_BIN:-$root/build/salm}")
  dev=cpu rows=96 test_rows=48 big_rows=0 victim_epochs=1 bench_rows=64 plain_steps=3 plain_batch=64
else
  site=$("$py" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
  libs="$pack/lib:$site/torch/lib"
  for d in nccl cu13 cudnn cusparselt nvshmem; do [[ -d "$site/nvidia/$d/lib" ]] && libs+=":$site/nvidia/$d/lib"; done
  loader=$(ls "$pack"/lib/ld-linux-x86-64.so.* 2>/dev/null | head -1)
  salm=("$loader" --library-path "$libs" "$pack/salm")
  dev=cuda rows=4096 test_rows=1000 big_rows=90000 victim_epochs=3 bench_rows=8192 plain_steps=50 plain_batch=512
fi
export SALM_MPI=off   # one process, no MPI runtime needed

# stage NAME SECONDS CMD...: runs CMD with a timeout, records exit code, seconds and the last lines.
stage() {
  local name=$1 limit=$2
  shift 2
  local left=$(( budget - ($(date +%s) - start) ))
  if (( left < 10 )); then
    printf '{"stage": "%s", "skipped": "out of time"}\n' "$name" >"$out/stages/$name.json"
    echo "== $name: skipped (out of time)"
    return 1
  fi
  (( limit > left )) && limit=$left
  echo "== $name (at most ${limit} s)"
  local t0=$(date +%s%N)
  timeout "$limit" "$@" >"$out/stages/$name.log" 2>&1
  local rc=$?
  local secs=$(( ($(date +%s%N) - t0) / 1000000 ))
  local expect=${EXPECT:-0}
  tail -n 3 "$out/stages/$name.log"
  "$py" - "$name" "$rc" "$secs" "$out/stages/$name.log" "$expect" >"$out/stages/$name.json" <<'PY'
import json, sys
name, rc, ms, log, expect = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
lines = open(log, errors="replace").read().splitlines()
print(json.dumps({"stage": name, "exit_code": rc, "ok": rc == expect, "seconds": ms / 1000, "tail": lines[-5:]}))
PY
  [[ $rc == "$expect" ]]
}
# json STAGE CMD...: a stage whose stdout is one JSON object, kept as the stage's result.
json() {
  local name=$1
  shift
  stage "$name" 120 "$@" && tail -n 1 "$out/stages/$name.log" >"$out/stages/$name.result.json"
}

protect_args=(--model small-cnn --k 30 --lr 0.01 --train-steps 30 --pgd-steps 10 --step-size 1.6 --max-iters 3
              --stop-acc 0 --batch-size 128 --noise-batch-size 512 --mask-scope class --init class --seed 0)
stage version 60 "${salm[@]}" --version
[[ "$cpu_only" == 1 ]] || stage nvidia_smi 30 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
stage synth 120 "${salm[@]}" synth --out "$work/d.h5" --train "$rows" --val 0 --test "$test_rows" --seed 1
stage protect 180 "${salm[@]}" protect --device "$dev" --data "$work/d.h5" --out "$work/a.h5" --report "$out/protect.json" \
  --no-checkpoint "${protect_args[@]}"
json guarantees "${check[@]}" guarantees "$work/a.h5" "$work/d.h5"
stage rerun 180 "${salm[@]}" protect --device "$dev" --data "$work/d.h5" --out "$work/b.h5" --no-checkpoint "${protect_args[@]}"
json same_seed "${check[@]}" same "$work/a.h5" "$work/b.h5"
EXPECT=3 SALM_STOP_AFTER_STEPS=40 stage stop 180 "${salm[@]}" protect --device "$dev" --data "$work/d.h5" --out "$work/c.h5" "${protect_args[@]}"
stage resume 180 "${salm[@]}" protect --device "$dev" --data "$work/d.h5" --out "$work/c.h5" "${protect_args[@]}"
json resumed_same "${check[@]}" same "$work/a.h5" "$work/c.h5"
stage protect_cpu 180 "${salm[@]}" protect --device cpu --data "$work/d.h5" --out "$work/cpu.h5" --report "$out/protect-cpu.json" \
  --no-checkpoint "${protect_args[@]}"
# Throughput of the noise stage: ResNet-18, batch 512, salm vs a plain PyTorch loop of the same work.
stage synth_bench 120 "${salm[@]}" synth --out "$work/bench.h5" --train "$bench_rows" --val 0 --test 9 --seed 2
for prec in fp32 bf16; do
  [[ "$cpu_only" == 1 && "$prec" == bf16 ]] && continue
  stage "salm_noise_$prec" 150 "${salm[@]}" protect --device "$dev" --precision "$prec" --data "$work/bench.h5" \
    --out "$work/bench-$prec.h5" --report "$out/bench-$prec.json" --no-checkpoint --model resnet18 --max-iters 1 \
    --train-steps 1 --pgd-steps 5 --batch-size 128 --noise-batch-size 512 --stop-acc 0
  # (on the CPU: the 64 rows salm has, not 512, so that a busy CI machine stays far within the time)
  json "plain_noise_$prec" "${check[@]}" plain-loop --model resnet18 --batch "$plain_batch" --steps "$plain_steps" --device "$dev" \
    --precision "$prec"
done
stage evaluate 180 "${salm[@]}" evaluate --device "$dev" --data "$work/d.h5" --noise "$work/a.h5" --model resnet18 \
  --epochs "$victim_epochs" --batch-size 256 --report "$out/evaluate.json"
if (( big_rows > 0 )); then  # one outer iteration at PathMNIST's size, if the time allows
  stage synth_big 90 "${salm[@]}" synth --out "$work/big.h5" --train "$big_rows" --val 0 --test 9 --seed 3 &&
    stage pathmnist_iteration 150 "${salm[@]}" protect --device "$dev" --precision bf16 --data "$work/big.h5" \
      --out "$work/big-noise.h5" --report "$out/pathmnist-iteration.json" --no-checkpoint --model resnet18 \
      --max-iters 1 --train-steps 10 --pgd-steps 20 --batch-size 128 --noise-batch-size 1024 --stop-acc 0
fi

"$py" - "$out" "$(( $(date +%s) - start ))" "$cpu_only" <<'PY'
import glob, json, os, sys
out, seconds, cpu_only = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
report = {"seconds": seconds, "cpu_only": cpu_only, "stages": {}}
for f in sorted(glob.glob(os.path.join(out, "stages", "*.json"))):
    if f.endswith(".result.json"):
        continue
    s = json.load(open(f))
    r = f[:-5] + ".result.json"
    if os.path.exists(r):
        try:
            s["result"] = json.load(open(r))
        except ValueError:
            pass
    report["stages"][s["stage"]] = s
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else None
for key, name in [("protect", "protect.json"), ("protect_cpu", "protect-cpu.json"), ("evaluate", "evaluate.json"),
                  ("pathmnist_iteration", "pathmnist-iteration.json")]:
    j = load(name)
    if j:
        report[key] = {k: j.get(k) for k in ("seconds", "noise_images_per_second", "train_images_per_second",
                                             "final_train_accuracy", "clean_test_accuracy", "chance_accuracy", "device",
                                             "precision", "iterations") if k in j}
for prec in ("fp32", "bf16"):
    s, p = load(f"bench-{prec}.json"), report["stages"].get(f"plain_noise_{prec}", {}).get("result")
    if s and p:
        report[f"noise_stage_{prec}"] = {"salm_image_steps_per_second": s["noise_images_per_second"],
                                         "plain_pytorch_image_steps_per_second": p["image_steps_per_second"],
                                         "ratio": s["noise_images_per_second"] / p["image_steps_per_second"]}
version = report["stages"].get("version", {}).get("tail", [])
report["salm_version"] = version[-1] if version else None
report["ok"] = all(s.get("ok", False) for s in report["stages"].values() if "skipped" not in s) and all(
    report["stages"].get(k, {}).get("result", {}).get(v, False)
    for k, v in [("guarantees", "ok"), ("same_seed", "identical"), ("resumed_same", "identical")])
json.dump(report, open(os.path.join(out, "device-check.json"), "w"), indent=2)
print(json.dumps(report, indent=2))
print(f"device-check: {'all stages passed' if report['ok'] else 'SOME STAGES FAILED'}; {out}/device-check.json")
sys.exit(0 if report["ok"] else 1)
PY
