// The roofline of the noise stage: a plain LibTorch loop of forward + input-gradient backward on
// the same model and batch as `salm protect` (parameters frozen, eval mode), without masks,
// projection, I/O or communication, with salm's allocator settings (salm::keep_freed_memory).
// Prints image-steps per second, one JSON line.
//   salm_bench_pgd --model small-cnn --batch 128 --size 28 --channels 3 --classes 9 --steps 50 --threads 1
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "salm/core/system.hpp"
#include "salm/models/models.hpp"

int main(int argc, char** argv) {
  salm::keep_freed_memory();  // the same allocator settings as salm: a fair roofline
  std::string model = "small-cnn";
  long batch = 128, size = 28, channels = 3, classes = 9, steps = 50, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--model") model = argv[i + 1];
    else if (k == "--batch") batch = std::atol(argv[i + 1]);
    else if (k == "--size") size = std::atol(argv[i + 1]);
    else if (k == "--channels") channels = std::atol(argv[i + 1]);
    else if (k == "--classes") classes = std::atol(argv[i + 1]);
    else if (k == "--steps") steps = std::atol(argv[i + 1]);
    else if (k == "--threads") threads = std::atol(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  torch::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(0);
  auto net = salm::models::make_model({model, channels, size, classes});
  net->eval();
  for (auto& p : net->parameters()) p.requires_grad_(false);
  auto x = torch::rand({batch, channels, size, size});
  auto y = torch::randint(classes, {batch}, torch::kLong);
  auto step = [&] {
    auto xin = x.detach().requires_grad_(true);
    auto loss = torch::nn::functional::cross_entropy(net->forward(xin), y);
    auto g = torch::autograd::grad({loss}, {xin})[0];
    x = (x - 0.001 * g.sign()).clamp(0, 1);
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < steps; ++i) step();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"model\": \"%s\", \"batch\": %ld, \"threads\": %ld, \"image_steps_per_second\": %.1f}\n", model.c_str(),
              batch, threads, static_cast<double>(batch * steps) / s);
  return 0;
}
