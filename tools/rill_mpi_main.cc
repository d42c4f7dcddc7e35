// `mpirun -np N rill_mpi train CONFIG`: the `rill` command with `rill train`
// data-parallel over the job's ranks. Rank 0 alone prints to stdout; any
// rank's error ends the whole job (MPI_Abort), so that no rank waits in a
// collective for one that has given up.

#include <cstdio>
#include <string>

#include "core/threads.h"
#include "tools/rill_main.h"
#include "train/mpi_communicator.h"

int main(int argc, char** argv) {
  // rill re-executes itself to make OpenMP threads passive; that must
  // happen before MPI_Init, not after it.
  rill::PreferPassiveOpenMpThreads(argv);
  auto communicator = rill::MpiCommunicator::Init(&argc, &argv);
  if (!communicator.ok()) {
    std::fprintf(stderr, "rill_mpi: %s\n",
                 std::string(communicator.status().message()).c_str());
    return 1;
  }
  rill::MpiCommunicator& world = **communicator;
  if (world.rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr) {
    std::perror("rill_mpi: /dev/null");
  }
  rill::SetProcessCommunicator(&world);
  const int code = rill::Main(argc, argv);
  if (code != 0 && world.size() > 1) {
    std::fflush(stderr);
    world.Abort(code);
  }
  rill::SetProcessCommunicator(nullptr);
  return code;  // MPI_Finalize as `communicator` goes.
}
