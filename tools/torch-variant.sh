# Sourced by tools/setup.sh, build.sh, test.sh and demo.sh: which LibTorch a build uses.
#   SALM_TORCH=cpu   Debian's libtorch-dev (LibTorch 1.13, CPU only): the default where no GPU is seen
#   SALM_TORCH=cuda  the official LibTorch inside the torch==2.11.0 wheel (CUDA 13.0), installed by
#                    tools/setup.sh into a venv outside the checkout: SALM_TORCH_VENV, default
#                    ~/.cache/salm/torch-2.11.0 (about 4.6 GB with its nvidia-* wheels)
#   SALM_TORCH=auto  (or unset) cuda where nvidia-smi sees a GPU, else cpu
# The CUDA variant builds into build-cuda/ (the CPU one into build/) and needs the CUDA 13.0 toolkit
# in /usr/local/cuda (or CUDAToolkit_ROOT).
SALM_TORCH_VERSION=2.11.0
SALM_TORCH_VENV=${SALM_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/salm/torch-$SALM_TORCH_VERSION}
case "${SALM_TORCH:-auto}" in
  cpu | cuda) ;;
  auto)
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then SALM_TORCH=cuda
    else SALM_TORCH=cpu; fi ;;
  *) echo "SALM_TORCH=${SALM_TORCH}: expected cpu, cuda or auto" >&2; exit 2 ;;
esac
export SALM_TORCH SALM_TORCH_VENV SALM_TORCH_VERSION
salm_default_build_dir() {  # root
  if [[ "$SALM_TORCH" == cuda ]]; then echo "$1/build-cuda"; else echo "$1/build"; fi
}
