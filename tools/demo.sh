#!/usr/bin/env bash
# The main job on the embedded default data, from a bare Debian 12 machine: installs what is
# missing, builds (Release), then with 2 MPI ranks: generates the built-in synthetic sparse
# dataset, protects its training split with SALM, draws samples (original, noise, mask,
# protected), and trains a victim of another architecture on the clean and on the protected copy,
# with a plot of both learning curves. All settings are in configs/demo.ini. Outputs go to
# out/demo/ (the demo replaces its own files there on every run).
#   tools/demo.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SALM_BUILD_DIR:-$root/build}
out=${SALM_DEMO_DIR:-$root/out/demo}
ranks=${SALM_DEMO_RANKS:-2}
config=${SALM_DEMO_CONFIG:-$root/configs/demo.ini}

"$root/tools/setup.sh"
"$root/tools/build.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
salm="$build/salm"
mpi=(mpirun -n "$ranks")
mkdir -p "$out"
rm -rf "$out/noise.h5.ckpt"
start=$(date +%s)

echo "== 1/5 built-in dataset: salm synth ($ranks ranks)"
"${mpi[@]}" "$salm" synth --config "$config" --out "$out/synth.h5" --overwrite
"${mpi[@]}" "$salm" inspect "$out/synth.h5"
echo
echo "== 2/5 protect the training split: salm protect ($ranks ranks)"
"${mpi[@]}" "$salm" protect --config "$config" --data "$out/synth.h5" --out "$out/noise.h5" \
  --report "$out/protect.json" --overwrite
"${mpi[@]}" "$salm" inspect "$out/noise.h5" --similarity
echo
echo "== 3/5 what the protection looks like: salm visualize"
"$salm" visualize "$out/noise.h5" --out "$out/samples.png" --count 9 --overwrite
echo
echo "== 4/5 victim trained on the clean copy: salm evaluate"
"${mpi[@]}" "$salm" evaluate --config "$config" --data "$out/synth.h5" --report "$out/victim-clean.json" --overwrite
echo
echo "== 5/5 victim trained on the protected copy: salm evaluate --noise"
"${mpi[@]}" "$salm" evaluate --config "$config" --data "$out/synth.h5" --noise "$out/noise.h5" \
  --report "$out/victim-protected.json" --plot "$out/curves.png" --plot-with "$out/victim-clean.json" --overwrite
echo
python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
c = json.load(open(os.path.join(out, "victim-clean.json")))
p = json.load(open(os.path.join(out, "victim-protected.json")))
n = json.load(open(os.path.join(out, "protect.json")))
print(f"| victim {c['model']} trained on | clean test accuracy |")
print("|---|---|")
print(f"| clean data | {100*c['clean_test_accuracy']:.1f}% |")
print(f"| SALM-protected data (k={n['k']:g}%, eps={n['epsilon']:g}/255, source {n['model']}) | {100*p['clean_test_accuracy']:.1f}% |")
print(f"| chance | {100*c['chance_accuracy']:.1f}% |")
s = p.get("similarity", {})
if s: print(f"\nprotected vs clean images: SSIM mean {s['ssim_mean']:.3f} (min {s['ssim_min']:.3f}), PSNR mean {s['psnr_mean']:.1f} dB, {100*s['l0_density_mean']:.1f}% of pixels changed")
PY
echo
echo "demo: done in $(( $(date +%s) - start )) s. Files in $out: synth.h5 (data), noise.h5 (noise, masks, protected images), *.json (reports)"
echo "figures: $out/samples.png (original | noise | mask | protected), $out/curves.png (learning curves, clean vs protected)"
