// The ESN fit that issue 7 times: 1000 units on 10k steps of Mackey-Glass
// (one step ahead; warm-up 100, ridge 1e-8). Prints the fit time (state
// collection, accumulation of ZᵀZ and ZᵀY, and the solve; drawing the
// reservoir is not included) and writes the reservoir, the series and
// W_out to DIR, so that bench/esn_vs_numpy.py can run the same fit in NumPy
// and compare. Usage: esn_fit_bench DIR (build with -c opt).

#include <chrono>
#include <cstdio>
#include <string>

#include "core/npy.h"
#include "models/esn.h"
#include "models/mackey_glass.h"

namespace rill {
namespace {

absl::Status Write(const std::string& path, const EsnMatrix& m) {
  ASSIGN_OR_RETURN(Tensor t,
                   Tensor::Allocate(DType::kF64, Shape{m.rows(), m.cols()}));
  std::copy_n(m.data(), m.size(), t.data<double>());
  return WriteNpy(path, t);
}

absl::Status Main(const std::string& dir) {
  constexpr int64_t kSteps = 10000;
  ASSIGN_OR_RETURN(EsnMatrix series, MackeyGlass(kSteps + 1));
  EsnConfig config;
  config.set_units(1000);
  config.set_spectral_radius(1.25);
  config.set_leak_rate(0.3);
  config.set_warmup(100);
  config.set_ridge(1e-8);
  config.set_seed(42);
  ASSIGN_OR_RETURN(Esn esn, Esn::Create(config, 1, 1));
  EsnMatrix u = series.topRows(kSteps), y = series.bottomRows(kSteps);
  double best = 1e30;
  for (int run = 0; run < 3; ++run) {
    auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(esn.Fit(u, y));
    best = std::min(best, std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start)
                              .count());
  }
  std::printf("rill fit: 1000 units, %lld steps: %.1f ms (best of 3; W %s)\n",
              static_cast<long long>(kSteps), best,
              esn.reservoir().uses_dense_product() ? "dense" : "sparse");
  RETURN_IF_ERROR(Write(dir + "/w.npy", esn.reservoir().w().ToDense()));
  RETURN_IF_ERROR(Write(dir + "/w_in.npy", esn.reservoir().w_in()));
  EsnMatrix b = esn.reservoir().b().transpose();
  if (b.size() == 0) b = EsnMatrix::Zero(1, 1000);
  RETURN_IF_ERROR(Write(dir + "/b.npy", b));
  RETURN_IF_ERROR(Write(dir + "/series.npy", series));
  return Write(dir + "/w_out.npy", esn.w_out());
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: esn_fit_bench DIR\n");
    return 2;
  }
  absl::Status s = rill::Main(argv[1]);
  if (!s.ok()) {
    std::fprintf(stderr, "esn_fit_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
