#include "salm/models/training.hpp"

#include "salm/models/device.hpp"
#include "salm/models/models.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <numeric>

#include "salm/core/rng.hpp"

namespace salm::models {

at::Tensor task_loss(const at::Tensor& logits, const at::Tensor& y, bool multi_label, bool sum) {
  auto red = sum ? at::Reduction::Sum : at::Reduction::Mean;
  if (multi_label) {
    auto l = torch::binary_cross_entropy_with_logits(logits, y, {}, {}, red);
    return sum ? l / static_cast<double>(y.size(1)) : l;
  }
  if (logits.is_cuda()) {  // the same loss through deterministic kernels
    auto nll = -torch::log_softmax(logits.to(torch::kFloat), 1).gather(1, y.unsqueeze(1)).squeeze(1);
    return sum ? nll.sum() : nll.mean();
  }
  return at::cross_entropy_loss(logits, y, {}, red);
}

at::Tensor task_loss_rows(const at::Tensor& logits, const at::Tensor& y, bool multi_label) {
  if (multi_label) return torch::binary_cross_entropy_with_logits(logits, y, {}, {}, at::Reduction::None).mean(1);
  return -torch::log_softmax(logits.to(torch::kFloat), 1).gather(1, y.unsqueeze(1)).squeeze(1);
}

at::Tensor correct_tensor(const at::Tensor& logits, const at::Tensor& y, bool multi_label) {
  if (multi_label) return ((logits > 0).to(torch::kFloat) == y).to(torch::kFloat).mean(1).sum().to(torch::kDouble);
  return (logits.argmax(1) == y).sum().to(torch::kDouble);
}

double count_correct(const at::Tensor& logits, const at::Tensor& y, bool multi_label) {
  return correct_tensor(logits, y, multi_label).item<double>();
}

std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed, std::initializer_list<std::uint64_t> ids) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  Rng r(derive_seed(seed, ids));
  for (std::int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<std::int64_t>(r() % static_cast<std::uint64_t>(i + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

std::vector<std::int64_t> local_rows(const std::vector<std::int64_t>& global_rows, std::int64_t row_begin,
                                     std::int64_t n_local) {
  std::vector<std::int64_t> out;
  for (auto g : global_rows)
    if (g >= row_begin && g < row_begin + n_local) out.push_back(g - row_begin);
  std::sort(out.begin(), out.end());
  return out;
}

double allreduce_gradients(torch::nn::Module& model, dist::Communicator& comm) {
  std::vector<at::Tensor> bucket;
  for (auto& p : model.parameters()) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    bucket.push_back(p.grad());
  }
  std::vector<at::Tensor> buffers;
  if (comm.size() > 1)
    for (auto& b : model.buffers())
      if (b.is_floating_point()) buffers.push_back(b);
  bucket.insert(bucket.end(), buffers.begin(), buffers.end());
  auto t0 = std::chrono::steady_clock::now();
  comm.allreduce(bucket);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& b : buffers) b.div_(static_cast<double>(comm.size()));
  return s;
}

void broadcast_model(torch::nn::Module& model, dist::Communicator& comm, int root) {
  std::vector<at::Tensor> all;
  for (auto& p : model.parameters()) all.push_back(p.data());
  for (auto& b : model.buffers()) all.push_back(b);
  comm.broadcast(all, root);
}

StepResult data_parallel_step(Net& model, torch::optim::Optimizer& optimizer, const std::vector<std::int64_t>& batch,
                              std::int64_t row_begin, std::int64_t n_local,
                              const std::function<at::Tensor(const LocalRows& local)>& inputs, const at::Tensor& y,
                              bool multi_label, dist::Communicator& comm, Precision precision) {
  StepResult r;
  LocalRows local{local_rows(batch, row_begin, n_local), {}};
  model.train();
  optimizer.zero_grad();
  if (local.rows.size() >= 2 || (local.rows.size() == 1 && comm.size() == 1)) {
    local.index = torch::tensor(local.rows, torch::kLong).to(y.device());
    auto yb = y.index_select(0, local.index);
    at::Tensor logits, loss;
    {
      PrecisionScope amp(y.device(), precision);
      logits = model.forward(inputs(local));
      loss = task_loss(logits, yb, multi_label, true);
    }
    (loss / static_cast<double>(batch.size())).backward();
    r.loss_sum = loss.item<double>();
    r.correct = count_correct(logits.detach(), yb, multi_label);
    r.rows = static_cast<std::int64_t>(local.rows.size());
  }
  r.communication = allreduce_gradients(model, comm);
  optimizer.step();
  return r;
}

}  // namespace salm::models
