#!/usr/bin/env bash
# Installs what salm needs on Debian 12 (apt only; idempotent). Run as root or with sudo available.
#   tools/setup.sh            build + run dependencies
#   SALM_SETUP_SLURM=1 ...    also slurm-wlm + munge (for the Slurm tests)
#   SALM_SETUP_DATA=1 ...     also dataset-fashion-mnist (30 MB) and mricron-data (16 MB: a T1 brain MRI
#                             and the AAL atlas, for tools/research/brain-patches), for the effectiveness sweeps
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev                      # LibTorch 1.13 (CPU, oneDNN)
  libopenblas0-pthread              # Debian's default BLAS is the slow reference one
  openmpi-bin libopenmpi-dev        # Open MPI
  libhdf5-openmpi-dev hdf5-tools    # parallel HDF5 (+ h5dump/h5ls for users)
  libboost-program-options-dev      # CLI and INI config files
  libspdlog-dev libfmt-dev          # logging
  libzip-dev                        # MedMNIST .npz (zip) reading
  zlib1g-dev                        # gzipped IDX files (MNIST / Fashion-MNIST layout)
  libssl-dev                        # SHA-256 of input files (provenance in noise files)
  nlohmann-json3-dev                # JSON reports
  python3                           # the demo summary and the sweep/benchmark scripts read JSON reports
  libstb-dev                        # PNG figures
  libgtest-dev googletest           # tests
)
if [[ "${SALM_SETUP_SLURM:-0}" == 1 ]]; then pkgs+=(slurm-wlm munge); fi
if [[ "${SALM_SETUP_DATA:-0}" == 1 ]]; then pkgs+=(dataset-fashion-mnist mricron-data); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all dependencies present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
