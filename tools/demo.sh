#!/usr/bin/env bash
# The main job on the embedded default data, from a bare Debian 12 machine:
# installs what is missing, builds (Release), then runs salm with 2 MPI ranks on the built-in
# synthetic sparse dataset. Outputs go to out/demo/ (replaced on every run of the demo).
#   tools/demo.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SALM_BUILD_DIR:-$root/build}
out=${SALM_DEMO_DIR:-$root/out/demo}
ranks=${SALM_DEMO_RANKS:-2}

"$root/tools/build.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
salm="$build/salm"
mpi=(mpirun -n "$ranks")
mkdir -p "$out"

echo "== 1. built-in dataset: salm synth (configs/demo.ini), $ranks ranks"
"${mpi[@]}" "$salm" synth --config "$root/configs/demo.ini" --out "$out/synth.h5" --overwrite
echo
echo "== 2. what it holds: salm inspect"
"${mpi[@]}" "$salm" inspect "$out/synth.h5"
echo
echo "demo: done. Files in $out"
