#include "salm/data/tensors.hpp"

#include <torch/torch.h>

#include "salm/core/rng.hpp"

namespace salm::data {

at::Tensor images_to_tensor(const SplitData& rows) {
  const auto& s = rows.shape;
  auto t = torch::from_blob(const_cast<std::uint8_t*>(rows.images.data()), {rows.rows(), s.height, s.width, s.channels},
                            torch::kUInt8);
  return t.permute({0, 3, 1, 2}).to(torch::kFloat).div_(255.0).contiguous();
}

at::Tensor labels_to_tensor(const SplitData& rows, bool multi_label) {
  auto l = torch::tensor(rows.labels, torch::kLong);
  return multi_label ? l.view({rows.rows(), rows.shape.label_dim}).to(torch::kFloat) : l;
}

at::Tensor flip_crop(const at::Tensor& x, const std::vector<std::int64_t>& rows, std::uint64_t seed) {
  const std::int64_t pad = 2, h = x.size(2), w = x.size(3);
  auto padded = torch::constant_pad_nd(x, {pad, pad, pad, pad}, 0);
  std::vector<at::Tensor> out;
  out.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Rng r(derive_seed(seed, {static_cast<std::uint64_t>(rows[i])}));
    auto oy = static_cast<std::int64_t>(r() % (2 * pad + 1)), ox = static_cast<std::int64_t>(r() % (2 * pad + 1));
    auto xi = padded[static_cast<std::int64_t>(i)].narrow(1, oy, h).narrow(2, ox, w);
    if (r() & 1) xi = xi.flip({2});
    out.push_back(xi);
  }
  return torch::stack(out);
}

}  // namespace salm::data
