// salm: one binary, many subcommands (see src/cli/app.cpp).
#include <cstdio>
#include <cstdlib>

#include "app.hpp"
#include "salm/core/system.hpp"
#include "salm/io/h5.hpp"

int main(int argc, char** argv) {
  salm::keep_freed_memory();  // before the first tensor: no page faults per step
  int code = salm::cli::run_main(argc, argv);
  if (salm::io::hdf5_close_failed()) {
    // A file whose close failed (a full disk) is still half-open inside HDF5, whose exit-time
    // clean-up would crash on it. salm's outputs are settled and MPI is finalised: end here.
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}
