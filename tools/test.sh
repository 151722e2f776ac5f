#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through CTest: the serial unit and
# end-to-end tests and the 2-rank MPI tests (mpirun -n 2). This is what CI runs (.ci/run).
# With Debian's slurm-wlm (installed here unless SALM_SETUP_SLURM=0) the Slurm tests run too,
# against a single-node Slurm that they start and stop (tools/local-slurm.sh; needs root).
#   tools/test.sh [ctest options, e.g. -L mpi, -L slurm or -R Npz]
set -euo pipefail
export SALM_SETUP_SLURM=${SALM_SETUP_SLURM:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SALM_BUILD_DIR:-$root/build}

"$root/tools/setup.sh"
# The benchmark binary too: the test of tools/research/bench-protect.sh runs it on tiny settings.
"$root/tools/build.sh" -DSALM_BUILD_BENCHMARKS=ON
# mpirun refuses to run as root without these (CI runs as root); harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
start=$(date +%s)
ctest --test-dir "$build" --output-on-failure --parallel "${SALM_TEST_JOBS:-2}" "$@"
echo "tests: done in $(( $(date +%s) - start )) s"
