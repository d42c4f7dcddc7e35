// The graph subcommands: check, run, dot.

#include "tools/commands.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/checkpoint.h"
#include "core/file_io.h"
#include "core/limits.h"
#include "core/npy.h"
#include "core/tensor_proto.h"
#include "core/threads.h"
#include "core/version.h"
#include "google/protobuf/text_format.h"
#include "graph/dot.h"
#include "graph/fuse_recurrent.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "metrics/text.h"
#include "ops/registry.h"
#include "runtime/executor.h"
#include "runtime/model.h"
#include "tools/feed_cast.h"

namespace rill {
namespace {

CommonFlagValues& MutableCommonFlags() {
  static auto* values = new CommonFlagValues;
  return *values;
}

// A size flag in MiB, stored in bytes.
Flag MiBFlag(const char* name, int64_t* bytes, std::string help) {
  return {name,
          {},
          std::move(help),
          absl::StrCat(*bytes >> 20),
          Flag::kValue,
          [name, bytes](const std::string& text) -> absl::Status {
            int64_t mib = 0;
            if (!absl::SimpleAtoi(text, &mib)) {
              return FlagValueError(name, text, "not a whole number of MiB");
            }
            ASSIGN_OR_RETURN(*bytes,
                             MiBFlagToBytes(absl::StrCat("--", name), mib));
            return absl::OkStatus();
          }};
}

}  // namespace

const CommonFlagValues& CommonFlags() { return MutableCommonFlags(); }

Flag MemoryBudgetFlag() {
  return MiBFlag("memory_budget_mb", &MutableCommonFlags().memory_budget.bytes,
                 "Memory that the command's values and activations may take, "
                 "in MiB; checked before allocating.");
}

Flag MaxFileFlag() {
  return MiBFlag("max_file_mb", &MutableCommonFlags().max_file_bytes,
                 "Largest graph, .npy or checkpoint file accepted, in MiB; "
                 "checked before reading.");
}

Flag ThreadsFlag() {
  int64_t* threads = &MutableCommonFlags().threads;
  return {"threads",
          {},
          "Threads the kernels use; default (or 0): OMP_NUM_THREADS if set, "
          "else the CPUs this process may use, from its CPU affinity and "
          "cgroup CPU quota.",
          "",
          Flag::kValue,
          [threads](const std::string& text) {
            if (!absl::SimpleAtoi(text, threads) || *threads < 0 ||
                *threads > kMaxThreads) {
              return FlagValueError(
                  "threads", text,
                  absl::StrCat("give a count in [0, ", kMaxThreads,
                               "] (0: the CPUs this process may use)"));
            }
            return absl::OkStatus();
          }};
}

Flag BackendFlag() {
  return ParsedFlag<Backend>(
      "backend", &MutableCommonFlags().backend, "onednn",
      "Kernels to run: onednn (f32 through oneDNN, other cases on the "
      "reference loops) or reference.",
      ParseBackend);
}

Flag NoFuseFlag() {
  return SwitchFlag("no_fuse", &MutableCommonFlags().no_fuse,
                    "Run recurrent layers unrolled into primitive ops, as "
                    "written, instead of on the fused RecurrentLayer ops "
                    "(oneDNN's RNN primitives) that the fusion pass finds.");
}

Flag PrecisionFlag() {
  return ChoiceFlag(
      "precision", &MutableCommonFlags().precision, {"f32", "bf16", "bf16_all"},
      "bf16 runs the f32 matrix products (MatMul and its fused chains) on "
      "bf16 operands with f32 accumulation, as mixed precision does: "
      "parameters and everything else stay f32. MatMuls too small to gain "
      "(under 2^24 multiply-adds) stay f32; bf16_all runs every one on "
      "bf16. Needs a CPU with native bf16 (AVX512_BF16 or AMX); elsewhere "
      "rill says so and runs f32.");
}

ExecutorOptions ExecutorOptionsFromFlags() {
  ExecutorOptions options;
  options.backend = CommonFlags().backend;
  if (!CommonFlags().precision.empty()) {
    // The flag's choices are SetPrecision's names.
    SetPrecision(CommonFlags().precision, &options).IgnoreError();
  }
  return options;
}

void ReportPrecision(const std::string& precision_note) {
  if (!precision_note.empty()) {
    std::fprintf(stderr, "rill: %s\n", precision_note.c_str());
  }
}

Flag OutputFlag(std::string* path, std::string help) {
  return WithAlias(StringFlag("output", path, std::move(help)), "o");
}

Flag TextGraphOutputFlag(std::string* path, const std::string& what) {
  Flag flag = OutputFlag(
      path, absl::StrCat("Where to write ", what,
                         ", as text proto (.pbtxt, .txt or .textproto)."));
  flag.set = [path, what](const std::string& text) {
    if (!IsTextGraphPath(text)) {
      return absl::InvalidArgumentError(
          absl::StrCat("-o ", text, ": ", what,
                       " is written as text proto, so the name must end in "
                       ".pbtxt, .txt or .textproto"));
    }
    *path = text;
    return absl::OkStatus();
  };
  return flag;
}

absl::Status CheckTextGraphOutput(const std::string& path) {
  return path.empty() ? absl::InvalidArgumentError(
                            "name the output file with -o OUT.pbtxt")
                      : absl::OkStatus();
}

absl::StatusOr<ValidGraph> LoadAndValidate(const std::string& path, bool fuse) {
  LoadOptions load;
  load.max_file_bytes = CommonFlags().max_file_bytes;
  ASSIGN_OR_RETURN(LoadedGraph loaded, LoadGraphFile(path, load));
  if (fuse && !CommonFlags().no_fuse) {
    absl::StatusOr<int> fused = FuseRecurrentLayers(&loaded.graph);
    if (!fused.ok()) return Annotate(fused.status(), path);
  }
  ValidateOptions validate;
  validate.memory_budget = CommonFlags().memory_budget.bytes;
  return ValidateGraph(std::move(loaded), validate);
}

absl::StatusOr<Checkpoint> ReadParamsCheckpoint(const std::string& path) {
  ASSIGN_OR_RETURN(std::string file, CheckpointFile(path));
  return ReadCheckpoint(file, CommonFlags().max_file_bytes);
}

absl::Status WriteTextGraph(const Graph& graph, const std::string& path) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(graph, &text)) {
    return absl::InternalError(absl::StrCat(path, ": cannot print the graph"));
  }
  return WriteFileAtomic(path, text);
}

namespace {

absl::Status Check(const std::vector<std::string>& operands) {
  ASSIGN_OR_RETURN(ValidGraph g, LoadAndValidate(operands[0]));
  std::map<std::string, int> op_counts;
  int64_t param_count = 0, param_values = 0, param_bytes = 0;
  for (int i = 0; i < g.num_nodes(); ++i) {
    ++op_counts[g.node(i).op()];
    if (g.node(i).op() != "Parameter") continue;
    const NodeInfo& info = g.info(i);
    ++param_count;
    param_values += *info.shapes[0].NumElements();
    param_bytes += *info.shapes[0].ByteSize(info.dtypes[0]);
  }
  std::vector<std::string> ops;
  for (const auto& [op, count] : op_counts)
    ops.push_back(absl::StrCat(op, " ", count));
  std::printf("%s: OK\n", operands[0].c_str());
  std::printf("  nodes:      %d (%s)\n", g.num_nodes(),
              absl::StrJoin(ops, ", ").c_str());
  std::printf("  parameters: %lld tensor%s, %lld values, %s\n",
              static_cast<long long>(param_count), param_count == 1 ? "" : "s",
              static_cast<long long>(param_values),
              HumanBytes(param_bytes).c_str());
  for (int n : g.input_nodes()) {
    std::printf("  input:      %s %s\n", g.node(n).name().c_str(),
                TypedShape(g.info(n).dtypes[0], g.info(n).shapes[0]).c_str());
  }
  for (const TensorRef& o : g.outputs()) {
    std::printf("  output:     %s %s\n", g.RefName(o).c_str(),
                TypedShape(g.info(o.node).dtypes[o.output],
                           g.info(o.node).shapes[o.output])
                    .c_str());
  }
  return absl::OkStatus();
}

// The flags of `rill run`.
struct {
  std::map<std::string, std::string> feeds;  // Input name -> .npy file.
  std::vector<std::string> fetches;
  std::string output, params;
  std::string cast_feeds = "none";
  bool training = false;
} run_flags;

// --feed name=file.npy, once per input.
Flag FeedFlag() {
  return {"feed",
          {},
          "An input value, as name=file.npy; repeat the flag for more "
          "inputs.",
          "",
          Flag::kRepeated,
          [](const std::string& spec) {
            std::pair<std::string, std::string> kv =
                absl::StrSplit(spec, absl::MaxSplits('=', 1));
            if (kv.first.empty() || kv.second.empty()) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "--feed '", spec, "' is not of the form name=file.npy"));
            }
            if (!run_flags.feeds.insert(kv).second) {
              return absl::InvalidArgumentError(
                  absl::StrCat("--feed names '", kv.first, "' twice"));
            }
            return absl::OkStatus();
          }};
}

std::vector<Flag> RunFlags() {
  return {FeedFlag(),
          ListFlag("fetch", &run_flags.fetches,
                   "Tensors to compute, as node or node:k, comma-separated. "
                   "Default: the graph's outputs."),
          WithAlias(OutputFlag(&run_flags.output,
                               "A directory, created if missing, to write "
                               "each fetched tensor to as <name>.npy (':' and "
                               "'/' become '_'; fetches that would share a "
                               "file are refused)."),
                    "out"),
          ChoiceFlag("cast_feeds", &run_flags.cast_feeds,
                     {"none", "exact", "lossy"},
                     "Convert a feed of another dtype to its input's: exact "
                     "when every value converts exactly (0.5 f64 -> f32, "
                     "integral floats -> ints), lossy also rounding to the "
                     "nearest float; never overflow, fractions into ints or "
                     "out-of-range values."),
          StringFlag("params", &run_flags.params,
                     "A `rill train` checkpoint (or a directory, for its "
                     "newest) whose parameters replace the graph's initial "
                     "values."),
          SwitchFlag("training", &run_flags.training,
                     "Run in training mode: Dropout drops (seeded by its "
                     "attrs). Default: inference mode, Dropout is the "
                     "identity."),
          BackendFlag(),
          PrecisionFlag(),
          NoFuseFlag(),
          ThreadsFlag(),
          MemoryBudgetFlag(),
          MaxFileFlag()};
}

// The --feed files, each converted to its Input's declared dtype as far as
// --cast_feeds allows (a name that is no Input is left for the executor to
// refuse).
absl::StatusOr<std::map<std::string, Tensor>> ReadFeeds(const ValidGraph& g) {
  const FeedCast cast = run_flags.cast_feeds == "exact"   ? FeedCast::kExact
                        : run_flags.cast_feeds == "lossy" ? FeedCast::kLossy
                                                          : FeedCast::kNone;
  std::map<std::string, Tensor> feeds;
  for (const auto& [name, path] : run_flags.feeds) {
    ASSIGN_OR_RETURN(Tensor t, ReadNpy(path, CommonFlags().max_file_bytes));
    const int node = g.FindNode(name);
    if (node >= 0 && g.node(node).op() == "Input") {
      ASSIGN_OR_RETURN(
          t, CastFeed(t, g.info(node).dtypes[0], cast,
                      absl::StrCat("feed '", name, "' (", path, ")")));
    }
    feeds[name] = std::move(t);
  }
  return feeds;
}

std::string FetchFileName(const std::string& fetch) {
  return absl::StrCat(absl::StrReplaceAll(fetch, {{":", "_"}, {"/", "_"}}),
                      ".npy");
}

// min / mean / max and the first values, for a quick look at a result.
std::string Summarize(const Tensor& t) {
  if (t.num_elements() == 0) return "(empty)";
  double lo = t.ElementAsDouble(0), hi = t.ElementAsDouble(0), sum = 0;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    lo = std::min(lo, t.ElementAsDouble(i));
    hi = std::max(hi, t.ElementAsDouble(i));
    sum += t.ElementAsDouble(i);
  }
  std::vector<std::string> head;
  for (int64_t i = 0; i < std::min<int64_t>(t.num_elements(), 6); ++i) {
    head.push_back(absl::StrFormat("%.6g", t.ElementAsDouble(i)));
  }
  return absl::StrFormat("min %.6g mean %.6g max %.6g  [%s%s]", lo,
                         sum / t.num_elements(), hi, absl::StrJoin(head, ", "),
                         t.num_elements() > 6 ? ", ..." : "");
}

// Replaces every Parameter's value with the checkpoint's "param/<name>":
// all of them, of the same dtype and shape, or nothing at all.
absl::Status LoadParams(const std::string& path, Executor& executor) {
  ASSIGN_OR_RETURN(std::string file, CheckpointFile(path));
  return executor.OverwriteParameters(
      [&](const std::map<std::string, Tensor*>& params) {
        return ReadParameterValues(file, params, /*use_all=*/true,
                                   CommonFlags().max_file_bytes);
      });
}

absl::Status Run(const std::vector<std::string>& operands) {
  // An exported model (runtime/model.h) brings its weights.
  std::string graph_file = operands[0], model_weights;
  if (IsModelDir(operands[0])) {
    ASSIGN_OR_RETURN(ModelManifest model, ReadModelManifest(operands[0]));
    graph_file = model.graph;
    model_weights = model.weights;
  }
  ASSIGN_OR_RETURN(ValidGraph g, LoadAndValidate(graph_file, true));
  std::vector<std::string> fetches = run_flags.fetches;
  if (fetches.empty())
    fetches.assign(g.proto().output().begin(), g.proto().output().end());
  if (fetches.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        operands[0],
        ": the graph declares no outputs; name them with --fetch"));
  }
  const std::string& out_dir = run_flags.output;
  // The file name mapping is not injective ("a/b" and "a_b" share a_b.npy),
  // so fetches that would overwrite each other are refused before running.
  std::map<std::string, std::string> fetch_of_file;
  for (const std::string& f : fetches) {
    if (out_dir.empty()) break;
    auto [it, fresh] = fetch_of_file.emplace(FetchFileName(f), f);
    if (!fresh) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fetches '", it->second, "' and '", f, "' would both be written to ",
          it->first, " in ", out_dir, "; fetch them in separate runs"));
    }
  }
  using FeedMap = std::map<std::string, Tensor>;
  ASSIGN_OR_RETURN(FeedMap feeds, ReadFeeds(g));
  ExecutorOptions options = ExecutorOptionsFromFlags();
  options.training = run_flags.training;
  ASSIGN_OR_RETURN(std::unique_ptr<Executor> executor,
                   Executor::Create(std::move(g), options));
  ReportPrecision(executor->precision_note());
  const std::string& params =
      run_flags.params.empty() ? model_weights : run_flags.params;
  if (!params.empty()) RETURN_IF_ERROR(LoadParams(params, *executor));
  ASSIGN_OR_RETURN(std::vector<Tensor> results, executor->Run(feeds, fetches));
  // Everything is computed before the first file is written.
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("cannot create -o directory ",
                                                 out_dir, ": ", ec.message()));
    }
  }
  for (size_t i = 0; i < fetches.size(); ++i) {
    std::string where;
    if (!out_dir.empty()) {
      where = absl::StrCat(out_dir, "/", FetchFileName(fetches[i]));
      RETURN_IF_ERROR(WriteNpy(where, results[i]));
      where = absl::StrCat(" -> ", where);
    }
    std::printf("%s %s%s\n  %s\n", fetches[i].c_str(),
                TypedShape(results[i].dtype(), results[i].shape()).c_str(),
                where.c_str(), Summarize(results[i]).c_str());
  }
  const PlanStats& s = executor->last_plan_stats();
  const std::string bf16 =
      s.bf16_kernels > 0 ? absl::StrCat(", ", s.bf16_kernels, " on bf16") : "";
  std::printf(
      "ran %d kernel%s (%d oneDNN, %d fused MatMul chain%s%s) on %s in %s "
      "mode; activations %s planned (%s without reuse)\n",
      s.num_kernels, s.num_kernels == 1 ? "" : "s", s.onednn_kernels,
      s.fused_chains, s.fused_chains == 1 ? "" : "s", bf16.c_str(),
      BackendName(executor->backend()),
      executor->training() ? "training" : "inference",
      HumanBytes(s.planned_peak_bytes).c_str(),
      HumanBytes(s.unshared_bytes).c_str());
  return absl::OkStatus();
}

// A default value as a user would write it: 0, 1e-05, true, "mean", [1, 2].
std::string AttrValueText(const AttrValue& v) {
  switch (v.value_case()) {
    case AttrValue::kI:
      return absl::StrCat(v.i());
    case AttrValue::kF:
      return absl::StrCat(v.f());
    case AttrValue::kB:
      return v.b() ? "true" : "false";
    case AttrValue::kS:
      return absl::StrCat("\"", v.s(), "\"");
    case AttrValue::kType:
      return DataType_Name(v.type());
    case AttrValue::kShape:
      return ShapeFromProto(v.shape()).ToString();
    case AttrValue::kList:
      if (v.list().i_size() > 0)
        return absl::StrCat("[", absl::StrJoin(v.list().i(), ", "), "]");
      if (v.list().f_size() > 0)
        return absl::StrCat("[", absl::StrJoin(v.list().f(), ", "), "]");
      return "[]";
    default:
      return v.ShortDebugString();
  }
}

// One op's signature: "Add(a: T, b: T) -> z  T in {f32, f64}".
std::string OpSignature(const OpDef& op) {
  std::vector<std::string> ins, outs, vars, attrs;
  for (size_t i = 0; i < op.inputs().size(); ++i) {
    const ArgDef& a = op.inputs()[i];
    bool repeats = op.variadic_input() && i + 1 == op.inputs().size();
    ins.push_back(absl::StrCat(a.name, ": ", a.type_var, repeats ? "..." : ""));
    std::string var = absl::StrCat(a.type_var, " in ",
                                   op.AllowedTypes(a.type_var).ToString());
    if (std::find(vars.begin(), vars.end(), var) == vars.end())
      vars.push_back(var);
  }
  for (const ArgDef& o : op.outputs()) outs.push_back(o.name);
  for (const AttrDef& a : op.attrs()) {
    std::string value =
        a.default_value.has_value()
            ? absl::StrCat(" = ", AttrValueText(*a.default_value))
            : " (required)";
    attrs.push_back(absl::StrCat(a.name, ": ", AttrTypeName(a.type), value));
  }
  std::string out = absl::StrCat(op.name(), "(", absl::StrJoin(ins, ", "),
                                 ") -> ", absl::StrJoin(outs, ", "));
  if (!vars.empty()) absl::StrAppend(&out, "  ", absl::StrJoin(vars, "; "));
  for (const std::string& a : attrs) absl::StrAppend(&out, "\n    attr ", a);
  return out;
}

absl::Status Ops(const std::vector<std::string>& operands) {
  const OpRegistry& registry = GlobalOpRegistry();
  std::vector<std::string> names = registry.Names();
  if (!operands.empty()) {
    if (registry.Find(operands[0]) == nullptr) {
      return absl::NotFoundError(absl::StrCat("no op named '", operands[0],
                                              "'; 'rill ops' lists them"));
    }
    names = {operands[0]};
  }
  for (const std::string& name : names) {
    const OpDef& op = *registry.Find(name);
    std::printf("%s\n    %s\n", OpSignature(op).c_str(), op.doc().c_str());
  }
  return absl::OkStatus();
}

absl::Status Version(const std::vector<std::string>&) {
  std::printf("%s\n", kRillVersion);
  return absl::OkStatus();
}

DotOptions dot_flags;

absl::Status Dot(const std::vector<std::string>& operands) {
  ASSIGN_OR_RETURN(ValidGraph g, LoadAndValidate(operands[0]));
  ASSIGN_OR_RETURN(std::string dot, ToDot(g, dot_flags));
  std::fputs(dot.c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ReadTextLines(
    const std::string& path) {
  constexpr int64_t kMaxTextBytes = int64_t{1} << 30;
  std::string text;
  if (path.empty()) {
    text.assign(std::istreambuf_iterator<char>(std::cin),
                std::istreambuf_iterator<char>());
  } else {
    ASSIGN_OR_RETURN(text, ReadFileCapped(path, kMaxTextBytes));
  }
  return SplitTextLines(text, path.empty() ? "<stdin>" : path);
}

std::string TypedShape(DType dtype, const Shape& shape) {
  return absl::StrCat(DTypeName(dtype), shape.ToString());
}

const std::vector<Command>& AllCommands() {
  static const auto* commands = new std::vector<Command>{
      {"check",
       "Validate a graph and infer its shapes.",
       "check GRAPH",
       "Loads GRAPH (text format if it ends in .pbtxt, .txt or .textproto;\n"
       "binary otherwise), validates it and infers shapes. Prints a summary\n"
       "and exits 0, or prints the first error with its file:line:col and\n"
       "node and exits 1.",
       {MemoryBudgetFlag(), MaxFileFlag()},
       1,
       Check},
      {"run", "Run a graph on .npy inputs.",
       "run GRAPH|MODEL [--feed name=file.npy ...] [--fetch a,b] [-o DIR] "
       "[--params CKPT_OR_DIR] [--training]",
       "Runs GRAPH (or a MODEL directory from `rill export`, with its\n"
       "weights) with the fed inputs and prints each fetched tensor's "
       "dtype,\n"
       "shape and a summary. With -o, also writes DIR/<name>.npy for each,\n"
       "atomically: a file is either complete or absent. Runs in inference\n"
       "mode (Dropout is the identity) unless --training.",
       RunFlags(), 1, Run},
      {"dot",
       "Print a graph as Graphviz DOT.",
       "dot GRAPH [--fetch A,B] [--group_scopes]",
       "Validates GRAPH and prints it in Graphviz DOT on stdout, edges\n"
       "labelled with dtype and shape. Render with: rill dot g.pbtxt | dot "
       "-Tsvg",
       {ListFlag("fetch", &dot_flags.fetches,
                 "Draw only what these tensors (node or node:k, "
                 "comma-separated) need. Default: the whole graph."),
        SwitchFlag("group_scopes", &dot_flags.group_scopes,
                   "Box the nodes of each / scope (layer0/attn/...) in a "
                   "labelled cluster."),
        MemoryBudgetFlag(), MaxFileFlag()},
       1,
       Dot},
      {"ops",
       "List the ops, their inputs, attributes and docs.",
       "ops [OP]",
       "Prints every registered op (or just OP): its inputs with their\n"
       "dtype constraints, outputs, attributes with defaults, and what it\n"
       "computes.",
       {},
       -1,
       Ops},
      {"train", "Train a model from a TrainConfig text proto.",
       "train CONFIG [-o DIR] [--resume CKPT_OR_DIR | --overwrite]\n"
       "      [--init_from CKPT_OR_DIR] [--check_numerics]",
       "Trains the graph (or model spec, built as `rill build` does) that\n"
       "CONFIG (a rill.TrainConfig text proto; see proto/train.proto)\n"
       "names: batches of its .npy data, its optimizer and\n"
       "learning-rate schedule, gradient clipping and accumulation. Prints a\n"
       "progress line every log_every steps, writes DIR/metrics.csv, and\n"
       "writes checkpoints DIR/ckpt-<step>.rckpt (the last keep_checkpoints\n"
       "of this run). Ctrl-C writes a checkpoint and stops; --resume\n"
       "continues exactly where a checkpoint left off (metrics.csv is cut\n"
       "back to its step). A fresh run refuses a DIR that holds another\n"
       "run unless --overwrite. DIR defaults to train_out. --init_from\n"
       "(or the config's init_from) starts from pretrained parameters,\n"
       "matched by name; the config's freeze patterns keep some fixed.",
       TrainFlags(), 1, RunTrain, CheckTrainFlags},
      {"plot", "Draw a run's metrics.csv as SVG line charts.",
       "plot METRICS.csv -o OUT.svg",
       "Draws one panel per column of METRICS.csv (from rill train) against\n"
       "the step, with val_<x> in the panel of <x>, as an SVG image.",
       PlotFlags(), 1, RunPlot, CheckPlotFlags},
      {"esn",
       "Echo State Networks: fit, predict, generate, build; Mackey-Glass "
       "data.",
       "esn fit CONFIG | esn states CONFIG -o STATES.npy | esn predict MODEL "
       "--series FILE [--targets FILE] [-o OUT.npy] | esn "
       "generate MODEL --series FILE --steps N [-o OUT.npy] | esn build "
       "MODEL|CONFIG --steps N -o OUT.pbtxt | esn mackey-glass OUT.npy "
       "--steps N",
       "fit: reads an EsnConfig text proto (proto/esn.proto), draws the\n"
       "reservoir (or loads the given reservoir_w, reservoir_w_in and\n"
       "reservoir_b), fits the readout by ridge regression (ridge 0: least\n"
       "squares) on the first train_fraction of the steps (a series, one\n"
       "step ahead, or inputs and targets), prints the normal equations'\n"
       "relative residual and the train and test NRMSE, and saves the model\n"
       "(its `output`).\n"
       "states: writes the states the fit regresses on, f64[train - warmup,\n"
       "units]: row i is the state after training step warmup + i, from a\n"
       "zero state before step 0.\n"
       "predict: teacher-forced predictions over --series, scored against\n"
       "--targets or, without it, the series' next rows.\n"
       "generate: teacher-forces --series, then forecasts --steps in closed\n"
       "loop, feeding each output back as the next input.\n"
       "build: writes the ESN as a graph of --steps unrolled state updates\n"
       "(inputs u and x0, the states, the readout y and an MSE loss against\n"
       "target; see models/esn_graph.h), from a fitted MODEL (.rckpt) or\n"
       "from a CONFIG (a zero readout, the Parameter esn/w_out to train),\n"
       "for rill run, dot and grad.\n"
       "mackey-glass: writes --steps samples of the Mackey-Glass series\n"
       "(tau 17, a 0.2, b 0.1, n 10, x0 1.2; see models/mackey_glass.h).",
       EsnFlags(), 2, RunEsn, CheckEsnFlags},
      {"grad", "Write a graph's gradient graph as text proto.",
       "grad GRAPH --loss NAME (--wrt a,b | --wrt_params) -o OUT.pbtxt",
       "Differentiates GRAPH: writes OUT.pbtxt holding GRAPH's nodes plus\n"
       "the primitive-op nodes that compute the gradient of the loss with\n"
       "respect to each --wrt tensor (or every Parameter), named\n"
       "<node>/grad/...; the gradient of w is the node w/grad, and the\n"
       "outputs are GRAPH's, the loss, then the gradients. `rill run` runs\n"
       "it. The loss must have one element unless --seed_inputs gives every\n"
       "loss an Input node <loss>/grad/seed to feed its gradient.",
       GradFlags(), 1, RunGrad, CheckGradFlags},
      {"build",
       "Write the graph of a model spec (recurrent stack, head, loss).",
       "build SPEC -o OUT.pbtxt [--weights DIR]",
       "Reads SPEC, a rill.ModelSpec text proto (proto/model.proto): an\n"
       "input [B, T, I], a recurrent stack (rnn_tanh, rnn_relu, lstm, gru,\n"
       "gru_pytorch; layers, bidirectional, dropout), a linear head on the\n"
       "last step (or every step) and a loss (mse against `target`, or\n"
       "cross_entropy against integer `labels`). Writes the validated graph\n"
       "as text proto, its scalar output `loss` ready for `rill train`.\n"
       "--weights DIR replaces the initial weights by a PyTorch state_dict\n"
       "saved as DIR/<key>.npy (weight_ih_l0.npy, ..., head.weight.npy).\n"
       "A spec may instead be one bare PyTorch layer (multihead_attention,\n"
       "transformer_encoder_layer, transformer_decoder_layer), whose graph\n"
       "takes forward()'s arguments as Inputs (query, key, value,\n"
       "key_padding_mask, attn_mask; src, tgt, memory, *_mask) and gives its\n"
       "results (attn_output, attn_output_weights; output), or the seq2seq\n"
       "Transformer; their weights are named as the module's state_dict\n"
       "(in_proj_weight, linear1.weight, encoder.layers.0.norm1.weight).",
       BuildFlags(), 1, RunBuild, CheckBuildFlags},
      {"import-onnx", "Import an ONNX model as a rill graph.",
       "import-onnx MODEL.onnx -o GRAPH [--weights_out CKPT]",
       "Translates MODEL.onnx (ONNX IR 3 to 8, ai.onnx opsets 7 to 17) into\n"
       "a rill graph of primitive ops: initialisers become Parameters (float)\n"
       "or Consts, graph inputs become Inputs (dim_params symbolic), graph\n"
       "outputs keep their names. Shape arithmetic on constants is folded.\n"
       "Nodes rill cannot import are listed, all of them, in one error, and\n"
       "nothing is written. --weights_out moves large Parameter values to a\n"
       "checkpoint for `rill run --params`. See the README's \"Importing\n"
       "ONNX models\".",
       ImportOnnxFlags(), 1, RunImportOnnx, CheckImportOnnxFlags},
      {"export-weights",
       "Write a model's weights as PyTorch state_dict .npy files.",
       "export-weights GRAPH [--params CKPT_OR_DIR] -o DIR",
       "Writes DIR/<key>.npy for every Parameter of GRAPH (a recurrent\n"
       "stack and head, as `rill build` makes them) under its PyTorch\n"
       "state_dict name: weight_ih_l0, ..., bias_hh_l1_reverse for the\n"
       "stack, head.weight and head.bias for the head (attention and\n"
       "Transformer graphs: their module's state_dict keys, see\n"
       "models/torch_transformer_weights.h). The values are the\n"
       "graph's, or a trained checkpoint's (--params, from `rill train`).",
       ExportWeightsFlags(), 1, RunExportWeights, CheckExportWeightsFlags},
      {"export", "Write a trained graph as an inference model.",
       "export GRAPH [--params CKPT_OR_DIR] -o MODEL [--fetch a,b]\n"
       "      [--vocab VOCAB [--lowercase]] [--labels LABELS]",
       "Writes MODEL, a directory that `rill run MODEL` and LoadModel\n"
       "(runtime/model.h) run with no --params: GRAPH cut down to what its\n"
       "fetches need (by default the outputs that need no loss input, so\n"
       "the loss and label Inputs go), every Dropout removed, and the\n"
       "parameters' values (the checkpoint's, or the graph's own) in\n"
       "MODEL/weights.rckpt. A fetch that needs a loss input is an error.\n"
       "MODEL is written as MODEL.partial and renamed when complete.",
       ExportModelFlags(), 1, RunExportModel, CheckExportModelFlags},
      {"predict", "Classify lines of text with an exported text classifier.",
       "predict MODEL -i TEXTS [--vocab V [--lowercase]] [--labels LABELS]\n"
       "      [--probabilities] [-o OUT.tsv]",
       "Reads TEXTS, one example a line (a TAB separates sentence A and B\n"
       "of a pair), tokenizes each with the WordPiece vocabulary (the one\n"
       "MODEL bundles, or --vocab) into [CLS] A [SEP] (B [SEP]), cut and\n"
       "padded to the model's sequence length as BERT does, runs MODEL (from\n"
       "`rill export`: Inputs input_ids, token_type_ids, attention_mask, an\n"
       "output logits) in inference mode in batches, and prints for each\n"
       "line its predicted label (name, or id) and, with --probabilities,\n"
       "the softmax probability of every label.",
       PredictFlags(), 1, RunPredict, CheckPredictFlags},
      {"decode", "Translate text with a trained seq2seq Transformer.",
       "decode SPEC --params CKPT_OR_DIR [-i SRC.txt] [-o OUT.txt] [--beam 4] "
       "[--length_penalty 0.6] [--strategy cache|recompute]",
       "Decodes each line of -i (or stdin), tokens separated by blanks, with\n"
       "the seq2seq model of SPEC (proto/model.proto) and the parameters of\n"
       "a `rill train` checkpoint, by beam search (--beam 1: greedy), and\n"
       "writes one line of tokens per source to -o (or stdout). Tokens map\n"
       "to ids through the spec's seq2seq.vocab file. A summary with the\n"
       "timings goes to stderr.",
       DecodeFlags(), 1, RunDecode, CheckDecodeFlags},
      {"bleu", "Score translations with BLEU (sacreBLEU-compatible).",
       "bleu -r REF [-r REF ...] [-i HYP] [--tokenize 13a] [--smooth exp] "
       "[--lowercase] [--sentence] [--format text|json]",
       "Scores the hypotheses (-i, or stdin) against one or more reference\n"
       "files, one segment per line, as sacreBLEU 2.x does, and prints\n"
       "BLEU|<signature> = score p1/p2/p3/p4 (BP = ... ratio = ... hyp_len\n"
       "= ... ref_len = ...). With --sentence, one line per segment. The\n"
       "files must be UTF-8 with equal line counts; nothing is scored\n"
       "otherwise.",
       BleuFlags(), 0, RunBleu, CheckBleuFlags},
      {"tokenize",
       "BERT WordPiece tokens of text, or a new WordPiece vocabulary.",
       "tokenize --vocab VOCAB [--lowercase] [--mode google|hf] [-i FILE] "
       "[--pieces]\n"
       "      | tokenize --build_vocab SIZE [--lowercase] [-i CORPUS] -o "
       "VOCAB",
       "Tokenizes each line of -i (or stdin) as BERT does (basic tokenizer,\n"
       "then WordPiece over VOCAB) and prints one line of ids (or, with\n"
       "--pieces, of tokens) per input line. --lowercase is BERT's uncased\n"
       "setting (it also strips accents). Invalid UTF-8 is an error naming\n"
       "the file and line, and nothing is printed.\n"
       "--build_vocab SIZE instead learns a vocabulary of SIZE tokens from\n"
       "the corpus: [PAD] [UNK] [CLS] [SEP] [MASK] first, then characters,\n"
       "then merged pieces (see the README), and writes it to -o.",
       TokenizeFlags(), 0, RunTokenize, CheckTokenizeFlags},
      {"bert",
       "BERT: pretraining and classification data (.npy for rill train); "
       "Hugging Face weights in and out.",
       "bert make-data --vocab VOCAB [--lowercase] -i CORPUS -o DIR\n"
       "      [--max_seq_length 128] [--max_predictions_per_seq 20]\n"
       "      [--masked_lm_prob 0.15] [--short_seq_prob 0.1] [--dupe_factor "
       "10]\n"
       "      [--seed 12345] [--examples_per_shard 10000]\n"
       "    | bert make-classification-data --vocab VOCAB [--lowercase] -i TSV "
       "-o DIR\n"
       "      [--max_seq_length 128] [--labels LABELS] [--bag_of_words N | "
       "--bow_vocab FILE]\n"
       "    | bert import-hf HF_DIR [--seq_length 128] "
       "[--max_predictions_per_seq 20] [--num_labels N] -o OUT.pbtxt\n"
       "    | bert export-hf GRAPH [--params CKPT_OR_DIR] -o DIR",
       "make-data: reads CORPUS (one sentence per line, a blank line between\n"
       "documents), tokenizes it as `rill tokenize` does, and makes BERT's\n"
       "pretraining examples as google-research/bert's\n"
       "create_pretraining_data.py does: [CLS] A [SEP] B [SEP] pairs, B the\n"
       "real next sentences or (half the time) another document's, and 15%\n"
       "of the tokens masked (80% [MASK], 10% random, 10% kept). Writes\n"
       "DIR/<input>-00000.npy, ... for input_ids, token_type_ids,\n"
       "attention_mask, masked_lm_positions, masked_lm_ids,\n"
       "masked_lm_weights and next_sentence_labels, which a TrainConfig\n"
       "binds with patterns (file: \"DIR/input_ids-*.npy\") and rill train\n"
       "streams. Progress and a summary go to stderr. Nothing is written on\n"
       "an error.\n"
       "make-classification-data: reads TSV (label<TAB>text, or\n"
       "label<TAB>text<TAB>text_b for sentence pairs), tokenizes it as\n"
       "make-data does, and writes DIR/input_ids.npy, token_type_ids.npy,\n"
       "attention_mask.npy ([n, max_seq_length]: [CLS] A [SEP] (B [SEP]),\n"
       "pairs truncated longest first) and labels.npy (ids of LABELS, or of\n"
       "the input's names sorted), with DIR/labels.txt; --bag_of_words N\n"
       "adds bow.npy, each text's counts of the input's N most frequent\n"
       "wordpieces (DIR/bow_vocab.txt; --bow_vocab reuses a training set's).\n"
       "Nothing is written on an error.\n"
       "import-hf: builds the BERT pretraining graph (models/bert.h) of\n"
       "HF_DIR/config.json (or --config) with the graph sizes S and P, sets\n"
       "its parameters from HF_DIR/<key>.npy (a BertForPreTraining or\n"
       "BertModel state_dict, one file per entry) and writes it; with\n"
       "--num_labels, a BertForSequenceClassification (classifier.*).\n"
       "export-hf: writes DIR/<key>.npy for every parameter of a BERT graph\n"
       "(or of a checkpoint, --params), under HF's names, with the tied\n"
       "cls.predictions.decoder.weight and .bias as copies.",
       BertFlags(), -2, RunBert, CheckBertFlags},
      {"version",
       "Print rill's version.",
       "version",
       "Prints rill's version (as `rill --version` does), the one that BLEU\n"
       "signatures name.",
       {},
       0,
       Version},
  };
  return *commands;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : AllCommands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

}  // namespace rill
