#include "salm/eval/auc.hpp"

#include <torch/torch.h>

namespace salm::eval {
namespace {
constexpr std::int64_t kBins = 4096;
constexpr double kRange = 16.0;
}  // namespace

AucCounts::AucCounts(std::int64_t labels) : counts_(torch::zeros({labels, 2, kBins}, torch::kLong)) {}

void AucCounts::add(const at::Tensor& logits, const at::Tensor& y, bool multi_label) {
  if (counts_.device() != logits.device()) counts_ = counts_.to(logits.device());  // counted where the logits are
  at::Tensor logit, positive;
  if (multi_label) {
    logit = logits;
    positive = y > 0.5;
  } else {  // one vs rest: the log-odds of each class's softmax probability
    auto lp = torch::log_softmax(logits, 1);
    logit = lp - torch::log1p(-lp.exp().clamp_max(1 - 1e-7));
    positive = torch::one_hot(y, logits.size(1)).to(torch::kBool);
  }
  logit = torch::nan_to_num(logit, 0.0, kRange, -kRange);  // a diverged victim still gets a (poor) AUC
  auto bin = ((logit.clamp(-kRange, kRange) + kRange) / (2 * kRange) * (kBins - 1)).round().to(torch::kLong);
  auto label = torch::arange(logits.size(1), bin.options()).unsqueeze(0).expand_as(bin);
  auto flat = label * (2 * kBins) + positive.logical_not().to(torch::kLong) * kBins + bin;
  counts_.view({-1}).index_add_(0, flat.reshape({-1}), torch::ones({flat.numel()}, bin.options()));
}

void AucCounts::allreduce(dist::Communicator& comm) {
  std::vector<at::Tensor> t{counts_};
  comm.allreduce(t);
}

double AucCounts::mean() const {
  auto c = counts_.to(torch::kCPU).to(torch::kDouble);
  double sum = 0;
  int used = 0;
  for (std::int64_t l = 0; l < c.size(0); ++l) {
    auto pos = c[l][0], neg = c[l][1];
    double np = pos.sum().item<double>(), nn = neg.sum().item<double>();
    if (np == 0 || nn == 0) continue;
    auto below = neg.cumsum(0) - neg;  // negatives in lower bins
    sum += (pos * (below + 0.5 * neg)).sum().item<double>() / (np * nn);
    ++used;
  }
  return used ? sum / used : -1;
}

}  // namespace salm::eval
