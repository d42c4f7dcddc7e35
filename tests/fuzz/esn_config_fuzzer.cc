// libFuzzer target for ESN configs (proto/esn.proto), through what `rill
// esn fit` does with them (tools/esn_command.cc): the text parse of
// LoadEsnConfig, ResolveEsnConfig, the fit's memory check
// (CheckEsnFitLimits) against a small budget, Esn::Create, the ridge or
// gradient-descent fit, one-step predictions over the training and test
// steps; then a saved and reloaded model must predict the same, and a short
// closed-loop run must work. The series is fixed: 50 steps of two
// channels. Any input must fit or fail with a status; never crash, hang or
// allocate past the budget. Seeds: examples/esn/ and corpus/esn_config/.

#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "models/esn.h"
#include "models/esn_gd.h"

namespace {

constexpr int64_t kSteps = 50;
// About 360 units fit. At 16 MiB a 512-unit reservoir (units: 001000,
// octal) took 10 s under ASan, mostly in the eigensolver.
constexpr int64_t kMemoryBudget = int64_t{4} << 20;
// The gradient-descent readout runs gd_steps Adam steps, as asked: work
// the user chose, not a limit to find. Longer runs are left out here.
constexpr int64_t kMaxGdSteps = 20;
constexpr size_t kMaxMessageBytes = 4096;

rill::EsnMatrix Series() {
  rill::EsnMatrix s(kSteps, 2);
  for (int64_t t = 0; t < kSteps; ++t) {
    s(t, 0) = std::sin(0.3 * t);
    s(t, 1) = std::cos(0.17 * t) * 0.5;
  }
  return s;
}

rill::EsnMatrix Rows(const rill::EsnMatrix& m, int64_t begin, int64_t end) {
  return m.middleRows(begin, end - begin);
}

bool SameBits(const rill::EsnMatrix& a, const rill::EsnMatrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(double) * a.size()) == 0;
}

void CheckMessage(const absl::Status& s) {
  if (s.message().empty() || s.message().size() > kMaxMessageBytes) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string model_path = [] {
    // The text parser logs each syntax error; the status is what we check.
    google::protobuf::SetLogHandler(nullptr);
    return (std::filesystem::temp_directory_path() /
            absl::StrCat("rill-fuzz-esn-", getpid(), ".rckpt"))
        .string();
  }();
  static const rill::EsnMatrix series = Series();
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<rill::EsnConfig> given =
      rill::ParseEsnConfig(text, "esn.pbtxt");
  if (!given.ok()) {
    if (!absl::StartsWith(given.status().message(), "esn.pbtxt")) {
      __builtin_trap();
    }
    return 0;
  }
  absl::StatusOr<rill::EsnConfig> resolved = rill::ResolveEsnConfig(*given);
  if (!resolved.ok()) {
    CheckMessage(resolved.status());
    return 0;
  }
  const rill::EsnConfig& config = *resolved;
  rill::MemoryBudget budget;
  budget.bytes = kMemoryBudget;
  absl::Status fits =
      rill::CheckEsnFitLimits(config, series.rows(), series.cols(), budget);
  if (!fits.ok()) {
    CheckMessage(fits);
    return 0;
  }
  const int64_t steps = series.rows() - 1;
  const int64_t train =
      static_cast<int64_t>(std::llround(steps * config.train_fraction()));
  if (train < 1 || train >= steps) return 0;
  const bool ridge = config.readout() == "ridge";
  if (!ridge && config.gd_steps() > kMaxGdSteps) return 0;
  absl::StatusOr<rill::Esn> esn =
      rill::Esn::Create(config, series.cols(), series.cols());
  if (!esn.ok()) {
    CheckMessage(esn.status());
    return 0;
  }
  absl::Status fitted =
      ridge ? esn->Fit(Rows(series, 0, train), Rows(series, 1, train + 1))
            : rill::FitReadoutByGradientDescent(*esn, Rows(series, 0, train),
                                                Rows(series, 1, train + 1));
  if (!fitted.ok()) {
    CheckMessage(fitted);
    return 0;
  }
  rill::EsnVector x = rill::EsnVector::Zero(esn->reservoir().units());
  absl::StatusOr<rill::EsnMatrix> train_pred =
      esn->Predict(Rows(series, 0, train), &x);
  if (!train_pred.ok()) return 0;
  absl::StatusOr<rill::EsnMatrix> test_pred =
      esn->Predict(Rows(series, train, steps), &x);
  if (!test_pred.ok()) return 0;
  const int64_t warmup = esn->config().warmup();
  if (warmup < train) {
    (void)rill::Nrmse(Rows(*train_pred, warmup, train),
                      Rows(series, warmup + 1, train + 1));
  }
  (void)rill::Nrmse(*test_pred, Rows(series, train + 1, steps + 1));
  // The saved model is the fitted one.
  if (!esn->Save(model_path).ok()) __builtin_trap();
  absl::StatusOr<rill::Esn> loaded = rill::Esn::Load(model_path);
  std::remove(model_path.c_str());
  if (!loaded.ok()) __builtin_trap();
  rill::EsnVector y = rill::EsnVector::Zero(loaded->reservoir().units());
  absl::StatusOr<rill::EsnMatrix> again =
      loaded->Predict(Rows(series, 0, train), &y);
  if (!again.ok() || !SameBits(*again, *train_pred)) __builtin_trap();
  absl::StatusOr<rill::EsnMatrix> generated =
      loaded->Generate(series.row(steps).transpose(), 5, &y);
  if (generated.ok() && generated->rows() != 5) __builtin_trap();
  return 0;
}
