#include "tests/ops/grad_rows.h"

namespace rill {

std::vector<OpRow> AllGradRows() {
  std::vector<OpRow> all;
  for (auto rows :
       {MathGradRows(), ArrayGradRows(), NnGradRows(), RecurrentGradRows()}) {
    all.insert(all.end(), rows.begin(), rows.end());
  }
  return all;
}

}  // namespace rill
