#include "salm/dist/mpi.hpp"

#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"

namespace salm::dist {

bool mpi_wanted() {
  if (const char* v = std::getenv("SALM_MPI")) {
    std::string s = v;
    if (s == "on" || s == "1") return true;
    if (s == "off" || s == "0") return false;
  }
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"})
    if (std::getenv(var)) return true;
  return false;
}

NodePlace node_place(MPI_Comm comm) {
  NodePlace p;
  if (comm == MPI_COMM_NULL) {
    for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})
      if (const char* v = std::getenv(var)) {
        p.rank = std::atoi(v);
        break;
      }
    return p;
  }
  MPI_Comm node = MPI_COMM_NULL;
  SALM_CHECK_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  MPI_Comm_rank(node, &p.rank);
  MPI_Comm_size(node, &p.size);
  MPI_Comm_free(&node);
  return p;
}

MpiEnvironment::MpiEnvironment(int* argc, char*** argv, bool init) {
  if (!init) return;
  int provided = 0;
  // FUNNELED: only the main thread calls MPI; Torch's worker threads never do.
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw MpiError("MPI_Init_thread failed");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiEnvironment::~MpiEnvironment() {
  if (active()) MPI_Finalize();
}

void MpiEnvironment::abort(int code) {
  if (active()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

bool MpiEnvironment::active() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

int world_rank() {
  if (!MpiEnvironment::active()) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  if (!MpiEnvironment::active()) return 1;
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

MpiComm MpiComm::duplicate(MPI_Comm parent) {
  MPI_Comm c = MPI_COMM_NULL;
  SALM_CHECK_MPI(MPI_Comm_dup(parent, &c));
  SALM_CHECK_MPI(MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN));
  return MpiComm(c);
}

MpiComm::~MpiComm() {
  if (comm_ != MPI_COMM_NULL && MpiEnvironment::active()) {
    if (MPI_Comm_free(&comm_) != MPI_SUCCESS) spdlog::warn("MPI_Comm_free failed");
  }
}

MpiComm& MpiComm::operator=(MpiComm&& o) noexcept {
  if (this != &o) {
    if (comm_ != MPI_COMM_NULL && MpiEnvironment::active()) MPI_Comm_free(&comm_);
    comm_ = o.comm_;
    o.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

namespace detail {
void check_mpi(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(code, msg, &len);
  throw MpiError(fmt::format("MPI call {} failed on rank {}: {} ({}:{})", call, world_rank(),
                             std::string(msg, static_cast<size_t>(len)), file, line));
}
}  // namespace detail

}  // namespace salm::dist
