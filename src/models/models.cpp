#include "salm/models/models.hpp"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <tuple>

#include "salm/core/error.hpp"

namespace salm::models {
namespace nn = torch::nn;
namespace {


nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride = 1, std::int64_t pad = -1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad < 0 ? k / 2 : pad).bias(false));
}

/// Two conv layers and a linear classifier: fast on CPU, for tests, demos and quick trials.
class SmallCnn : public Net {
public:
  explicit SmallCnn(const ModelSpec& s) {
    c1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(s.channels, 32, 3).padding(1)));
    b1 = register_module("bn1", nn::BatchNorm2d(32));
    c2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)));
    b2 = register_module("bn2", nn::BatchNorm2d(64));
    fc = register_module("fc", nn::Linear(64 * 4 * 4, s.num_classes));
  }
  at::Tensor forward(const at::Tensor& x) override {
    auto h = torch::max_pool2d(torch::relu(b1(c1(x))), 2);
    h = torch::max_pool2d(torch::relu(b2(c2(h))), 2);
    h = adaptive_avg_pool(h, 4);
    return fc(h.flatten(1));
  }
  nn::Conv2d c1{nullptr}, c2{nullptr};
  nn::BatchNorm2d b1{nullptr}, b2{nullptr};
  nn::Linear fc{nullptr};
};

class BasicBlock : public nn::Module {
public:
  static constexpr std::int64_t expansion = 1;
  BasicBlock(std::int64_t in, std::int64_t planes, std::int64_t stride) {
    c1 = register_module("conv1", conv(in, planes, 3, stride));
    b1 = register_module("bn1", nn::BatchNorm2d(planes));
    c2 = register_module("conv2", conv(planes, planes, 3));
    b2 = register_module("bn2", nn::BatchNorm2d(planes));
    if (stride != 1 || in != planes) {
      sc = register_module("shortcut", nn::Sequential(conv(in, planes, 1, stride, 0), nn::BatchNorm2d(planes)));
    }
  }
  at::Tensor forward(const at::Tensor& x) {
    auto h = torch::relu(b1(c1(x)));
    h = b2(c2(h));
    return torch::relu(h + (sc.is_empty() ? x : sc->forward(x)));
  }
  nn::Conv2d c1{nullptr}, c2{nullptr};
  nn::BatchNorm2d b1{nullptr}, b2{nullptr};
  nn::Sequential sc{nullptr};
};

class Bottleneck : public nn::Module {
public:
  static constexpr std::int64_t expansion = 4;
  Bottleneck(std::int64_t in, std::int64_t planes, std::int64_t stride) {
    c1 = register_module("conv1", conv(in, planes, 1, 1, 0));
    b1 = register_module("bn1", nn::BatchNorm2d(planes));
    c2 = register_module("conv2", conv(planes, planes, 3, stride));
    b2 = register_module("bn2", nn::BatchNorm2d(planes));
    c3 = register_module("conv3", conv(planes, planes * expansion, 1, 1, 0));
    b3 = register_module("bn3", nn::BatchNorm2d(planes * expansion));
    if (stride != 1 || in != planes * expansion)
      sc = register_module("shortcut", nn::Sequential(conv(in, planes * expansion, 1, stride, 0),
                                                      nn::BatchNorm2d(planes * expansion)));
  }
  at::Tensor forward(const at::Tensor& x) {
    auto h = torch::relu(b1(c1(x)));
    h = torch::relu(b2(c2(h)));
    h = b3(c3(h));
    return torch::relu(h + (sc.is_empty() ? x : sc->forward(x)));
  }
  nn::Conv2d c1{nullptr}, c2{nullptr}, c3{nullptr};
  nn::BatchNorm2d b1{nullptr}, b2{nullptr}, b3{nullptr};
  nn::Sequential sc{nullptr};
};

template <typename Block>
class ResNet : public Net {
public:
  ResNet(const ModelSpec& s, std::vector<int> layers) {
    imagenet_stem = s.image_size >= 128;
    stem = register_module("conv1", imagenet_stem ? conv(s.channels, 64, 7, 2, 3) : conv(s.channels, 64, 3));
    bn = register_module("bn1", nn::BatchNorm2d(64));
    std::int64_t in = 64;
    std::int64_t planes[4] = {64, 128, 256, 512};
    for (int l = 0; l < 4; ++l) {
      nn::Sequential seq;
      for (int b = 0; b < layers[static_cast<std::size_t>(l)]; ++b) {
        seq->push_back(std::make_shared<Block>(in, planes[l], b == 0 && l > 0 ? 2 : 1));
        in = planes[l] * Block::expansion;
      }
      stages.push_back(register_module(fmt::format("layer{}", l + 1), seq));
    }
    fc = register_module("fc", nn::Linear(in, s.num_classes));
  }
  at::Tensor forward(const at::Tensor& x) override {
    auto h = torch::relu(bn(stem(x)));
    if (imagenet_stem) h = torch::max_pool2d(h, 3, 2, 1);
    for (auto& st : stages) h = st->forward(h);
    return fc(adaptive_avg_pool(h, 1).flatten(1));
  }
  bool imagenet_stem = false;
  nn::Conv2d stem{nullptr};
  nn::BatchNorm2d bn{nullptr};
  std::vector<nn::Sequential> stages;
  nn::Linear fc{nullptr};
};

/// VGG-11 with batch norm; a max-pool is skipped once the feature map is 1 pixel (small images).
class Vgg11 : public Net {
public:
  explicit Vgg11(const ModelSpec& s) {
    const int cfg[] = {64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1};
    std::int64_t in = s.channels, spatial = s.image_size;
    for (int v : cfg) {
      if (v < 0) {
        if (spatial >= 2) {
          features->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
          spatial /= 2;
        }
      } else {
        features->push_back(nn::Conv2d(nn::Conv2dOptions(in, v, 3).padding(1)));
        features->push_back(nn::BatchNorm2d(v));
        features->push_back(nn::ReLU(nn::ReLUOptions(true)));
        in = v;
      }
    }
    register_module("features", features);
    fc = register_module("classifier", nn::Linear(512, s.num_classes));
  }
  at::Tensor forward(const at::Tensor& x) override {
    return fc(adaptive_avg_pool(features->forward(x), 1).flatten(1));
  }
  nn::Sequential features;
  nn::Linear fc{nullptr};
};

class DenseLayer : public nn::Module {
public:
  DenseLayer(std::int64_t in, std::int64_t growth) {
    b1 = register_module("norm1", nn::BatchNorm2d(in));
    c1 = register_module("conv1", conv(in, 4 * growth, 1, 1, 0));
    b2 = register_module("norm2", nn::BatchNorm2d(4 * growth));
    c2 = register_module("conv2", conv(4 * growth, growth, 3));
  }
  at::Tensor forward(const at::Tensor& x) {
    auto h = c1(torch::relu(b1(x)));
    h = c2(torch::relu(b2(h)));
    return torch::cat({x, h}, 1);
  }
  nn::BatchNorm2d b1{nullptr}, b2{nullptr};
  nn::Conv2d c1{nullptr}, c2{nullptr};
};

class Transition : public nn::Module {
public:
  Transition(std::int64_t in, std::int64_t out) {
    b = register_module("norm", nn::BatchNorm2d(in));
    c = register_module("conv", conv(in, out, 1, 1, 0));
  }
  at::Tensor forward(const at::Tensor& x) { return torch::avg_pool2d(c(torch::relu(b(x))), 2); }
  nn::BatchNorm2d b{nullptr};
  nn::Conv2d c{nullptr};
};

/// DenseNet-121 (growth 32, blocks 6-12-24-16); CIFAR-style stem below 128 px.
class DenseNet121 : public Net {
public:
  explicit DenseNet121(const ModelSpec& s) {
    const std::int64_t growth = 32;
    imagenet_stem = s.image_size >= 128;
    std::int64_t in = 2 * growth;
    stem = register_module("conv0", imagenet_stem ? conv(s.channels, in, 7, 2, 3) : conv(s.channels, in, 3));
    const int blocks[] = {6, 12, 24, 16};
    for (int bi = 0; bi < 4; ++bi) {
      for (int l = 0; l < blocks[bi]; ++l) {
        features->push_back(std::make_shared<DenseLayer>(in, growth));
        in += growth;
      }
      if (bi < 3) {
        features->push_back(std::make_shared<Transition>(in, in / 2));
        in /= 2;
      }
    }
    register_module("features", features);
    norm = register_module("norm5", nn::BatchNorm2d(in));
    fc = register_module("classifier", nn::Linear(in, s.num_classes));
  }
  at::Tensor forward(const at::Tensor& x) override {
    auto h = stem(x);
    if (imagenet_stem) h = torch::max_pool2d(h, 3, 2, 1);
    h = torch::relu(norm(features->forward(h)));
    return fc(adaptive_avg_pool(h, 1).flatten(1));
  }
  bool imagenet_stem = false;
  nn::Conv2d stem{nullptr};
  nn::Sequential features;
  nn::BatchNorm2d norm{nullptr};
  nn::Linear fc{nullptr};
};

}  // namespace

namespace {
/// The averaging matrix [out, in] of adaptive average pooling along one axis: row i averages the
/// inputs [floor(i*in/out), ceil((i+1)*in/out)), as LibTorch's kernel does. Made once per size
/// and device.
at::Tensor pooling_matrix(std::int64_t in, std::int64_t out, const at::TensorOptions& o) {
  thread_local std::map<std::tuple<std::int64_t, std::int64_t, std::string, int>, at::Tensor> cache;
  auto key = std::make_tuple(in, out, o.device().str(), static_cast<int>(o.dtype().toScalarType()));
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto m = torch::zeros({out, in}, torch::kDouble);
  for (std::int64_t i = 0; i < out; ++i) {
    std::int64_t a = i * in / out, b = ((i + 1) * in + out - 1) / out;
    m[i].narrow(0, a, b - a).fill_(1.0 / static_cast<double>(b - a));
  }
  return cache[key] = m.to(o);
}
}  // namespace

at::Tensor adaptive_avg_pool_linear(const at::Tensor& h, std::int64_t out) {
  if (out == 1) return h.mean({2, 3}, /*keepdim=*/true);
  auto ph = pooling_matrix(h.size(2), out, h.options()), pw = pooling_matrix(h.size(3), out, h.options());
  return torch::matmul(torch::matmul(ph, h), pw.t());
}

at::Tensor adaptive_avg_pool(const at::Tensor& h, std::int64_t out) {
  return h.is_cuda() ? adaptive_avg_pool_linear(h, out) : torch::adaptive_avg_pool2d(h, {out, out});
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names{"resnet18", "resnet50", "vgg11", "densenet121", "small-cnn"};
  return names;
}

std::shared_ptr<Net> make_model(const ModelSpec& s) {
  if (s.channels < 1 || s.num_classes < 1) throw UsageError("a model needs at least one channel and one class");
  std::int64_t min_size = s.name == "densenet121" ? 8 : 4;
  if (s.image_size < min_size)
    throw UsageError(fmt::format("images of {} px are too small for {}", s.image_size, s.name));
  if (s.name == "resnet18") return std::make_shared<ResNet<BasicBlock>>(s, std::vector<int>{2, 2, 2, 2});
  if (s.name == "resnet50") return std::make_shared<ResNet<Bottleneck>>(s, std::vector<int>{3, 4, 6, 3});
  if (s.name == "vgg11") return std::make_shared<Vgg11>(s);
  if (s.name == "densenet121") return std::make_shared<DenseNet121>(s);
  if (s.name == "small-cnn") return std::make_shared<SmallCnn>(s);
  throw UsageError(fmt::format("unknown model '{}' (known: {})", s.name, fmt::join(model_names(), ", ")));
}

std::int64_t parameter_count(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace salm::models
