#include "salm/data/medmnist.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/data/npz.hpp"

namespace salm::data {
namespace {

std::string file_stem(const std::string& path) {
  auto slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  auto dot = base.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

class NpzDatasetReader final : public DatasetReader {
public:
  NpzDatasetReader(const std::string& path, const OpenOptions& opt) : DatasetReader(path), npz_(path) {
    std::vector<std::string> known;
    std::map<std::string, std::vector<std::int64_t>> labels;  // all labels: small, needed to validate
    std::int64_t max_label = -1;
    std::int64_t label_dim_seen = -1;
    for (const auto& split : split_names()) {
      std::string ik = split + "_images", lk = split + "_labels";
      bool hi = npz_.has(ik), hl = npz_.has(lk);
      known.push_back(ik);
      known.push_back(lk);
      if (!hi && !hl) continue;
      if (!hl) throw InputError(path, fmt::format("has {} but no {}", ik, lk));
      if (!hi) throw InputError(path, fmt::format("has {} but no {}", lk, ik));
      const NpyHeader& ih = npz_.header(ik);
      std::string iw = fmt::format("{} [{}]", path, ik);
      if (ih.descr != "|u1")
        throw InputError(iw, fmt::format("images have dtype {}; uint8 images are required", ih.dtype_name()));
      if (ih.fortran_order) throw InputError(iw, "Fortran-ordered arrays are not supported");
      SplitShape s;
      if (ih.shape.size() == 3) {
        s = {ih.shape[0], ih.shape[1], ih.shape[2], 1, 0};
      } else if (ih.shape.size() == 4 && (ih.shape[3] == 1 || ih.shape[3] == 3)) {
        s = {ih.shape[0], ih.shape[1], ih.shape[2], ih.shape[3], 0};
      } else {
        throw InputError(iw, fmt::format("images have shape {}; expected [N,H,W] or [N,H,W,3]", ih.shape_string()));
      }
      if (s.height <= 0 || s.width <= 0) throw InputError(iw, "images have an empty height or width");
      if (s.rows <= 0) throw InputError(iw, fmt::format("the {} split has no rows", split));
      const NpyHeader& lh = npz_.header(lk);
      std::string lw = fmt::format("{} [{}]", path, lk);
      if (lh.fortran_order && lh.shape.size() > 1 && lh.shape[1] > 1)
        throw InputError(lw, "Fortran-ordered arrays are not supported");
      if (lh.shape.empty() || lh.shape.size() > 2)
        throw InputError(lw, fmt::format("labels have shape {}; expected [N] or [N,L]", lh.shape_string()));
      if (lh.shape[0] != s.rows)
        throw InputError(lw, fmt::format("{} labels for {} images", lh.shape[0], s.rows));
      std::int64_t l = lh.shape.size() == 2 ? lh.shape[1] : 1;
      if (l < 1) throw InputError(lw, "labels have zero columns");
      if (label_dim_seen >= 0 && l != label_dim_seen)
        throw InputError(lw, fmt::format("{} labels per image, other splits have {}", l, label_dim_seen));
      label_dim_seen = l;
      auto raw = npz_.read_data(lk, 0, lh.count() * lh.itemsize());
      if (lh.kind() != 'i' && lh.kind() != 'u' && lh.kind() != 'b')
        throw InputError(lw, fmt::format("labels have dtype {}; integer labels are required", lh.dtype_name()));
      auto v = npy_to_int64(lh, raw.data(), lh.count(), lw);
      if (split == "train")  // the classes are those of the training split
        for (auto x : v) max_label = std::max(max_label, x);
      s.label_dim = l > 1 ? l : 0;
      labels[split] = std::move(v);
      add_split(split, s);
    }
    for (const auto& k : npz_.keys())
      if (std::find(known.begin(), known.end(), k) == known.end())
        spdlog::info("{}: ignoring array '{}' (not a MedMNIST split)", path, k);
    // A train split at least (a protected release may hold nothing else); a subcommand that needs
    // another split (evaluate's test) asks for it by name.
    require_splits({"train"});
    const SplitShape& first = shape(splits().front());
    for (const auto& split : splits())
      if (!shape(split).same_image_shape(first))
        throw InputError(path, fmt::format("split '{}' has images {}x{}x{} but '{}' has {}x{}x{}", split,
                                           shape(split).height, shape(split).width, shape(split).channels,
                                           splits().front(), first.height, first.width, first.channels));

    info_.name = opt.name.empty() ? file_stem(path) : opt.name;
    info_.source = path;
    if (label_dim_seen > 1) {
      info_.task = opt.task.value_or(Task::multi_label);
      info_.num_classes = opt.num_classes.value_or(label_dim_seen);
    } else {
      if (!opt.num_classes && max_label >= kMaxClasses)
        throw InputError(fmt::format("{} [train_labels]", path),
                         fmt::format("labels up to {} are not class ids (at most {} classes)", max_label, kMaxClasses));
      info_.num_classes = opt.num_classes.value_or(max_label + 1);
      info_.task = opt.task.value_or(info_.num_classes == 2 ? Task::binary_class : Task::multi_class);
    }
    if (info_.num_classes < 1) throw InputError(path, "labels are empty: cannot infer the number of classes");
    for (const auto& split : splits()) {
      std::string p = check_labels(labels[split], first.label_dim, info_.task, info_.num_classes,
                                   split + "_labels");
      if (!p.empty() && split != "train" && !opt.num_classes && info_.task != Task::multi_label)
        p += ": a class that never occurs in train_labels (pass --num-classes if it is real)";
      if (!p.empty()) throw InputError(path, p);
    }
    labels_ = std::move(labels);
  }

  SplitData read(const std::string& split, std::int64_t begin, std::int64_t count) override {
    SplitData d = blank_rows(split, begin, count);
    std::int64_t row_bytes = d.shape.image_elems();
    d.images = npz_.read_data(split + "_images", begin * row_bytes, count * row_bytes);
    d.labels = read_labels(split, begin, count);
    return d;
  }

  std::vector<std::int64_t> read_labels(const std::string& split, std::int64_t begin, std::int64_t count) override {
    check_range(split, begin, count);
    const auto& all = labels_.at(split);
    std::int64_t le = shape(split).label_elems();
    return {all.begin() + begin * le, all.begin() + (begin + count) * le};
  }

private:
  NpzArchive npz_;
  std::map<std::string, std::vector<std::int64_t>> labels_;
};

}  // namespace

std::unique_ptr<DatasetReader> open_medmnist_npz(const std::string& path, const OpenOptions& options) {
  return std::make_unique<NpzDatasetReader>(path, options);
}

}  // namespace salm::data
