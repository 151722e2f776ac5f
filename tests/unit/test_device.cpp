// The compute device in-process: --device's resolution and errors, the deterministic kernels that
// stand in for LibTorch's nondeterministic CUDA ones, and the algorithm on every device visible
// here (the CPU always; CUDA devices where a GPU is visible).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "salm/core/error.hpp"
#include "salm/methods/protect.hpp"
#include "salm/models/device.hpp"
#include "salm/models/models.hpp"
#include "salm/models/training.hpp"
#include "salm/dist/communicator.hpp"
#include "tiny_protect.hpp"

using namespace salm;

namespace {

/// The devices to run on: the CPU, and cuda:0 where a GPU is visible.
std::vector<Device> devices() {
  std::vector<Device> d{Device::cpu()};
  if (models::cuda_device_count() > 0) d.push_back(Device::cuda(0));
  return d;
}

}  // namespace

TEST(Device, ResolutionAndItsErrors) {
  const int gpus = models::cuda_device_count();
  EXPECT_EQ(models::resolve_device("cpu", 3), Device::cpu());
  EXPECT_EQ(models::resolve_device("auto", 3), gpus > 0 ? Device::cuda(3 % gpus) : Device::cpu());
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:1x", "CPU"}) EXPECT_THROW(models::resolve_device(bad, 0), UsageError) << bad;
  EXPECT_THROW(models::resolve_device(fmt::format("cuda:{}", gpus), 0), UsageError);
  if (gpus == 0) {
    try {
      models::resolve_device("cuda", 0);
      FAIL() << "--device cuda accepted without a GPU";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--device cuda"), std::string::npos) << e.what();
    }
  } else {
    EXPECT_EQ(models::resolve_device("cuda", 1), Device::cuda(1 % gpus));
  }
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_THROW(models::configure_device(Device::cpu(), Precision::bf16), UsageError);
  EXPECT_THROW(models::configure_device(Device::cpu(), Precision::tf32), UsageError);
  EXPECT_NO_THROW(models::configure_device(Device::cpu(), Precision::fp32));
  EXPECT_NE(models::runtime_description().find("LibTorch"), std::string::npos);
}

TEST(Device, LinearAdaptivePoolingIsLibTorchsAverage) {
  torch::manual_seed(0);
  for (auto [in, out] : std::vector<std::pair<int, int>>{{7, 4}, {28, 4}, {5, 1}, {4, 4}, {9, 2}}) {
    auto h = torch::rand({2, 3, in, in}, torch::kDouble);
    EXPECT_TRUE(torch::allclose(models::adaptive_avg_pool_linear(h, out), torch::adaptive_avg_pool2d(h, {out, out}), 1e-12,
                                1e-12))
        << in << " -> " << out;
  }
}

TEST(Device, TheAlgorithmKeepsItsGuaranteesOnEveryDevice) {
  auto opt = test::tiny_options();
  opt.batch_size = 8;
  opt.mask_scope = MaskScope::klass;
  opt.init = Init::texture;
  for (const auto& d : devices()) {
    SCOPED_TRACE(d.str());
    models::configure_device(d, Precision::fp32);
    auto s = test::tiny_shard(24, d);
    ASSERT_EQ(s.x.device(), models::to_torch(d));
    dist::SelfCommunicator comm;
    auto model = methods::make_source_model(opt, s);
    EXPECT_EQ(model->parameters()[0].device(), models::to_torch(d));
    auto r = methods::run_method(opt, s, model, comm, std::nullopt, {}, {});
    const auto& st = r.state;
    EXPECT_EQ(st.delta.device(), models::to_torch(d));
    auto m = opt.mask_pixels(16 * 16);
    EXPECT_TRUE(torch::equal(st.mask.flatten(1).sum(1).to(torch::kLong).cpu(), torch::full({24}, m, torch::kLong)));
    EXPECT_LE(st.delta.abs().max().item<float>(), static_cast<float>(opt.epsilon) + 1e-7f);
    auto out = methods::noise_rows(s, st);  // io's boundary: host tensors
    EXPECT_TRUE(out.delta.is_cpu() && out.mask.is_cpu() && out.protected_.is_cpu());
    // A second run with the same seed on the same device type is bit-identical.
    auto again = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
    EXPECT_TRUE(torch::equal(again.state.delta, st.delta));
    // The loss: the same values through the CUDA path's kernels.
    auto logits = torch::randn({5, 3}, s.x.options()), y = torch::tensor({0, 2, 1, 1, 0}, s.y.options());
    EXPECT_NEAR(models::task_loss(logits, y, false, true).item<double>(),
                at::cross_entropy_loss(logits.cpu(), y.cpu(), {}, at::Reduction::Sum).item<double>(), 1e-4);
  }
}
