#!/usr/bin/env bash
# Installs what salm needs on Debian 12 (idempotent). Run as root or with sudo available.
#   tools/setup.sh            build + run dependencies (apt)
#   SALM_TORCH=cuda ...       also the CUDA LibTorch: torch==2.11.0 from the Python package index into a
#                             venv outside the checkout (tools/torch-variant.sh; automatic where
#                             nvidia-smi sees a GPU)
#   SALM_SETUP_SLURM=1 ...    also slurm-wlm + munge (for the Slurm tests)
#   SALM_SETUP_TESTS=1 ...   also what the reliability tests use: clang + libFuzzer (tools/fuzz.sh) and
#                             numpy + h5py of Debian's Python (fuzz seeds, the malformed-input corpus)
#   SALM_SETUP_DATA=1 ...     also dataset-fashion-mnist (30 MB) and mricron-data (16 MB: a T1 brain MRI
#                             and the AAL atlas, for tools/research/brain-patches), for the effectiveness sweeps
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/torch-variant.sh"

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
if [[ "${SALM_SETUP_TESTS:-0}" == 1 ]]; then pkgs+=(clang libclang-rt-14-dev python3-numpy python3-h5py); fi
if [[ "${SALM_SETUP_DATA:-0}" == 1 ]]; then pkgs+=(dataset-fashion-mnist mricron-data); fi
if [[ "$SALM_TORCH" == cuda ]]; then pkgs+=(python3-venv); fi

# The CUDA LibTorch: the torch wheel in its own venv (pip, never into the system Python).
install_torch_wheel() {
  local py=$SALM_TORCH_VENV/bin/python
  if [[ -x "$py" ]] && "$py" -c "import sys, h5py, torch; sys.exit(torch.__version__.split('+')[0] != '$SALM_TORCH_VERSION')" 2>/dev/null; then
    echo "setup: torch $SALM_TORCH_VERSION present in $SALM_TORCH_VENV"
    return
  fi
  echo "setup: installing torch==$SALM_TORCH_VERSION (CUDA LibTorch, about 4.6 GB) into $SALM_TORCH_VENV"
  mkdir -p "$(dirname "$SALM_TORCH_VENV")"
  python3 -m venv "$SALM_TORCH_VENV"
  # h5py (and numpy) for tools/device_check.py, which reads noise files beside torch
  "$py" -m pip install --quiet --disable-pip-version-check "torch==$SALM_TORCH_VERSION" h5py
  "$py" -c "import torch; print('setup: torch', torch.__version__, 'CUDA', torch.version.cuda)"
}

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all Debian packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [[ "$SALM_TORCH" == cuda ]]; then
  install_torch_wheel
  cuda_root=${CUDAToolkit_ROOT:-/usr/local/cuda}
  [[ -x "$cuda_root/bin/nvcc" ]] || echo "setup: warning: no nvcc in $cuda_root: the CUDA variant needs the CUDA 13.0 toolkit there (or CUDAToolkit_ROOT)" >&2
fi
