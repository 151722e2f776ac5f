#include "salm/eval/victim.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/core/rng.hpp"
#include "salm/data/tensors.hpp"
#include "salm/eval/auc.hpp"
#include "salm/models/device.hpp"
#include "salm/models/models.hpp"
#include "salm/models/training.hpp"

namespace salm::eval {


double chance_accuracy(const std::vector<std::int64_t>& counts, std::int64_t rows, bool multi_label) {
  if (rows <= 0 || counts.empty()) return 0;
  if (multi_label) {
    double s = 0;
    for (auto c : counts) s += static_cast<double>(std::max(c, rows - c)) / static_cast<double>(rows);
    return s / static_cast<double>(counts.size());
  }
  return static_cast<double>(*std::max_element(counts.begin(), counts.end())) / static_cast<double>(rows);
}

VictimResult train_victim(const VictimOptions& opt, const data::SplitData& train, std::int64_t total_train,
                          const data::SplitData& test, const data::DatasetInfo& info, dist::Communicator& comm,
                          const std::function<void(const EpochResult&)>& on_epoch, const Device& device) {
  opt.validate();
  const bool multi = info.task == data::Task::multi_label;
  auto t_start = std::chrono::steady_clock::now();
  const auto dev = models::to_torch(device);  // the rank's rows stay on the device for the whole run
  auto x = data::images_to_tensor(train).to(dev), y = data::labels_to_tensor(train, multi).to(dev);
  auto xt = data::images_to_tensor(test).to(dev), yt = data::labels_to_tensor(test, multi).to(dev);
  torch::manual_seed(derive_seed(opt.seed, {hash_name("victim")}));
  auto model = models::make_model({opt.model, train.shape.channels, train.shape.height, info.num_classes});
  model->to(dev);
  models::broadcast_model(*model, comm);  // the same initial model on every rank
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  if (opt.optimizer == Optimizer::adam)
    optimizer = std::make_unique<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(opt.learning_rate()));
  else
    optimizer = std::make_unique<torch::optim::SGD>(
        model->parameters(), torch::optim::SGDOptions(opt.learning_rate()).momentum(0.9).weight_decay(5e-4));
  const std::int64_t b = std::min(opt.batch_size, total_train);
  const std::int64_t steps = (total_train + b - 1) / b;
  VictimResult res;
  res.train_rows = total_train;
  res.test_rows = comm.allreduce_scalar(test.rows());
  for (int epoch = 0; epoch < opt.epochs; ++epoch) {
    auto e0 = std::chrono::steady_clock::now();
    // Cosine learning-rate schedule over the epochs.
    double lr = opt.learning_rate() * 0.5 * (1 + std::cos(M_PI * epoch / opt.epochs));
    for (auto& g : optimizer->param_groups()) {
      if (opt.optimizer == Optimizer::adam) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
      else static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
    }
    auto order = models::permutation(total_train, opt.seed, {hash_name("epoch"), static_cast<std::uint64_t>(epoch)});
    double sums[3] = {0, 0, 0};  // loss sum, correct, rows
    for (std::int64_t s = 0; s < steps; ++s) {
      std::vector<std::int64_t> batch(order.begin() + s * b, order.begin() + std::min(total_train, (s + 1) * b));
      auto r = models::data_parallel_step(
          *model, *optimizer, batch, train.row_begin, train.rows(),
          [&](const models::LocalRows& l) {
            auto xb = x.index_select(0, l.index);
            if (opt.augment != Augment::flip_crop) return xb;
            std::vector<std::int64_t> rows = l.rows;  // the global rows, for per-row draws
            for (auto& r : rows) r += train.row_begin;
            return data::flip_crop(xb, rows, derive_seed(opt.seed, {hash_name("augment"), static_cast<std::uint64_t>(epoch)}));
          },
          y, multi, comm, opt.precision);
      sums[0] += r.loss_sum;
      sums[1] += r.correct;
      sums[2] += static_cast<double>(r.rows);
    }
    // Clean test accuracy.
    model->eval();
    double tsum[2] = {0, 0};
    AucCounts auc(info.num_classes);
    {
      torch::NoGradGuard ng;
      models::PrecisionScope amp(dev, opt.precision);
      auto correct = torch::zeros({}, xt.options().dtype(torch::kDouble));
      for (std::int64_t i = 0; i < xt.size(0); i += 256) {
        auto len = std::min<std::int64_t>(256, xt.size(0) - i);
        auto logits = model->forward(xt.narrow(0, i, len)).to(torch::kFloat);
        correct += models::correct_tensor(logits, yt.narrow(0, i, len), multi);
        auc.add(logits, yt.narrow(0, i, len), multi);
      }
      tsum[0] = correct.item<double>();
      tsum[1] = static_cast<double>(xt.size(0));
    }
    comm.allreduce(sums, 3);
    comm.allreduce(tsum, 2);
    auc.allreduce(comm);
    EpochResult er;
    er.epoch = epoch + 1;
    er.train_loss = sums[2] > 0 ? sums[0] / sums[2] : 0;
    er.train_accuracy = sums[2] > 0 ? sums[1] / sums[2] : 0;
    er.test_accuracy = tsum[1] > 0 ? tsum[0] / tsum[1] : 0;
    er.test_auc = auc.mean();
    er.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
    res.curve.push_back(er);
    res.best_test_accuracy = std::max(res.best_test_accuracy, er.test_accuracy);
    if (on_epoch) on_epoch(er);
  }
  res.final_test_accuracy = res.curve.back().test_accuracy;
  res.final_test_auc = res.curve.back().test_auc;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return res;
}

}  // namespace salm::eval
