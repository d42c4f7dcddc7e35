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

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
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
#include "google/protobuf/text_format.h"
#include "graph/dot.h"
#include "graph/fuse_recurrent.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "metrics/text.h"
#include "ops/registry.h"
#include "runtime/executor.h"

// Repeatable: main() collects the values (ListFlagValues); the flag is here
// for --help and so that absl accepts it.
ABSL_FLAG(std::vector<std::string>, feed, {},
          "An input value, as name=file.npy; repeat the flag for more.");
ABSL_FLAG(std::vector<std::string>, fetch, {},
          "Tensors to compute, as node or node:k, comma-separated. Default: "
          "the graph's outputs.");
ABSL_FLAG(std::string, out, "",
          "Output directory, created if missing: for `run`, one "
          "DIR/<name>.npy per fetched tensor (':' and '/' become '_'); for "
          "`train`, checkpoints and metrics.csv.");
ABSL_FLAG(std::string, params, "",
          "A checkpoint whose parameters replace the graph's initial values "
          "(from `rill train`).");
ABSL_FLAG(std::string, backend, "onednn",
          "Kernels to run: onednn (f32 through oneDNN, other cases on the "
          "reference loops) or reference.");
ABSL_FLAG(bool, no_fuse, false,
          "Run recurrent layers unrolled into primitive ops, as written, "
          "instead of on the fused RecurrentLayer ops (oneDNN's RNN "
          "primitives) that the builders tag them with.");
ABSL_FLAG(int64_t, memory_budget_mb, 8192,
          "Memory that a graph's values and activations may take, in MiB; "
          "checked before allocating.");
ABSL_FLAG(std::string, threads, "",
          "Threads the kernels use; default (or 0): OMP_NUM_THREADS if set, "
          "else the CPUs this process may use, from its CPU affinity and "
          "cgroup CPU quota. For `train`, it overrides the config's "
          "`threads`.");
ABSL_FLAG(int64_t, max_file_mb, 1024,
          "Largest graph or .npy file accepted, in MiB; checked before "
          "reading.");

// Defined in grad_command.cc, shared by the commands that write one file.
ABSL_DECLARE_FLAG(std::string, output);

namespace rill {

absl::StatusOr<MemoryBudget> MemoryBudgetFromFlags() {
  MemoryBudget budget;
  ASSIGN_OR_RETURN(budget.bytes,
                   MiBFlagToBytes("--memory_budget_mb",
                                  absl::GetFlag(FLAGS_memory_budget_mb)));
  return budget;
}

absl::StatusOr<int64_t> MaxFileBytesFromFlags() {
  return MiBFlagToBytes("--max_file_mb", absl::GetFlag(FLAGS_max_file_mb));
}

absl::StatusOr<int64_t> ThreadsFlag() {
  std::string text = absl::GetFlag(FLAGS_threads);
  int64_t threads = -1;
  if (!text.empty() && (!absl::SimpleAtoi(text, &threads) || threads < 0 ||
                        threads > kMaxThreads)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads ", text, ": give a count in [0, ", kMaxThreads,
                     "] (0: the CPUs this process may use)"));
  }
  return threads;
}

absl::StatusOr<ValidGraph> LoadAndValidate(const std::string& path, bool fuse) {
  LoadOptions load;
  ASSIGN_OR_RETURN(load.max_file_bytes, MaxFileBytesFromFlags());
  ASSIGN_OR_RETURN(MemoryBudget budget, MemoryBudgetFromFlags());
  ASSIGN_OR_RETURN(LoadedGraph loaded, LoadGraphFile(path, load));
  if (fuse && !absl::GetFlag(FLAGS_no_fuse)) {
    absl::StatusOr<int> fused = FuseRecurrentLayers(&loaded.graph);
    if (!fused.ok()) return Annotate(fused.status(), path);
  }
  ValidateOptions validate;
  validate.memory_budget = budget.bytes;
  return ValidateGraph(std::move(loaded), validate);
}

absl::StatusOr<std::string> TextGraphOutput(const std::string& what) {
  std::string out = absl::GetFlag(FLAGS_output);
  if (out.empty()) {
    return absl::InvalidArgumentError("name the output file with -o OUT.pbtxt");
  }
  if (!IsTextGraphPath(out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("-o ", out, ": ", what,
                     " is written as text proto, so the name must end in "
                     ".pbtxt, .txt or .textproto"));
  }
  return out;
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

// "x=data/x.npy" -> {"x", "data/x.npy"}
absl::StatusOr<std::map<std::string, Tensor>> ReadFeeds() {
  ASSIGN_OR_RETURN(int64_t max_bytes, MaxFileBytesFromFlags());
  std::map<std::string, Tensor> feeds;
  for (const std::string& spec : ListFlagValues("feed")) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(spec, absl::MaxSplits('=', 1));
    if (kv.first.empty() || kv.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--feed '", spec, "' is not of the form name=file.npy"));
    }
    if (feeds.count(kv.first)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--feed names '", kv.first, "' twice"));
    }
    ASSIGN_OR_RETURN(feeds[kv.first], ReadNpy(kv.second, max_bytes));
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
  ASSIGN_OR_RETURN(int64_t max_bytes, MaxFileBytesFromFlags());
  ASSIGN_OR_RETURN(Checkpoint c, ReadCheckpoint(path, max_bytes));
  return CopyParameterValues(CheckpointParameters(c),
                             executor.mutable_parameters(), true, path);
}

absl::Status Run(const std::vector<std::string>& operands) {
  ASSIGN_OR_RETURN(Backend backend, ParseBackend(absl::GetFlag(FLAGS_backend)));
  ASSIGN_OR_RETURN(ValidGraph g, LoadAndValidate(operands[0], true));
  std::vector<std::string> fetches = absl::GetFlag(FLAGS_fetch);
  if (fetches.empty())
    fetches.assign(g.proto().output().begin(), g.proto().output().end());
  if (fetches.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        operands[0],
        ": the graph declares no outputs; name them with --fetch"));
  }
  std::string out_dir = absl::GetFlag(FLAGS_out);
  std::set<std::string> files;
  for (const std::string& f : fetches) {
    if (!files.insert(FetchFileName(f)).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "two fetches would both be written to ", FetchFileName(f)));
    }
  }
  using FeedMap = std::map<std::string, Tensor>;
  ASSIGN_OR_RETURN(FeedMap feeds, ReadFeeds());
  ExecutorOptions options;
  options.backend = backend;
  ASSIGN_OR_RETURN(std::unique_ptr<Executor> executor,
                   Executor::Create(std::move(g), options));
  std::string params = absl::GetFlag(FLAGS_params);
  if (!params.empty()) RETURN_IF_ERROR(LoadParams(params, *executor));
  ASSIGN_OR_RETURN(std::vector<Tensor> results, executor->Run(feeds, fetches));
  // Everything is computed before the first file is written.
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat(
          "cannot create --out directory ", out_dir, ": ", ec.message()));
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
  std::printf(
      "ran %d kernel%s (%d oneDNN, %d fused MatMul chain%s) on %s; "
      "activations %s planned (%s without reuse)\n",
      s.num_kernels, s.num_kernels == 1 ? "" : "s", s.onednn_kernels,
      s.fused_chains, s.fused_chains == 1 ? "" : "s", BackendName(backend),
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

absl::Status Dot(const std::vector<std::string>& operands) {
  ASSIGN_OR_RETURN(ValidGraph g, LoadAndValidate(operands[0]));
  ASSIGN_OR_RETURN(std::string dot, ToDot(g));
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
       {"memory_budget_mb", "max_file_mb"},
       1,
       Check},
      {"run",
       "Run a graph on .npy inputs.",
       "run GRAPH [--feed name=file.npy ...] [--fetch a,b] [--out DIR] "
       "[--params CKPT]",
       "Runs GRAPH with the fed inputs and prints each fetched tensor's "
       "dtype,\n"
       "shape and a summary. With --out, also writes DIR/<name>.npy for each,\n"
       "atomically: a file is either complete or absent.",
       {"feed", "fetch", "out", "backend", "params", "no_fuse", "threads",
        "memory_budget_mb", "max_file_mb"},
       1,
       Run},
      {"dot",
       "Print a graph as Graphviz DOT.",
       "dot GRAPH",
       "Validates GRAPH and prints it in Graphviz DOT on stdout, edges\n"
       "labelled with dtype and shape. Render with: rill dot g.pbtxt | dot "
       "-Tsvg",
       {"memory_budget_mb", "max_file_mb"},
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
      {"train",
       "Train a model from a TrainConfig text proto.",
       "train CONFIG [--out DIR] [--resume CKPT_OR_DIR | --overwrite]\n"
       "      [--check_numerics]",
       "Trains the graph (or model spec, built as `rill build` does) that\n"
       "CONFIG (a rill.TrainConfig text proto; see proto/train.proto)\n"
       "names: batches of its .npy data, its optimizer and\n"
       "learning-rate schedule, gradient clipping and accumulation. Prints a\n"
       "progress line every log_every steps, writes DIR/metrics.csv, and\n"
       "writes checkpoints DIR/ckpt-<step>.rckpt (the last keep_checkpoints\n"
       "of this run). Ctrl-C writes a checkpoint and stops; --resume\n"
       "continues exactly where a checkpoint left off (metrics.csv is cut\n"
       "back to its step). A fresh run refuses a DIR that holds another\n"
       "run unless --overwrite. DIR defaults to train_out.",
       {"out", "resume", "overwrite", "check_numerics", "backend", "no_fuse",
        "threads", "memory_budget_mb"},
       1,
       RunTrain},
      {"esn",
       "Echo State Networks: fit, predict, generate, build; Mackey-Glass "
       "data.",
       "esn fit CONFIG | esn predict MODEL --series FILE [-o OUT.npy] | esn "
       "generate MODEL --series FILE --steps N [-o OUT.npy] | esn build "
       "MODEL|CONFIG --steps N -o OUT.pbtxt | esn mackey-glass OUT.npy "
       "--steps N",
       "fit: reads an EsnConfig text proto (proto/esn.proto), draws the\n"
       "reservoir, fits the readout by ridge regression on the first\n"
       "train_fraction of the series (one step ahead), prints the train and\n"
       "test NRMSE, and saves the model (its `output`).\n"
       "predict: teacher-forced one-step predictions over --series.\n"
       "generate: teacher-forces --series, then forecasts --steps in closed\n"
       "loop, feeding each output back as the next input.\n"
       "build: writes the ESN as a graph of --steps unrolled state updates\n"
       "(inputs u and x0, the states, the readout y and an MSE loss against\n"
       "target; see models/esn_graph.h), from a fitted MODEL (.rckpt) or\n"
       "from a CONFIG (a zero readout, the Parameter esn/w_out to train),\n"
       "for rill run, dot and grad.\n"
       "mackey-glass: writes --steps samples of the Mackey-Glass series\n"
       "(tau 17, a 0.2, b 0.1, n 10, x0 1.2; see models/mackey_glass.h).",
       {"series", "steps", "output", "memory_budget_mb"},
       2,
       RunEsn,
       {{"o", "output"}}},
      {"grad",
       "Write a graph's gradient graph as text proto.",
       "grad GRAPH --loss NAME (--wrt a,b | --wrt-params) -o OUT.pbtxt",
       "Differentiates GRAPH: writes OUT.pbtxt holding GRAPH's nodes plus\n"
       "the primitive-op nodes that compute the gradient of the loss with\n"
       "respect to each --wrt tensor (or every Parameter), named\n"
       "<node>/grad/...; the gradient of w is the node w/grad, and the\n"
       "outputs are GRAPH's, the loss, then the gradients. `rill run` runs\n"
       "it. The loss must have one element unless --seed_inputs gives every\n"
       "loss an Input node <loss>/grad/seed to feed its gradient.",
       {"loss", "wrt", "wrt_params", "seed_inputs", "allow_unreached",
        "no_fuse", "output", "memory_budget_mb", "max_file_mb"},
       1,
       RunGrad,
       {{"o", "output"}}},
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
       "saved as DIR/<key>.npy (weight_ih_l0.npy, ..., head.weight.npy).",
       {"output", "weights", "memory_budget_mb", "max_file_mb"},
       1,
       RunBuild,
       {{"o", "output"}}},
      {"export-weights",
       "Write a model's weights as PyTorch state_dict .npy files.",
       "export-weights GRAPH [--params CKPT] -o DIR",
       "Writes DIR/<key>.npy for every Parameter of GRAPH (a recurrent\n"
       "stack and head, as `rill build` makes them) under its PyTorch\n"
       "state_dict name: weight_ih_l0, ..., bias_hh_l1_reverse for the\n"
       "stack, head.weight and head.bias for the head. The values are the\n"
       "graph's, or a trained checkpoint's (--params, from `rill train`).",
       {"params", "output", "memory_budget_mb", "max_file_mb"},
       1,
       RunExportWeights,
       {{"o", "output"}}},
      {"decode",
       "Translate text with a trained seq2seq Transformer.",
       "decode SPEC --params CKPT [-i SRC.txt] [-o OUT.txt] [--beam 4] "
       "[--length_penalty 0.6] [--strategy cache|recompute]",
       "Decodes each line of -i (or stdin), tokens separated by blanks, with\n"
       "the seq2seq model of SPEC (proto/model.proto) and the parameters of\n"
       "a `rill train` checkpoint, by beam search (--beam 1: greedy), and\n"
       "writes one line of tokens per source to -o (or stdout). Tokens map\n"
       "to ids through the spec's seq2seq.vocab file. A summary with the\n"
       "timings goes to stderr.",
       {"params", "input", "output", "beam", "length_penalty", "strategy",
        "threads", "batch_size", "backend", "memory_budget_mb", "max_file_mb"},
       1,
       RunDecode,
       {{"i", "input"}, {"o", "output"}}},
      {"bleu",
       "Score translations with BLEU (sacreBLEU-compatible).",
       "bleu -r REF [-r REF ...] [-i HYP] [--tokenize 13a] [--smooth exp] "
       "[--lowercase] [--sentence] [--format text|json]",
       "Scores the hypotheses (-i, or stdin) against one or more reference\n"
       "files, one segment per line, as sacreBLEU 2.x does, and prints\n"
       "BLEU|<signature> = score p1/p2/p3/p4 (BP = ... ratio = ... hyp_len\n"
       "= ... ref_len = ...). With --sentence, one line per segment. The\n"
       "files must be UTF-8 with equal line counts; nothing is scored\n"
       "otherwise.",
       {"ref", "input", "tokenize", "smooth", "smooth_value", "max_order",
        "lowercase", "effective_order", "sentence", "format"},
       0,
       RunBleu,
       {{"r", "ref"}, {"i", "input"}}},
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
       {"vocab", "input", "output", "lowercase", "mode", "pieces",
        "max_input_chars_per_word", "build_vocab"},
       0,
       RunTokenize,
       {{"i", "input"}, {"o", "output"}},
       CheckTokenizeFlags},
  };
  return *commands;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : AllCommands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

bool IsListFlag(const std::string& name) {
  return name == "feed" || name == "ref";
}

namespace {
std::map<std::string, std::vector<std::string>>& ListFlagStore() {
  static auto* store = new std::map<std::string, std::vector<std::string>>;
  return *store;
}
}  // namespace

void SetListFlagValues(std::map<std::string, std::vector<std::string>> values) {
  ListFlagStore() = std::move(values);
}

const std::vector<std::string>& ListFlagValues(const std::string& name) {
  return ListFlagStore()[name];
}

}  // namespace rill
