// `rill esn`: Echo State Networks. `fit CONFIG` fits the readout in closed
// form and reports one-step NRMSE on the held-out steps; `predict MODEL`
// and `generate MODEL` run a fitted model on a series; `build MODEL|CONFIG`
// writes the ESN's graph (models/esn_graph.h) for `rill run`, `dot` and
// `grad`; `mackey-glass OUT` writes the Mackey-Glass series (tau = 17) to
// forecast.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "core/limits.h"
#include "core/npy.h"
#include "graph/loader.h"
#include "models/esn.h"
#include "models/esn_gd.h"
#include "models/esn_graph.h"
#include "models/mackey_glass.h"
#include "ops/op_def.h"
#include "tools/commands.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

// The flags of `rill esn`.
struct {
  std::string series, output;
  int64_t steps = 0;
} flags;

absl::Status UnknownEsnCommand(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown esn command '", what,
      "'; use fit CONFIG, predict MODEL, generate MODEL, build MODEL|CONFIG "
      "or mackey-glass OUT"));
}

EsnMatrix Rows(const EsnMatrix& m, int64_t begin, int64_t end) {
  return m.middleRows(begin, end - begin);
}

absl::Status WriteMatrix(const std::string& path, const EsnMatrix& m) {
  ASSIGN_OR_RETURN(Tensor t,
                   Tensor::Allocate(DType::kF64, Shape{m.rows(), m.cols()}));
  std::copy_n(m.data(), m.size(), t.data<double>());
  return WriteNpy(path, t);
}

// --steps of generate or mackey-glass: its rows of `width` doubles, held
// `copies` times over (the series, its .npy tensor, an integrator's history).
absl::Status CheckStepsLimits(int64_t steps, int64_t width, int64_t copies,
                              const MemoryBudget& budget) {
  RETURN_IF_ERROR(CheckAtLeast("--steps", steps, 1));
  return CheckFitsBudget(
      "--steps", steps, "output",
      SaturatingMul(SaturatingMul(steps, width), SaturatingMul(copies, 8)),
      budget);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

// A config, resolved, with the paths it names (relative to it) and its
// series.
struct ConfigAndSeries {
  EsnConfig config;
  std::string series_path, model_path;
  EsnMatrix series;
};

absl::StatusOr<ConfigAndSeries> LoadConfigAndSeries(
    const std::string& config_path) {
  ASSIGN_OR_RETURN(EsnConfig given, LoadEsnConfig(config_path));
  absl::StatusOr<EsnConfig> resolved = ResolveEsnConfig(given);
  if (!resolved.ok()) return Annotate(resolved.status(), config_path);
  ConfigAndSeries c;
  c.config = *std::move(resolved);
  std::string dir = fs::path(config_path).parent_path().string();
  if (dir.empty()) dir = ".";
  absl::StatusOr<std::string> series_path =
      PathInside(dir, "series", c.config.series());
  if (!series_path.ok()) return Annotate(series_path.status(), config_path);
  c.series_path = *series_path;
  std::string out = c.config.output().empty() ? "esn.rckpt" : c.config.output();
  absl::StatusOr<std::string> model_path = PathInside(dir, "output", out);
  if (!model_path.ok()) return Annotate(model_path.status(), config_path);
  c.model_path = *model_path;
  ASSIGN_OR_RETURN(c.series, LoadSeries(c.series_path));
  return c;
}

absl::Status Fit(const std::string& config_path) {
  ASSIGN_OR_RETURN(ConfigAndSeries loaded, LoadConfigAndSeries(config_path));
  const EsnConfig& config = loaded.config;
  const EsnMatrix& series = loaded.series;
  const MemoryBudget& budget = CommonFlags().memory_budget;
  RETURN_IF_ERROR(
      Annotate(CheckEsnFitLimits(config, series.rows(), series.cols(), budget),
               config_path));
  int64_t steps = series.rows() - 1;  // Step t predicts row t + 1.
  int64_t train =
      static_cast<int64_t>(std::llround(steps * config.train_fraction()));
  if (train < 1 || train >= steps) {
    return absl::InvalidArgumentError(absl::StrCat(
        loaded.series_path, ": ", series.rows(), " rows leave ", train,
        " training steps and ", steps - train, " test steps; need both"));
  }
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Esn> created =
      Esn::Create(config, series.cols(), series.cols());
  if (!created.ok()) return Annotate(created.status(), config_path);
  Esn& esn = *created;
  double create_s = Seconds(start);
  start = std::chrono::steady_clock::now();
  bool ridge = esn.config().readout() == "ridge";
  absl::Status fitted =
      ridge ? esn.Fit(Rows(series, 0, train), Rows(series, 1, train + 1))
            : FitReadoutByGradientDescent(esn, Rows(series, 0, train),
                                          Rows(series, 1, train + 1));
  RETURN_IF_ERROR(Annotate(fitted, loaded.series_path));
  double fit_s = Seconds(start);
  // One step ahead over the test steps, continuing the training run's
  // state (teacher-forced).
  EsnVector x = EsnVector::Zero(esn.reservoir().units());
  ASSIGN_OR_RETURN(EsnMatrix train_pred,
                   esn.Predict(Rows(series, 0, train), &x));
  ASSIGN_OR_RETURN(EsnMatrix test_pred,
                   esn.Predict(Rows(series, train, steps), &x));
  int64_t warmup = esn.config().warmup();
  double train_nrmse = Nrmse(Rows(train_pred, warmup, train),
                             Rows(series, warmup + 1, train + 1));
  double test_nrmse = Nrmse(test_pred, Rows(series, train + 1, steps + 1));
  RETURN_IF_ERROR(esn.Save(loaded.model_path));
  std::printf(
      "reservoir: %lld units, spectral radius %g, leak rate %g (drawn in "
      "%.2f s)\n"
      "fitted on steps 0..%lld (warm-up %lld) in %.2f s; %s\n"
      "one step ahead: train NRMSE %.3g, test NRMSE %.3g (%lld steps)\n"
      "model: %s\n",
      static_cast<long long>(esn.reservoir().units()),
      esn.config().spectral_radius(), esn.config().leak_rate(), create_s,
      static_cast<long long>(train - 1), static_cast<long long>(warmup), fit_s,
      ridge ? absl::StrCat("ridge ", esn.config().ridge()).c_str()
            : absl::StrCat("readout by gradient descent, ",
                           esn.config().gd_steps(), " Adam steps")
                  .c_str(),
      train_nrmse, test_nrmse, static_cast<long long>(steps - train),
      loaded.model_path.c_str());
  return absl::OkStatus();
}

absl::Status PredictOrGenerate(const std::string& model_path, bool generate) {
  const std::string& series_path = flags.series;
  ASSIGN_OR_RETURN(Esn esn, Esn::Load(model_path));
  ASSIGN_OR_RETURN(EsnMatrix series, LoadSeries(series_path));
  EsnVector x = EsnVector::Zero(esn.reservoir().units());
  const std::string& out = flags.output;
  if (!generate) {
    ASSIGN_OR_RETURN(EsnMatrix pred, esn.Predict(series, &x));
    // Scored like the fit: after the warm-up, whose states still remember
    // the zero start.
    int64_t t = series.rows(), warmup = esn.config().warmup();
    if (warmup + 1 >= t) {
      return absl::InvalidArgumentError(absl::StrCat(
          series_path, ": ", t, " rows; the warm-up alone takes ", warmup));
    }
    std::printf(
        "one step ahead over steps %lld..%lld (after the warm-up): "
        "NRMSE %.3g against the series' next rows\n",
        static_cast<long long>(warmup), static_cast<long long>(t - 2),
        Nrmse(Rows(pred, warmup, t - 1), Rows(series, warmup + 1, t)));
    if (!out.empty()) RETURN_IF_ERROR(WriteMatrix(out, pred));
    return absl::OkStatus();
  }
  int64_t steps = flags.steps;
  const MemoryBudget& budget = CommonFlags().memory_budget;
  RETURN_IF_ERROR(CheckStepsLimits(steps, series.cols(), 2, budget));
  // Teacher-force all rows but the last, which seeds the closed loop.
  int64_t t = series.rows();
  ASSIGN_OR_RETURN(EsnMatrix ignored, esn.Predict(Rows(series, 0, t - 1), &x));
  ASSIGN_OR_RETURN(EsnMatrix gen,
                   esn.Generate(series.row(t - 1).transpose(), steps, &x));
  std::printf(
      "generated %lld steps after %lld teacher-forced ones; first "
      "%.6g, last %.6g\n",
      static_cast<long long>(steps), static_cast<long long>(t), gen(0, 0),
      gen(steps - 1, 0));
  if (!out.empty()) RETURN_IF_ERROR(WriteMatrix(out, gen));
  return absl::OkStatus();
}

// `esn build`: a fitted model's graph (its W_out as the Parameter), or a
// config's (a zero W_out to train; the series gives the input width).
absl::Status Build(const std::string& path) {
  const std::string& out = flags.output;
  const int64_t steps = flags.steps;
  RETURN_IF_ERROR(CheckAtMost("--steps", steps, OpDef::kMaxVariadicOutputs,
                              "an unrolled ESN graph"));
  const MemoryBudget& budget = CommonFlags().memory_budget;
  std::optional<Esn> esn;
  if (absl::EndsWith(path, ".rckpt")) {
    ASSIGN_OR_RETURN(esn, Esn::Load(path));
  } else {
    ASSIGN_OR_RETURN(ConfigAndSeries loaded, LoadConfigAndSeries(path));
    const int64_t width = loaded.series.cols();
    RETURN_IF_ERROR(
        Annotate(CheckEsnFitLimits(loaded.config, steps, width, budget), path));
    absl::StatusOr<Esn> created = Esn::Create(loaded.config, width, width);
    if (!created.ok()) return Annotate(created.status(), path);
    esn = *std::move(created);
  }
  const Reservoir& r = esn->reservoir();
  // The executor's buffers: about eight [1, units] tensors per step.
  RETURN_IF_ERROR(CheckFitsBudget(
      "--steps", steps, "the unrolled graph's tensors",
      SaturatingMul(SaturatingMul(steps, r.units()), 8 * 8), budget));
  EsnGraphOptions options;
  options.steps = steps;
  options.readout = true;
  options.w_out = esn->fitted() ? &esn->w_out() : nullptr;
  options.outputs = esn->outputs();
  ASSIGN_OR_RETURN(Graph graph, BuildEsnGraph(r, options));
  RETURN_IF_ERROR(WriteTextGraph(graph, out));
  std::printf(
      "%s: %d nodes, %lld steps of a %lld-unit reservoir (W %s), readout "
      "%s\n"
      "  input:  %s f64[%lld, %lld], %s f64[1, %lld] (the state before step "
      "0), %s f64[%lld, %lld]\n"
      "  output: %s (states), %s, %s\n",
      out.c_str(), graph.node_size(), static_cast<long long>(steps),
      static_cast<long long>(r.units()),
      r.uses_dense_product() ? "dense" : "sparse",
      esn->fitted() ? "fitted" : "zero (to train)", kEsnInputNode,
      static_cast<long long>(steps), static_cast<long long>(r.inputs()),
      kEsnStartStateNode, static_cast<long long>(r.units()), kEsnTargetNode,
      static_cast<long long>(steps), static_cast<long long>(esn->outputs()),
      kEsnStatesNode, kEsnOutputNode, kEsnLossNode);
  return absl::OkStatus();
}

}  // namespace

std::vector<Flag> EsnFlags() {
  return {StringFlag("series", &flags.series,
                     "For predict and generate: the series to run on (.npy "
                     "or .csv, one row per step)."),
          IntFlag("steps", &flags.steps,
                  "For generate: the steps to forecast in closed loop; for "
                  "build: the steps the graph unrolls; for mackey-glass: the "
                  "samples to write."),
          OutputFlag(&flags.output,
                     "For predict and generate: where to write the "
                     "predictions (.npy; default: not written); for build: "
                     "where to write the graph (text proto)."),
          MemoryBudgetFlag()};
}

absl::Status CheckEsnFlags(const Operands& operands) {
  const std::string& what = operands[0];
  if (what != "fit" && what != "predict" && what != "generate" &&
      what != "build" && what != "mackey-glass") {
    return UnknownEsnCommand(what);
  }
  if (what == "build") {
    RETURN_IF_ERROR(CheckTextGraphOutput(flags.output));
    if (!IsTextGraphPath(flags.output)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "-o ", flags.output,
          ": the ESN graph is written as text proto, so the name must end in "
          ".pbtxt, .txt or .textproto"));
    }
  }
  if ((what == "predict" || what == "generate") && flags.series.empty()) {
    return absl::InvalidArgumentError("name the input series with --series");
  }
  if (what == "generate" || what == "build" || what == "mackey-glass") {
    return CheckAtLeast("--steps", flags.steps, 1);
  }
  return absl::OkStatus();
}

absl::Status RunEsn(const std::vector<std::string>& operands) {
  const std::string& what = operands[0];
  if (what == "fit") return Fit(operands[1]);
  if (what == "predict") return PredictOrGenerate(operands[1], false);
  if (what == "generate") return PredictOrGenerate(operands[1], true);
  if (what == "build") return Build(operands[1]);
  if (what == "mackey-glass") {
    int64_t steps = flags.steps;
    const MemoryBudget& budget = CommonFlags().memory_budget;
    // The integrator keeps every dt step: 10 per sample by default.
    RETURN_IF_ERROR(CheckStepsLimits(steps, 1, 2 + 10, budget));
    ASSIGN_OR_RETURN(EsnMatrix series, MackeyGlass(steps));
    RETURN_IF_ERROR(WriteMatrix(operands[1], series));
    std::printf("%s: %lld samples of Mackey-Glass (tau 17)\n",
                operands[1].c_str(), static_cast<long long>(steps));
    return absl::OkStatus();
  }
  return UnknownEsnCommand(what);
}

}  // namespace rill
