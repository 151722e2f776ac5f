/// Where the tensors of a job live: the CPU or one CUDA device. Chosen once, in cli (--device),
/// and passed down beside the communicator; io copies rows to and from the host at its boundary.
#pragma once

#include <string>

namespace salm {

struct Device {
  enum class Kind { cpu, cuda };
  Kind kind = Kind::cpu;
  int index = 0;  ///< the CUDA device ordinal (0 for the CPU)

  static Device cpu() { return {}; }
  static Device cuda(int i) { return {Kind::cuda, i}; }
  bool is_cuda() const { return kind == Kind::cuda; }
  /// "cpu" or "cuda:N".
  std::string str() const { return is_cuda() ? "cuda:" + std::to_string(index) : "cpu"; }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

}  // namespace salm
