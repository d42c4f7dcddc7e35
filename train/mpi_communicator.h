#ifndef RILL_TRAIN_MPI_COMMUNICATOR_H_
#define RILL_TRAIN_MPI_COMMUNICATOR_H_

// Communicator over MPI_COMM_WORLD (Open MPI). Linked only into
// //tools:rill_mpi and the MPI tests, so that nothing else needs MPI.

#include <memory>

#include "train/communicator.h"

namespace rill {

class MpiCommunicator : public Communicator {
 public:
  // MPI_Init (once per process; MPI cannot be initialized again after
  // Finalize). Errors are returned, not fatal: MPI_ERRORS_RETURN, so that a
  // failed collective (a rank that died) becomes an error message and an
  // Abort of the job.
  static absl::StatusOr<std::unique_ptr<MpiCommunicator>> Init(int* argc,
                                                               char*** argv);
  ~MpiCommunicator() override;  // MPI_Finalize.

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  absl::Status AllreduceSum(float* values, int64_t n) override;
  absl::Status AllreduceSum(double* values, int64_t n) override;
  // MPI_Iallreduce; Progress is MPI_Testall, WaitAll MPI_Waitall.
  absl::Status StartAllreduceSum(float* values, int64_t n) override;
  absl::Status StartAllreduceSum(double* values, int64_t n) override;
  absl::Status Progress() override;
  absl::Status WaitAll() override;
  absl::Status Broadcast(void* data, int64_t bytes, int root) override;
  void Abort(int exit_code) override;

 private:
  // The started allreduces' MPI_Requests, defined beside the only
  // #include of mpi.h.
  struct Requests;
  MpiCommunicator(int rank, int size);
  int rank_, size_;
  std::unique_ptr<Requests> requests_;
};

}  // namespace rill

#endif  // RILL_TRAIN_MPI_COMMUNICATOR_H_
