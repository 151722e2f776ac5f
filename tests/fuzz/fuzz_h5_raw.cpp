// libFuzzer harness: raw bytes as a salm dataset .h5. This fuzzes HDF5's own parser more than
// salm (which hands the file to HDF5 first): not part of the CI-sized runs, since the crashes it
// finds are in Debian's HDF5 1.10.8 and not salm's to fix (docs/reliability.md). tools/fuzz.sh h5-raw.
#include "fuzz_common.hpp"

#include "salm/core/error.hpp"
#include "salm/io/h5.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = salm::fuzz::scratch("raw.h5");
  salm::io::quiet_hdf5_errors();
  salm::fuzz::write_file(path, data, size);
  try {
    salm::fuzz::read_everything(path);
  } catch (const salm::Error&) {
  }
  return 0;
}
