#include "train/communicator.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rill {
namespace {

Communicator* g_process_communicator = nullptr;

}  // namespace

void LocalCommunicator::Abort(int exit_code) { std::exit(exit_code); }

Communicator* ProcessCommunicator() { return g_process_communicator; }

void SetProcessCommunicator(Communicator* communicator) {
  g_process_communicator = communicator;
}

absl::Status CheckSameOnAllRanks(Communicator& communicator, uint64_t hash,
                                 const std::string& what,
                                 const std::string& advice) {
  uint64_t root_hash = hash;
  RETURN_IF_ERROR(communicator.Broadcast(&root_hash, sizeof(root_hash), 0));
  // Counted on every rank, so that all of them fail, not only the odd one.
  double mismatches = root_hash == hash ? 0 : 1;
  RETURN_IF_ERROR(communicator.AllreduceSum(&mismatches, 1));
  if (mismatches == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "%d of the %d ranks have another %s than rank 0 (this is rank %d, hash "
      "%016x; rank 0's is %016x): %s",
      static_cast<int>(mismatches), communicator.size(), what,
      communicator.rank(), hash, root_hash, advice));
}

}  // namespace rill
