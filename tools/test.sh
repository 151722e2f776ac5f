#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through CTest. This is what CI runs (.ci/run).
#  1. The CPU variant (Debian's LibTorch, build/): every label: unit, e2e, mpi (mpirun -n 2), tools,
#     docs, effectiveness, and slurm against a single-node Slurm the tests start and stop
#     (Debian's slurm-wlm, installed here unless SALM_SETUP_SLURM=0; needs root).
#  2. The CUDA variant (the torch 2.11.0 wheel's LibTorch, build-cuda/): built (compile and link)
#     and tested with the labels unit, e2e, mpi and device, on whatever device is here (the CPU on
#     a machine without a GPU: --device auto falls back to it).
#   tools/test.sh [ctest options, e.g. -L mpi, -L slurm or -R Npz]   (passed to every variant)
# Environment: SALM_TEST_VARIANTS (default "cpu cuda"), SALM_TEST_JOBS (default 2).
set -euo pipefail
export SALM_SETUP_SLURM=${SALM_SETUP_SLURM:-1} SALM_SETUP_TESTS=${SALM_SETUP_TESTS:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
# mpirun refuses to run as root without these (CI runs as root); harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
all=$(date +%s)

for variant in ${SALM_TEST_VARIANTS:-cpu cuda}; do
  export SALM_TORCH=$variant
  source "$root/tools/torch-variant.sh"
  build=$(salm_default_build_dir "$root")
  labels=()
  if [[ "$variant" == cuda ]]; then
    if [[ ! -x "${CUDAToolkit_ROOT:-/usr/local/cuda}/bin/nvcc" ]]; then
      echo "tests: NOT testing the CUDA variant: no CUDA toolkit in ${CUDAToolkit_ROOT:-/usr/local/cuda}" >&2
      continue
    fi
    labels=(-L "unit|e2e|mpi|device")
  fi
  echo "== tests of the $variant variant ($build)"
  "$root/tools/setup.sh"
  # The benchmark binary too where the tools tests run (the CPU variant): the test of
  # tools/research/bench-protect.sh runs it on tiny settings.
  bench=ON
  [[ "$variant" == cuda ]] && bench=OFF
  SALM_BUILD_DIR=$build "$root/tools/build.sh" -DSALM_BUILD_BENCHMARKS=$bench
  start=$(date +%s)
  ctest --test-dir "$build" --output-on-failure --parallel "${SALM_TEST_JOBS:-2}" "${labels[@]}" "$@"
  echo "tests: the $variant variant done in $(( $(date +%s) - start )) s"
done
echo "tests: all done in $(( $(date +%s) - all )) s"
