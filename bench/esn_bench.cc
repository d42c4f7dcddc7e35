// ESN state update, as the reservoir's graph runs it (models/esn_graph.h):
// W as a SparseMatMul against W as a dense MatMul, at a few sizes and
// connectivities. Build with -c opt:
//   bazel run -c opt //bench:esn_bench
// Prints ns per state update for each (a teacher-forced Collect over many
// steps, so executor overhead per step is included). models/esn.h's
// DenseDensityThreshold keeps the Eigen-era crossovers, so that the states
// stay those of that ESN; these figures say what that choice costs.

#include <chrono>
#include <cstdio>

#include "models/esn.h"

namespace rill {
namespace {

// Mean ns per state update over `steps` updates with `reservoir`.
double TimeUpdates(const Reservoir& reservoir, int64_t steps) {
  EsnMatrix u = EsnMatrix::Constant(steps, 1, 0.5);
  EsnVector x = EsnVector::Zero(reservoir.units());
  // Compiles the graphs and warms the caches.
  if (!reservoir.Collect(u.topRows(steps / 10 + 1), &x).ok()) return -1;
  const auto start = std::chrono::steady_clock::now();
  if (!reservoir.Collect(u, &x).ok()) return -1;
  const auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(end - start).count() / steps;
}

int Main() {
  std::printf("units connectivity  sparse_ns  dense_ns  dense/sparse\n");
  for (int64_t units : {100, 500, 1000, 2000}) {
    for (double conn : {0.01, 0.05, 0.1, 0.2, 0.3, 0.5}) {
      EsnConfig c;
      c.set_units(units);
      c.set_connectivity(conn);
      c.set_spectral_radius(0.9);
      c.set_seed(1);
      absl::StatusOr<Reservoir> r = Reservoir::Create(c, 1);
      if (!r.ok()) {
        std::printf("%5lld %6.2f  error: %s\n", (long long)units, conn,
                    std::string(r.status().message()).c_str());
        continue;
      }
      const int64_t steps = 20000000 / (units * 10) + 200;
      const Reservoir csr = Reservoir::ForceProduct(*r, /*dense=*/false);
      const Reservoir dense = Reservoir::ForceProduct(*r, /*dense=*/true);
      const double t_csr = TimeUpdates(csr, steps);
      const double t_dense = TimeUpdates(dense, steps);
      std::printf("%5lld %6.2f     %9.0f %9.0f  %6.2f\n", (long long)units,
                  conn, t_csr, t_dense, t_dense / t_csr);
    }
  }
  return 0;
}

}  // namespace
}  // namespace rill

int main() { return rill::Main(); }
