#!/usr/bin/env bash
# Configures and builds salm (Release). It installs nothing: tools/setup.sh does that
# (tools/demo.sh and tools/test.sh run it first).
#   tools/build.sh [extra cmake -D options]
#   SALM_TORCH=cuda tools/build.sh     the CUDA variant (torch 2.11.0's LibTorch) into build-cuda/
# Environment: SALM_TORCH (tools/torch-variant.sh), SALM_BUILD_DIR (default build/ or build-cuda/),
# SALM_JOBS (default: number of CPUs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/torch-variant.sh"
build=${SALM_BUILD_DIR:-$(salm_default_build_dir "$root")}
jobs=${SALM_JOBS:-$(nproc)}

torch=(-DSALM_TORCH="$SALM_TORCH")
if [[ "$SALM_TORCH" == cuda ]]; then
  [[ -x "$SALM_TORCH_VENV/bin/python" ]] || {
    echo "build: no torch venv at $SALM_TORCH_VENV; run SALM_TORCH=cuda tools/setup.sh" >&2
    exit 1
  }
  torch+=(-DSALM_TORCH_PYTHON="$SALM_TORCH_VENV/bin/python")
fi
generator=()
if command -v ninja >/dev/null 2>&1 && [[ ! -f "$build/Makefile" ]]; then generator=(-G Ninja); fi
start=$(date +%s)
mkdir -p "$(dirname "$build")"
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${torch[@]}" "$@" >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log"
  echo "build: configuring failed; a missing package? run tools/setup.sh (it installs what salm needs)" >&2
  exit 1
}
cmake --build "$build" --parallel "$jobs"
echo "build: done in $(( $(date +%s) - start )) s ($build, LibTorch $SALM_TORCH)"
