/// The compute device of a job in LibTorch's terms: the choice of --device, the settings that make
/// its kernels deterministic, the precision of the source's and victims' arithmetic, and what the
/// runtime is (for `salm --version`). Works in both LibTorch variants: the CPU one sees no GPU.
#pragma once

#include <string>

#include <c10/core/Device.h>

#include "salm/core/device.hpp"
#include "salm/core/options.hpp"

namespace salm::models {

c10::Device to_torch(const Device& d);

/// CUDA devices LibTorch can use here (0 with the CPU variant or without a GPU).
int cuda_device_count();

/// --device: "auto" (the rank's GPU, local_rank modulo the visible GPUs, when CUDA is available;
/// else the CPU), "cpu", "cuda" (the rank's GPU, required) or "cuda:N". UsageError, in one line,
/// for a GPU asked for where none is visible, N beyond the visible GPUs, or another word.
Device resolve_device(const std::string& spec, int local_rank);

/// Makes `d` the current device of this thread and sets its kernels up once: deterministic
/// algorithms (cuDNN deterministic, no autotuning, CUBLAS_WORKSPACE_CONFIG=:4096:8), and TF32
/// allowed only with Precision::tf32. UsageError for tf32 or bf16 on the CPU (they would do
/// nothing there).
void configure_device(const Device& d, Precision precision);

/// Autocast to bfloat16 on CUDA for its scope when `precision` is bf16 (the forward and backward
/// of the source model and the victims); nothing otherwise.
class PrecisionScope {
public:
  PrecisionScope(const c10::Device& d, Precision precision);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

private:
  bool active_ = false;
};

/// "LibTorch 2.11.0 (CUDA 13.0, cuDNN 91900); devices: cpu, cuda:0 NVIDIA H200".
std::string runtime_description();

}  // namespace salm::models
