// salm: one binary, many subcommands (see src/cli/app.cpp).
#include "app.hpp"

int main(int argc, char** argv) { return salm::cli::run_main(argc, argv); }
