// libFuzzer harness: bytes as a MedMNIST .npz (zip of .npy arrays), opened and read in full.
#include "fuzz_common.hpp"

#include "salm/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = salm::fuzz::scratch("input.npz");
  salm::fuzz::write_file(path, data, size);
  try {
    salm::fuzz::read_everything(path);
  } catch (const salm::Error&) {
  }
  return 0;
}
