#include "salm/models/device.hpp"

#include <cstdlib>

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/DeviceGuard.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "salm/config.hpp"
#include "salm/core/error.hpp"

#if SALM_HAS_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace salm::models {

c10::Device to_torch(const Device& d) {
  return d.is_cuda() ? c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(d.index))
                     : c10::Device(c10::DeviceType::CPU);
}

int cuda_device_count() { return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

Device resolve_device(const std::string& spec, int local_rank) {
  const int gpus = cuda_device_count();
  const std::string none = SALM_HAS_TORCH_CUDA ? "no CUDA device is visible here"
                                               : "this salm is the CPU variant (Debian's LibTorch has no CUDA; build "
                                                 "with SALM_TORCH=cuda)";
  if (spec == "cpu") return Device::cpu();
  if (spec == "auto") return gpus > 0 ? Device::cuda(local_rank % gpus) : Device::cpu();
  if (spec == "cuda") {
    if (gpus == 0) throw UsageError(fmt::format("--device cuda: {}", none));
    return Device::cuda(local_rank % gpus);
  }
  if (spec.rfind("cuda:", 0) == 0) {
    const std::string n = spec.substr(5);
    char* end = nullptr;
    long i = n.empty() ? -1 : std::strtol(n.c_str(), &end, 10);
    if (n.empty() || *end != '\0' || i < 0) throw UsageError(fmt::format("--device {}: expected cuda:N with N >= 0", spec));
    if (gpus == 0) throw UsageError(fmt::format("--device {}: {}", spec, none));
    if (i >= gpus)
      throw UsageError(fmt::format("--device {}: only {} CUDA device{} visible (cuda:0{})", spec, gpus, gpus == 1 ? " is" : "s are",
                                   gpus > 1 ? fmt::format("..cuda:{}", gpus - 1) : ""));
    return Device::cuda(static_cast<int>(i));
  }
  throw UsageError(fmt::format("--device: unknown value '{}' (one of: auto, cpu, cuda, cuda:N)", spec));
}

void configure_device(const Device& d, Precision precision) {
  if (!d.is_cuda()) {
    if (precision != Precision::fp32)
      throw UsageError(fmt::format("--precision {} needs a CUDA device (the CPU computes in fp32)", opt::to_string(precision)));
    return;
  }
  // cuBLAS reads this when it creates its first handle: before any GPU work (a no-op if set).
  ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);
  c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(to_torch(d));
  auto& ctx = at::globalContext();
  ctx.setDeterministicCuDNN(true);
  ctx.setBenchmarkCuDNN(false);
  // Every kernel deterministic, or an error naming the one that is not: the same seed, ranks and
  // device type give the same noise file, bit for bit.
  ctx.setDeterministicAlgorithms(true, /*warn_only=*/false);
  const bool tf32 = precision == Precision::tf32;
  ctx.setAllowTF32CuBLAS(tf32);
  ctx.setAllowTF32CuDNN(tf32);
}

PrecisionScope::PrecisionScope(const c10::Device& d, Precision precision)
    : active_(d.is_cuda() && precision == Precision::bf16) {
  if (!active_) return;
#if TORCH_VERSION_MAJOR >= 2
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
  at::autocast::set_enabled(true);
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  at::autocast::increment_nesting();
}

PrecisionScope::~PrecisionScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR >= 2
  at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
  at::autocast::set_enabled(false);
#endif
}

std::string runtime_description() {
  std::string s = fmt::format("LibTorch {}.{}.{} ({} variant", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
                              TORCH_VERSION_PATCH, SALM_TORCH_VARIANT);
  std::string devices = "cpu";
#if SALM_HAS_TORCH_CUDA
  const auto& hooks = at::detail::getCUDAHooks();
  long rt = hooks.versionCUDART();
  s += fmt::format(", CUDA runtime {}.{}", rt / 1000, (rt % 1000) / 10);
  if (hooks.hasCuDNN()) s += fmt::format(", cuDNN {}", hooks.versionCuDNN());
  for (int i = 0; i < cuda_device_count(); ++i) {
    const auto* p = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(i));
    devices += fmt::format(", cuda:{} {} ({:.0f} GiB)", i, p->name, static_cast<double>(p->totalGlobalMem) / (1 << 30));
  }
#endif
  return s + "); devices: " + devices;
}

}  // namespace salm::models
