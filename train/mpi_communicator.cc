#include "train/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

absl::Status MpiError(int code, const char* call) {
  if (code == MPI_SUCCESS) return absl::OkStatus();
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return absl::UnavailableError(
      absl::StrCat(call, " failed: ", std::string(text, length),
                   " (did another rank die? every rank stops)"));
}

// MPI counts are ints: larger buffers go in chunks. With `started`, each
// chunk is an MPI_Iallreduce whose request goes there.
template <typename T>
absl::Status AllreduceInChunks(T* values, int64_t n, MPI_Datatype type,
                               std::vector<MPI_Request>* started = nullptr) {
  for (int64_t begin = 0; begin < n; begin += INT_MAX) {
    const int count = static_cast<int>(std::min<int64_t>(n - begin, INT_MAX));
    if (started == nullptr) {
      RETURN_IF_ERROR(
          MpiError(MPI_Allreduce(MPI_IN_PLACE, values + begin, count, type,
                                 MPI_SUM, MPI_COMM_WORLD),
                   "MPI_Allreduce"));
      continue;
    }
    started->push_back(MPI_REQUEST_NULL);
    RETURN_IF_ERROR(
        MpiError(MPI_Iallreduce(MPI_IN_PLACE, values + begin, count, type,
                                MPI_SUM, MPI_COMM_WORLD, &started->back()),
                 "MPI_Iallreduce"));
  }
  return absl::OkStatus();
}

}  // namespace

struct MpiCommunicator::Requests {
  std::vector<MPI_Request> started;
};

MpiCommunicator::MpiCommunicator(int rank, int size)
    : rank_(rank), size_(size), requests_(std::make_unique<Requests>()) {}

absl::StatusOr<std::unique_ptr<MpiCommunicator>> MpiCommunicator::Init(
    int* argc, char*** argv) {
  RETURN_IF_ERROR(MpiError(MPI_Init(argc, argv), "MPI_Init"));
  RETURN_IF_ERROR(
      MpiError(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
               "MPI_Comm_set_errhandler"));
  int rank = 0, size = 1;
  RETURN_IF_ERROR(
      MpiError(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank"));
  RETURN_IF_ERROR(
      MpiError(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size"));
  return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(rank, size));
}

MpiCommunicator::~MpiCommunicator() { MPI_Finalize(); }

absl::Status MpiCommunicator::AllreduceSum(float* values, int64_t n) {
  return AllreduceInChunks(values, n, MPI_FLOAT);
}

absl::Status MpiCommunicator::AllreduceSum(double* values, int64_t n) {
  return AllreduceInChunks(values, n, MPI_DOUBLE);
}

absl::Status MpiCommunicator::StartAllreduceSum(float* values, int64_t n) {
  return AllreduceInChunks(values, n, MPI_FLOAT, &requests_->started);
}

absl::Status MpiCommunicator::StartAllreduceSum(double* values, int64_t n) {
  return AllreduceInChunks(values, n, MPI_DOUBLE, &requests_->started);
}

absl::Status MpiCommunicator::Progress() {
  std::vector<MPI_Request>& started = requests_->started;
  if (started.empty()) return absl::OkStatus();
  int done = 0;
  RETURN_IF_ERROR(
      MpiError(MPI_Testall(static_cast<int>(started.size()), started.data(),
                           &done, MPI_STATUSES_IGNORE),
               "MPI_Testall"));
  if (done) started.clear();
  return absl::OkStatus();
}

absl::Status MpiCommunicator::WaitAll() {
  std::vector<MPI_Request>& started = requests_->started;
  const int code = MPI_Waitall(static_cast<int>(started.size()), started.data(),
                               MPI_STATUSES_IGNORE);
  started.clear();
  return MpiError(code, "MPI_Waitall");
}

absl::Status MpiCommunicator::Broadcast(void* data, int64_t bytes, int root) {
  char* at = static_cast<char*>(data);
  for (int64_t begin = 0; begin < bytes; begin += INT_MAX) {
    const int count =
        static_cast<int>(std::min<int64_t>(bytes - begin, INT_MAX));
    RETURN_IF_ERROR(
        MpiError(MPI_Bcast(at + begin, count, MPI_BYTE, root, MPI_COMM_WORLD),
                 "MPI_Bcast"));
  }
  return absl::OkStatus();
}

void MpiCommunicator::Abort(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
}

}  // namespace rill
