// `rill esn`: Echo State Networks. `fit CONFIG` fits the readout in closed
// form and reports the NRMSE on the held-out steps; `states CONFIG` writes
// the reservoir states the fit regresses on; `predict MODEL`
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
#include "absl/strings/str_format.h"
#include "core/file_io.h"
#include "core/limits.h"
#include "core/npy.h"
#include "core/stopwatch.h"
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
  std::string series, targets, output;
  int64_t steps = 0;
} flags;

absl::Status UnknownEsnCommand(const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("unknown esn command '", what,
                   "'; use fit CONFIG, states CONFIG, predict MODEL, generate "
                   "MODEL, build MODEL|CONFIG or mackey-glass OUT"));
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

// A config, resolved, with its model path, data and (when the config gives
// one) reservoir. Step t feeds inputs row t and has targets row t: with a
// `series`, inputs are its rows 0..T-2 and targets its rows 1..T-1.
struct EsnTask {
  EsnConfig config;
  std::string config_path, model_path, data_name;
  EsnMatrix inputs, targets;
  std::optional<Reservoir> given;  // From reservoir_w, reservoir_w_in, _b.
  int64_t train = 0;               // The first `train` steps fit.
  int64_t steps() const { return inputs.rows(); }
};

// Which data fields a config gives: a series, or inputs and targets.
absl::Status CheckDataFields(const EsnConfig& c) {
  const bool series = !c.series().empty();
  const bool inputs = !c.inputs().empty(), targets = !c.targets().empty();
  if (series && (inputs || targets)) {
    return absl::InvalidArgumentError(
        "EsnConfig.series: give a series, or inputs and targets, not both");
  }
  if (!series && inputs != targets) {
    return absl::InvalidArgumentError(
        absl::StrCat("EsnConfig.", inputs ? "targets" : "inputs",
                     ": give it with ", inputs ? "inputs" : "targets"));
  }
  if (c.reservoir_w().empty() &&
      !(c.reservoir_w_in().empty() && c.reservoir_b().empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EsnConfig.",
        c.reservoir_w_in().empty() ? "reservoir_b" : "reservoir_w_in",
        ": a given reservoir needs reservoir_w too"));
  }
  return absl::OkStatus();
}

// The data of `task.config`, read from paths relative to `dir`.
absl::Status LoadData(const std::string& dir, int64_t max_bytes,
                      EsnTask& task) {
  const EsnConfig& c = task.config;
  if (c.inputs().empty()) {
    ASSIGN_OR_RETURN(std::string path, ConfigPath(dir, "series", c.series()));
    ASSIGN_OR_RETURN(EsnMatrix series, LoadSeries(path, max_bytes));
    task.data_name = path;
    task.inputs = series.topRows(series.rows() - 1);
    task.targets = series.bottomRows(series.rows() - 1);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::string in_path, ConfigPath(dir, "inputs", c.inputs()));
  ASSIGN_OR_RETURN(std::string target_path,
                   ConfigPath(dir, "targets", c.targets()));
  ASSIGN_OR_RETURN(task.inputs, LoadSeries(in_path, max_bytes));
  ASSIGN_OR_RETURN(task.targets, LoadSeries(target_path, max_bytes));
  task.data_name = absl::StrCat(in_path, " and ", target_path);
  if (task.inputs.rows() != task.targets.rows()) {
    return absl::InvalidArgumentError(absl::StrCat(
        target_path, ": ", task.targets.rows(), " rows, but ", in_path, " has ",
        task.inputs.rows(), "; targets row t is step t's target"));
  }
  return absl::OkStatus();
}

absl::StatusOr<EsnTask> LoadTask(const std::string& config_path) {
  const int64_t max_bytes = CommonFlags().max_file_bytes;
  ASSIGN_OR_RETURN(EsnConfig given, LoadEsnConfig(config_path));
  RETURN_IF_ERROR(Annotate(CheckDataFields(given), config_path));
  absl::StatusOr<EsnConfig> resolved = ResolveEsnConfig(given);
  if (!resolved.ok()) return Annotate(resolved.status(), config_path);
  EsnTask task;
  task.config = *std::move(resolved);
  task.config_path = config_path;
  std::string dir = fs::path(config_path).parent_path().string();
  if (dir.empty()) dir = ".";
  std::string out =
      task.config.output().empty() ? "esn.rckpt" : task.config.output();
  absl::StatusOr<std::string> model_path = ConfigPath(dir, "output", out);
  if (!model_path.ok()) return Annotate(model_path.status(), config_path);
  task.model_path = *model_path;
  RETURN_IF_ERROR(Annotate(LoadData(dir, max_bytes, task), config_path));
  const EsnConfig& c = task.config;
  if (!c.reservoir_w().empty()) {
    std::string paths[3];
    const char* fields[3] = {"reservoir_w", "reservoir_w_in", "reservoir_b"};
    const std::string* values[3] = {&c.reservoir_w(), &c.reservoir_w_in(),
                                    &c.reservoir_b()};
    for (int i = 0; i < 3; ++i) {
      if (i == 2 && values[i]->empty()) continue;  // b is optional.
      absl::StatusOr<std::string> p = ConfigPath(dir, fields[i], *values[i]);
      if (!p.ok()) return Annotate(p.status(), config_path);
      paths[i] = *p;
    }
    ASSIGN_OR_RETURN(task.given,
                     LoadGivenReservoir(c, paths[0], paths[1], paths[2],
                                        task.inputs.cols(), max_bytes));
    task.config.set_units(task.given->units());
  }
  const int64_t steps = task.steps();
  task.train =
      static_cast<int64_t>(std::llround(steps * task.config.train_fraction()));
  if (task.train < 1 || task.train >= steps) {
    return absl::InvalidArgumentError(absl::StrCat(
        task.data_name, ": ", steps, " steps leave ", task.train,
        " training steps and ", steps - task.train, " test steps; need both"));
  }
  return task;
}

// The task's ESN, unfitted: its given reservoir, or one drawn from the seed.
absl::StatusOr<Esn> MakeEsn(const EsnTask& task) {
  absl::StatusOr<Esn> esn =
      task.given
          ? Esn::FromReservoir(task.config, *task.given, task.targets.cols())
          : Esn::Create(task.config, task.inputs.cols(), task.targets.cols());
  if (!esn.ok()) return Annotate(esn.status(), task.config_path);
  return esn;
}

absl::Status CheckTaskLimits(const EsnTask& task) {
  return Annotate(
      CheckEsnFitLimits(task.config, task.steps(), task.inputs.cols(),
                        CommonFlags().memory_budget),
      task.config_path);
}

std::string ReadoutName(const Esn& esn) {
  const EsnConfig& c = esn.config();
  if (c.readout() != "ridge") {
    return absl::StrCat("readout by gradient descent, ", c.gd_steps(),
                        " Adam steps");
  }
  return c.ridge() == 0 ? "least squares (ridge 0)"
                        : absl::StrCat("ridge ", c.ridge());
}

absl::Status Fit(const std::string& config_path) {
  ASSIGN_OR_RETURN(EsnTask task, LoadTask(config_path));
  RETURN_IF_ERROR(CheckTaskLimits(task));
  const int64_t steps = task.steps(), train = task.train;
  auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(Esn esn, MakeEsn(task));
  double create_s = SecondsSince(start);
  start = std::chrono::steady_clock::now();
  const bool ridge = esn.config().readout() == "ridge";
  const EsnMatrix train_in = Rows(task.inputs, 0, train);
  const EsnMatrix train_target = Rows(task.targets, 0, train);
  absl::Status fitted =
      ridge ? esn.Fit(train_in, train_target)
            : FitReadoutByGradientDescent(esn, train_in, train_target);
  RETURN_IF_ERROR(Annotate(fitted, task.data_name));
  double fit_s = SecondsSince(start);
  // Over the test steps, continuing the training run's state
  // (teacher-forced).
  EsnVector x = EsnVector::Zero(esn.reservoir().units());
  ASSIGN_OR_RETURN(EsnMatrix train_pred, esn.Predict(train_in, &x));
  ASSIGN_OR_RETURN(EsnMatrix test_pred,
                   esn.Predict(Rows(task.inputs, train, steps), &x));
  int64_t warmup = esn.config().warmup();
  double train_nrmse =
      Nrmse(Rows(train_pred, warmup, train), Rows(task.targets, warmup, train));
  double test_nrmse = Nrmse(test_pred, Rows(task.targets, train, steps));
  RETURN_IF_ERROR(esn.Save(task.model_path));
  const std::string reservoir =
      task.given ? absl::StrCat("given (", task.config.reservoir_w(), ")")
                 : absl::StrFormat("spectral radius %g",
                                   esn.config().spectral_radius());
  std::printf(
      "reservoir: %lld units, %s, leak rate %g (%s in %.2f s)\n"
      "fitted on steps 0..%lld (warm-up %lld) in %.2f s; %s\n",
      static_cast<long long>(esn.reservoir().units()), reservoir.c_str(),
      esn.config().leak_rate(), task.given ? "loaded" : "drawn", create_s,
      static_cast<long long>(train - 1), static_cast<long long>(warmup), fit_s,
      ReadoutName(esn).c_str());
  if (ridge) {
    std::printf(
        "normal equations: relative residual %.3g, reciprocal condition "
        "%.3g\n",
        esn.fit_stats().residual, esn.fit_stats().rcond);
  }
  std::printf(
      "%s: train NRMSE %.3g, test NRMSE %.3g (%lld steps)\n"
      "model: %s\n",
      task.config.series().empty() ? "targets" : "one step ahead", train_nrmse,
      test_nrmse, static_cast<long long>(steps - train),
      task.model_path.c_str());
  return absl::OkStatus();
}

// `esn states`: the reservoir states the fit regresses on, as the fit
// collects them.
absl::Status States(const std::string& config_path) {
  ASSIGN_OR_RETURN(EsnTask task, LoadTask(config_path));
  RETURN_IF_ERROR(CheckTaskLimits(task));
  ASSIGN_OR_RETURN(Esn esn, MakeEsn(task));
  const int64_t warmup = esn.config().warmup();
  if (warmup >= task.train) {
    return absl::InvalidArgumentError(absl::StrCat(
        config_path, ": EsnConfig.warmup (", warmup,
        ") must be shorter than the training steps (", task.train, ")"));
  }
  EsnVector x = EsnVector::Zero(esn.reservoir().units());
  ASSIGN_OR_RETURN(EsnMatrix states, esn.reservoir().Collect(
                                         Rows(task.inputs, 0, task.train), &x));
  RETURN_IF_ERROR(WriteMatrix(flags.output, Rows(states, warmup, task.train)));
  std::printf(
      "%s: f64[%lld, %lld], the states x_t of training steps %lld..%lld "
      "(after the warm-up), from x = 0 before step 0\n",
      flags.output.c_str(), static_cast<long long>(task.train - warmup),
      static_cast<long long>(esn.reservoir().units()),
      static_cast<long long>(warmup), static_cast<long long>(task.train - 1));
  return absl::OkStatus();
}

// Prints the NRMSE of `esn predict`'s predictions for `series`, scored like
// the fit: after the warm-up, whose states still remember the zero start;
// against --targets (row t: step t's target) or, without it, the series'
// next rows (one-step forecasting), when the model's outputs can be those.
absl::Status ScorePredictions(const Esn& esn, const EsnMatrix& series,
                              const EsnMatrix& pred, int64_t max_bytes) {
  int64_t t = series.rows(), warmup = esn.config().warmup();
  const bool forecast = flags.targets.empty();
  if (forecast && (esn.outputs() != series.cols() || esn.fitted_on_targets())) {
    std::printf(
        "predicted %lld steps (%lld outputs%s; give --targets to "
        "score them)\n",
        static_cast<long long>(t), static_cast<long long>(esn.outputs()),
        esn.fitted_on_targets() ? ", fitted on separate targets" : "");
    return absl::OkStatus();
  }
  EsnMatrix targets;
  if (forecast) {
    targets = Rows(series, 1, t);
  } else {
    ASSIGN_OR_RETURN(targets, LoadSeries(flags.targets, max_bytes));
    if (targets.rows() != t || targets.cols() != esn.outputs()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flags.targets, ": targets are [", targets.rows(), ", ",
                       targets.cols(), "]; want [", t, ", ", esn.outputs(),
                       "] (a row per --series row, a column per output)"));
    }
  }
  const int64_t scored = forecast ? t - 1 : t;
  if (warmup >= scored) {
    return absl::InvalidArgumentError(absl::StrCat(
        flags.series, ": ", t, " rows; the warm-up alone takes ", warmup));
  }
  std::printf(
      "%s over steps %lld..%lld (after the warm-up): NRMSE %.3g against "
      "%s\n",
      forecast ? "one step ahead" : "predictions",
      static_cast<long long>(warmup), static_cast<long long>(scored - 1),
      Nrmse(Rows(pred, warmup, scored), Rows(targets, warmup, scored)),
      forecast ? "the series' next rows" : flags.targets.c_str());
  return absl::OkStatus();
}

absl::Status PredictOrGenerate(const std::string& model_path, bool generate) {
  const std::string& series_path = flags.series;
  const int64_t max_bytes = CommonFlags().max_file_bytes;
  ASSIGN_OR_RETURN(Esn esn, Esn::Load(model_path, max_bytes));
  ASSIGN_OR_RETURN(EsnMatrix series, LoadSeries(series_path, max_bytes));
  EsnVector x = EsnVector::Zero(esn.reservoir().units());
  const std::string& out = flags.output;
  if (!generate) {
    ASSIGN_OR_RETURN(EsnMatrix pred, esn.Predict(series, &x));
    if (!out.empty()) RETURN_IF_ERROR(WriteMatrix(out, pred));
    return ScorePredictions(esn, series, pred, max_bytes);
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
    ASSIGN_OR_RETURN(esn, Esn::Load(path, CommonFlags().max_file_bytes));
  } else {
    ASSIGN_OR_RETURN(EsnTask task, LoadTask(path));
    RETURN_IF_ERROR(Annotate(
        CheckEsnFitLimits(task.config, steps, task.inputs.cols(), budget),
        path));
    ASSIGN_OR_RETURN(esn, MakeEsn(task));
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
          StringFlag("targets", &flags.targets,
                     "For predict: the targets to score against (.npy or "
                     ".csv, row t the target of --series row t); default: "
                     "the series' next rows."),
          IntFlag("steps", &flags.steps,
                  "For generate: the steps to forecast in closed loop; for "
                  "build: the steps the graph unrolls; for mackey-glass: the "
                  "samples to write."),
          OutputFlag(&flags.output,
                     "For predict and generate: where to write the "
                     "predictions (.npy; default: not written); for build: "
                     "where to write the graph (text proto); for states: "
                     "where to write the states (.npy)."),
          MemoryBudgetFlag(),
          MaxFileFlag()};
}

absl::Status CheckEsnFlags(const Operands& operands) {
  const std::string& what = operands[0];
  if (what != "fit" && what != "states" && what != "predict" &&
      what != "generate" && what != "build" && what != "mackey-glass") {
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
  if (what == "states" && flags.output.empty()) {
    return absl::InvalidArgumentError(
        "name the states file with -o STATES.npy");
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
  if (what == "states") return States(operands[1]);
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
