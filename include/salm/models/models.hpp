/// The source and victim models: ResNet-18/50 (CIFAR-style stem for small images, ImageNet stem
/// from 128 px), VGG-11 (batch-normalised), DenseNet-121, and a small CNN for tests, demos and
/// CPU runs. All take NCHW float images in [0,1] and return logits [N, num_classes].
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

namespace salm::models {

struct ModelSpec {
  std::string name = "resnet18";  ///< resnet18, resnet50, vgg11, densenet121, small-cnn
  std::int64_t channels = 3;
  std::int64_t image_size = 28;   ///< height = width
  std::int64_t num_classes = 10;
};

/// A classifier. Subclasses register their layers; forward maps images to logits.
class Net : public torch::nn::Module {
public:
  virtual at::Tensor forward(const at::Tensor& x) = 0;
};

/// Names accepted by make_model, in help order.
const std::vector<std::string>& model_names();

/// Builds a freshly initialised model. Initialisation draws from LibTorch's global generator:
/// seed it (torch::manual_seed) first for a reproducible model. Throws UsageError for an unknown
/// name (listing the known ones) or an image too small for the architecture.
std::shared_ptr<Net> make_model(const ModelSpec& spec);

/// Adaptive average pooling of NCHW `h` to out x out: LibTorch's kernel on the CPU; on a CUDA
/// device adaptive_avg_pool_linear (LibTorch's kernel has no deterministic CUDA backward).
at::Tensor adaptive_avg_pool(const at::Tensor& h, std::int64_t out);
/// The same averages as two matrix products (a mean for out = 1): deterministic on any device.
at::Tensor adaptive_avg_pool_linear(const at::Tensor& h, std::int64_t out);

/// Number of trainable parameters.
std::int64_t parameter_count(const torch::nn::Module& m);

}  // namespace salm::models
