// The tiny protect setting of the in-process algorithm tests: a shard of the built-in generator and
// quick small-CNN options.
#pragma once

#include "salm/core/device.hpp"
#include "salm/core/options.hpp"
#include "salm/data/synth.hpp"
#include "salm/methods/protect.hpp"

namespace salm::test {

/// `rows` rows of 16x16x3, 3 classes, of the built-in generator, as this rank's whole shard on `device`.
inline methods::ShardTensors tiny_shard(std::int64_t rows = 32, const Device& device = Device::cpu()) {
  data::SynthOptions so;
  so.classes = 3;
  so.train = rows;
  so.size = 16;
  return methods::make_shard(data::synth_rows(so, "train", 0, rows), data::synth_info(so), rows, device);
}

/// A small-CNN source, one iteration of 2 train steps and 3 PGD steps, batch 16, no stop accuracy.
inline ProtectOptions tiny_options() {
  ProtectOptions o;
  o.model = "small-cnn";
  o.max_iters = 1;
  o.train_steps = 2;
  o.pgd_steps = 3;
  o.batch_size = 16;
  o.stop_acc = 0;
  o.lr = 0.01;
  return o;
}

}  // namespace salm::test
