#!/usr/bin/env bash
# Configures and builds salm (Release) in build/. It installs nothing: tools/setup.sh does that
# (tools/demo.sh and tools/test.sh run it first).
#   tools/build.sh [extra cmake -D options]
# Environment: SALM_BUILD_DIR (default build), SALM_JOBS (default: number of CPUs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SALM_BUILD_DIR:-$root/build}
jobs=${SALM_JOBS:-$(nproc)}

generator=()
if command -v ninja >/dev/null 2>&1 && [[ ! -f "$build/Makefile" ]]; then generator=(-G Ninja); fi
start=$(date +%s)
mkdir -p "$(dirname "$build")"
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log"
  echo "build: configuring failed; a missing package? run tools/setup.sh (it installs what salm needs)" >&2
  exit 1
}
cmake --build "$build" --parallel "$jobs"
echo "build: done in $(( $(date +%s) - start )) s ($build)"
