/// MPI plumbing: the process-wide environment, a move-only duplicated communicator, and the
/// checked-call macro that turns MPI status codes into salm::MpiError.
#pragma once

#include <mpi.h>

namespace salm::dist {

/// MPI_Init_thread / MPI_Finalize for the life of `main`, when `init` (else nothing: one process
/// without MPI). Sets MPI_ERRORS_RETURN on MPI_COMM_WORLD so that every failure comes back as a
/// status that SALM_CHECK_MPI converts into an exception (the MPI error handler of salm), instead
/// of aborting in the library.
class MpiEnvironment {
public:
  MpiEnvironment(int* argc, char*** argv, bool init = true);
  ~MpiEnvironment();
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;

  /// Ends the whole job (all ranks) with `code`; used after an error on some ranks.
  [[noreturn]] static void abort(int code);
  /// Whether MPI is initialised and not yet finalised.
  static bool active();
};

/// Whether this process should initialise MPI: SALM_MPI=on or off decides; otherwise yes when an
/// MPI launcher started it (mpirun/mpiexec of Open MPI, srun --mpi=pmix or pmi2, Hydra), and no for
/// a process started by hand, which then runs as one rank without MPI (no MPI runtime needed, as
/// on a borrowed GPU machine).
bool mpi_wanted();

/// This process's rank among the ranks of its node and their number (MPI_COMM_TYPE_SHARED;
/// collective), or, with MPI_COMM_NULL, OMPI_COMM_WORLD_LOCAL_RANK / SLURM_LOCALID / 0 and 1.
struct NodePlace {
  int rank = 0, size = 1;
};
NodePlace node_place(MPI_Comm comm);

/// Rank and size of MPI_COMM_WORLD (0 and 1 when MPI is not active).
int world_rank();
int world_size();

/// A duplicated communicator, freed on destruction. Move-only; a moved-from object is null.
class MpiComm {
public:
  MpiComm() = default;
  /// Duplicates `parent` (collective over it) and sets MPI_ERRORS_RETURN on the copy.
  static MpiComm duplicate(MPI_Comm parent);
  ~MpiComm();
  MpiComm(MpiComm&& o) noexcept : comm_(o.comm_) { o.comm_ = MPI_COMM_NULL; }
  MpiComm& operator=(MpiComm&& o) noexcept;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  MPI_Comm get() const { return comm_; }
  explicit operator bool() const { return comm_ != MPI_COMM_NULL; }

private:
  explicit MpiComm(MPI_Comm c) : comm_(c) {}
  MPI_Comm comm_ = MPI_COMM_NULL;
};

namespace detail {
/// Throws MpiError("<call> failed on rank R: <MPI's message> (file:line)") if code != MPI_SUCCESS.
void check_mpi(int code, const char* call, const char* file, int line);
}  // namespace detail

}  // namespace salm::dist

#define SALM_CHECK_MPI(call) ::salm::dist::detail::check_mpi((call), #call, __FILE__, __LINE__)
