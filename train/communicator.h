#ifndef RILL_TRAIN_COMMUNICATOR_H_
#define RILL_TRAIN_COMMUNICATOR_H_

// The collective operations data-parallel training needs, behind an
// interface so that the trainer builds and runs without MPI: one process is
// LocalCommunicator (size 1, every collective a no-op); //tools:rill_mpi
// links train/mpi_communicator.h, which is the only code that includes
// mpi.h. Every rank must call each collective in the same order.

#include <cstdint>
#include <string>

#include "core/status.h"

namespace rill {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In place: every rank gets the element-wise sum over all ranks.
  virtual absl::Status AllreduceSum(float* values, int64_t n) = 0;
  virtual absl::Status AllreduceSum(double* values, int64_t n) = 0;
  // The same without waiting: the sum lands in `values`, which must be left
  // alone until WaitAll() returns. Started allreduces count as collectives
  // in the order they were started; WaitAll() before any other collective.
  virtual absl::Status StartAllreduceSum(float* values, int64_t n) = 0;
  virtual absl::Status StartAllreduceSum(double* values, int64_t n) = 0;
  // Lets the started allreduces advance, without waiting: Open MPI moves a
  // non-blocking collective on only inside MPI calls, so a rank computing
  // meanwhile calls this now and then.
  virtual absl::Status Progress() = 0;
  // Waits for every started allreduce to finish.
  virtual absl::Status WaitAll() = 0;
  // Every rank gets `root`'s `bytes` bytes at `data`.
  virtual absl::Status Broadcast(void* data, int64_t bytes, int root) = 0;
  // Ends every rank of the job (after a rank's error, so that the others
  // do not wait for it in a collective forever).
  virtual void Abort(int exit_code) = 0;
};

// One process: rank 0 of 1.
class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  absl::Status AllreduceSum(float*, int64_t) override {
    return absl::OkStatus();
  }
  absl::Status AllreduceSum(double*, int64_t) override {
    return absl::OkStatus();
  }
  absl::Status StartAllreduceSum(float*, int64_t) override {
    return absl::OkStatus();
  }
  absl::Status StartAllreduceSum(double*, int64_t) override {
    return absl::OkStatus();
  }
  absl::Status Progress() override { return absl::OkStatus(); }
  absl::Status WaitAll() override { return absl::OkStatus(); }
  absl::Status Broadcast(void*, int64_t, int) override {
    return absl::OkStatus();
  }
  void Abort(int exit_code) override;
};

// The communicator of this process's job: null unless a launcher such as
// //tools:rill_mpi set one (then `rill train` trains data-parallel).
Communicator* ProcessCommunicator();
void SetProcessCommunicator(Communicator* communicator);

// Checks that every rank passes the same `hash` (of what must agree across
// ranks, named by `what`); on a mismatch every rank gets an error naming
// its own rank and hash and rank 0's, then `advice`.
absl::Status CheckSameOnAllRanks(Communicator& communicator, uint64_t hash,
                                 const std::string& what,
                                 const std::string& advice);

}  // namespace rill

#endif  // RILL_TRAIN_COMMUNICATOR_H_
