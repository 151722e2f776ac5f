#!/usr/bin/env bash
# Installs what is missing (tools/setup.sh), configures and builds salm (Release) in build/.
#   tools/build.sh [extra cmake -D options]
# Environment: SALM_BUILD_DIR (default build), SALM_JOBS (default: number of CPUs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SALM_BUILD_DIR:-$root/build}
jobs=${SALM_JOBS:-$(nproc)}

"$root/tools/setup.sh"
generator=()
if command -v ninja >/dev/null 2>&1 && [[ ! -f "$build/Makefile" ]]; then generator=(-G Ninja); fi
start=$(date +%s)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >"$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" --parallel "$jobs"
echo "build: done in $(( $(date +%s) - start )) s ($build)"
