// One training step of a BERT-base encoder stack (issue 16 item 5), built
// by models/bert.h: V 30522, H 768, A 12, ff 3072, 2 layers, S 128, B 8,
// f32, GELU (erf), the padding mask, dropout 0. The step is the gradient
// graph of loss = sum(sequence_output * r): the embeddings and both layers
// forward, and the gradients of their 37 parameters (the optimizer update
// is left out, here and in PyTorch). The MLM head is timed on its own: from
// sequence_output (an Input here) to the masked-LM loss over P = 20 masked
// positions per sequence, with the gradients of its parameters (the tied
// word embeddings [V, H] among them) and of sequence_output. The oneDNN
// matmul peak (a 2048^3 f32 sgemm) is timed in the same run.
//
// The inputs are a formula both this program and bench/bert_vs_torch.py
// compute (BenchInputs there): sequence b has 128 - 12 b real tokens, ids
// (7919 b + 104729 s) mod (V - 1) + 1, token type 1 on the second half,
// masked positions 1 + (j * (len - 1)) / P.
//
// FLOPs count the matmuls only, 2 M N K each forward and twice that
// backward: per layer the four projections, Q.K^T and weights.V, the two
// FFN linears; for the MLM head its dense and the decoder (not the
// one-hot product rill gathers the masked rows with).
//
//   bazel run -c opt //bench:bert_bench [-- --steps=N] [--breakdown]
//       [--profile] [--precision=bf16] [--no_views]
//   bench/bert_vs_torch.py  (./dev bench bert: beside PyTorch, interleaved)
//
// --precision=bf16 also compiles both steps with bf16 matrix products
// (ExecutorOptions::precision) and times them interleaved with the f32
// ones, step by step, so that their ratio survives a noisy machine; with
// --profile, it profiles the bf16 steps. On a CPU without native bf16 it
// says so and times f32 only. --no_views copies Identity and Reshape
// results as kernels (ExecutorOptions::views), as before views existed.
//
// The layer stack alone ("layers": the encoder step from the embeddings'
// output, fed as an Input, so without the lookups and the word embeddings'
// [V, H] gradient) is timed beside both. --unshared (with
// --precision=bf16) also times the bf16 steps with every product
// converting its own operands (ExecutorOptions::share_conversions false),
// and with --profile profiles those instead.
//
// --profile runs the steps with ExecutorOptions::profile and prints where
// their time goes: the kernels' times summed by op, then the costliest
// kernels (each waits for the one before, so the sum is near the step).
//
// --serve reads lines "encoder K", "mlm K", "layers K" or "matmul K"
// (with --precision=bf16 also "encoder_bf16 K", "mlm_bf16 K",
// "layers_bf16 K" and "matmul_bf16 K") from stdin and answers each with one
// line: the word and K single-run times in ms; the script interleaves these
// with PyTorch's steps.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "core/threads.h"
#include "graph/autodiff.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"
#include "models/bert.h"
#include "runtime/executor.h"

namespace rill {
namespace {

constexpr int64_t kVocab = 30522, kHidden = 768, kHeads = 12, kFF = 3072,
                  kLayers = 2, kSeq = 128, kBatch = 8, kPredictions = 20;
constexpr int64_t kMatMulDim = 2048;

BertOptions BenchOptions() {
  BertOptions o;
  o.vocab_size = kVocab;
  o.hidden_size = kHidden;
  o.num_hidden_layers = kLayers;
  o.num_attention_heads = kHeads;
  o.intermediate_size = kFF;
  o.max_position_embeddings = 512;
  o.type_vocab_size = 2;
  o.hidden_dropout_prob = 0;
  o.attention_probs_dropout_prob = 0;
  o.seq_length = kSeq;
  o.max_predictions_per_seq = kPredictions;
  o.seed = 1;
  return o;
}

double EncoderForwardFlops() {
  const double tokens = kBatch * kSeq;
  const double projections = 4 * 2 * tokens * kHidden * kHidden;
  const double attention = 2 * 2 * kBatch * kSeq * kSeq * kHidden;
  const double ffn = 2 * 2 * tokens * kHidden * kFF;
  return kLayers * (projections + attention + ffn);
}

double MlmForwardFlops() {
  const double rows = kBatch * kPredictions;
  return 2 * rows * kHidden * kHidden + 2 * rows * kHidden * kVocab;
}

int64_t Length(int64_t b) { return kSeq - 12 * b; }

absl::StatusOr<Tensor> I64(const Shape& shape,
                           const std::function<int64_t(int64_t, int64_t)>& f) {
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kI64, shape));
  const int64_t cols = shape.rank() == 2 ? shape.dims()[1] : 1;
  for (int64_t i = 0; i < shape.dims()[0] * cols; ++i) {
    t.data<int64_t>()[i] = f(i / cols, i % cols);
  }
  return t;
}

// The seven BERT inputs, as the header comment gives them.
absl::StatusOr<std::map<std::string, Tensor>> BenchInputs() {
  std::map<std::string, Tensor> in;
  const Shape tokens{kBatch, kSeq}, masked{kBatch, kPredictions};
  ASSIGN_OR_RETURN(in["input_ids"], I64(tokens, [](int64_t b, int64_t s) {
                     return (7919 * b + 104729 * s) % (kVocab - 1) + 1;
                   }));
  ASSIGN_OR_RETURN(in["token_type_ids"], I64(tokens, [](int64_t b, int64_t s) {
                     return s >= Length(b) / 2 && s < Length(b) ? 1 : 0;
                   }));
  ASSIGN_OR_RETURN(in["attention_mask"], I64(tokens, [](int64_t b, int64_t s) {
                     return s < Length(b) ? 1 : 0;
                   }));
  ASSIGN_OR_RETURN(in["masked_lm_positions"],
                   I64(masked, [](int64_t b, int64_t j) {
                     return 1 + j * (Length(b) - 1) / kPredictions;
                   }));
  ASSIGN_OR_RETURN(in["masked_lm_ids"], I64(masked, [](int64_t b, int64_t j) {
                     return (31 * b + 977 * j) % kVocab;
                   }));
  ASSIGN_OR_RETURN(
      in["next_sentence_labels"],
      I64(Shape{kBatch}, [](int64_t b, int64_t) { return b % 2; }));
  ASSIGN_OR_RETURN(Tensor weights, Tensor::Allocate(DType::kF32, masked));
  for (int64_t i = 0; i < kBatch * kPredictions; ++i) {
    weights.data<float>()[i] = 1;
  }
  in["masked_lm_weights"] = weights;
  return in;
}

absl::StatusOr<Tensor> Uniform(const Shape& shape, uint32_t seed) {
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, shape));
  FillUniform(t, seed);
  return t;
}

// A compiled step: the gradient graph's prepared run and its plan's stats.
struct Step {
  std::unique_ptr<Executor> executor;
  std::optional<PreparedRun> run;
  PlanStats stats;
  ValidGraph graph;  // For --breakdown.
  std::vector<std::string> fetches;
};

// Differentiates `loss` of `g` with respect to `wrt` and to the Parameters
// whose names start with one of `param_prefixes`, and prepares a run.
absl::StatusOr<Step> Prepare(Graph g, const std::string& loss,
                             const std::vector<std::string>& wrt,
                             const std::vector<std::string>& param_prefixes,
                             const std::map<std::string, Tensor>& feeds,
                             const ExecutorOptions& options) {
  ASSIGN_OR_RETURN(ValidGraph forward, ValidateGraph({std::move(g), {}}));
  GradientRequest request;
  request.losses = {loss};
  request.wrt = wrt;
  request.wrt_params = true;
  request.allow_unreached = true;  // Gradients not fetched are not run.
  ASSIGN_OR_RETURN(GradientGraph grad,
                   BuildGradientGraph(std::move(forward), request));
  Step step;
  step.fetches = {loss};
  for (size_t i = 0; i < grad.wrt.size(); ++i) {
    bool wanted = i < wrt.size();
    for (const std::string& prefix : param_prefixes) {
      wanted = wanted || absl::StartsWith(grad.wrt[i], prefix);
    }
    if (wanted) step.fetches.push_back(grad.gradients[i]);
  }
  step.graph = grad.graph;
  ASSIGN_OR_RETURN(step.executor,
                   Executor::Create(std::move(grad.graph), options));
  ASSIGN_OR_RETURN(PreparedRun run,
                   step.executor->Prepare(feeds, step.fetches));
  step.run.emplace(std::move(run));
  RETURN_IF_ERROR(step.run->Run());
  step.stats = step.executor->last_plan_stats();
  return step;
}

// The encoder step: loss = sum(sequence_output * r).
absl::StatusOr<Step> EncoderStep(std::map<std::string, Tensor> feeds,
                                 const ExecutorOptions& options) {
  ASSIGN_OR_RETURN(Graph g, BuildBertGraph(BenchOptions()));
  AddInputNode(&g, "r", DType::kF32, {-1, kSeq, kHidden});
  AddNode(&g, "weighted", "Mul", {"sequence_output", "r"});
  AddNode(&g, "bench_loss", "ReduceSum", {"weighted"});
  ASSIGN_OR_RETURN(feeds["r"], Uniform(Shape{kBatch, kSeq, kHidden}, 7));
  return Prepare(std::move(g), "bench_loss", {},
                 {"bert.embeddings.", "bert.encoder."}, feeds, options);
}

// `g` with node `name` replaced by an f32 Input [B, S, H] of that name,
// fed uniform values drawn with `seed`.
absl::Status ReplaceByInput(Graph& g, const std::string& name, uint32_t seed,
                            std::map<std::string, Tensor>& feeds) {
  bool found = false;
  for (Node& node : *g.mutable_node()) {
    if (node.name() != name) continue;
    Graph input;
    AddInputNode(&input, name, DType::kF32, {-1, kSeq, kHidden});
    node = input.node(0);
    found = true;
  }
  if (!found) {
    return absl::NotFoundError(absl::StrCat("no node '", name, "' to feed"));
  }
  ASSIGN_OR_RETURN(feeds[name], Uniform(Shape{kBatch, kSeq, kHidden}, seed));
  return absl::OkStatus();
}

// The layer stack alone (issue 19's "BERT-base layer stack"): the encoder
// step without the embeddings, whose output becomes an Input, so without
// their lookups and the word embeddings' [V, H] gradient.
absl::StatusOr<Step> LayerStackStep(std::map<std::string, Tensor> feeds,
                                    const ExecutorOptions& options) {
  ASSIGN_OR_RETURN(Graph g, BuildBertGraph(BenchOptions()));
  RETURN_IF_ERROR(ReplaceByInput(g, "bert.embeddings/LayerNorm", 9, feeds));
  AddInputNode(&g, "r", DType::kF32, {-1, kSeq, kHidden});
  AddNode(&g, "weighted", "Mul", {"sequence_output", "r"});
  AddNode(&g, "bench_loss", "ReduceSum", {"weighted"});
  ASSIGN_OR_RETURN(feeds["r"], Uniform(Shape{kBatch, kSeq, kHidden}, 7));
  return Prepare(std::move(g), "bench_loss", {}, {"bert.encoder."}, feeds,
                 options);
}

// The MLM head alone: sequence_output becomes an Input.
absl::StatusOr<Step> MlmStep(std::map<std::string, Tensor> feeds,
                             const ExecutorOptions& options) {
  ASSIGN_OR_RETURN(Graph g, BuildBertGraph(BenchOptions()));
  RETURN_IF_ERROR(ReplaceByInput(g, "sequence_output", 8, feeds));
  return Prepare(std::move(g), "mlm_loss", {"sequence_output"},
                 {"cls.", "bert.embeddings.word_embeddings"}, feeds, options);
}

absl::StatusOr<std::vector<double>> Times(Step& step, int k) {
  std::vector<double> ms;
  for (int i = 0; i < k; ++i) {
    ASSIGN_OR_RETURN(Timing t, Time(0, 1, [&] { return step.run->Run(); }));
    ms.push_back(t.median_ms);
  }
  return ms;
}

// The steps timed, by --serve's word for them.
using Steps = std::map<std::string, Step*>;

absl::Status Serve(const Steps& steps) {
  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string what;
    int k = 0;
    words >> what >> k;
    std::vector<double> ms;
    const bool bf16_matmul = what == "matmul_bf16" && steps.count("mlm_bf16");
    if (what == "matmul" || bf16_matmul) {
      for (int i = 0; i < k; ++i) {
        ASSIGN_OR_RETURN(
            Timing t,
            TimeOneDnnMatMul(kMatMulDim, 1,
                             bf16_matmul ? Precision::kBf16 : Precision::kF32));
        ms.push_back(t.median_ms);
      }
    } else if (steps.count(what) > 0) {
      ASSIGN_OR_RETURN(ms, Times(*steps.at(what), k));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("stdin: unknown request \"", line, "\""));
    }
    std::printf("%s", what.c_str());
    for (double t : ms) std::printf(" %.3f", t);
    std::printf("\n");
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

// Medians and minima of `repeats` single runs of each step, after two
// warm-up runs each, the steps taking turns run by run.
absl::StatusOr<std::vector<Timing>> Interleaved(const std::vector<Step*>& steps,
                                                int repeats) {
  std::vector<std::function<absl::Status()>> runs;
  for (Step* step : steps) runs.push_back([step] { return step->run->Run(); });
  return TimeInTurns(2, repeats, runs);
}

void PrintStep(const char* name, const Step& step, const Timing& t,
               double flops, double peak_gflops) {
  const double gflops = GFlops(flops, t.median_ms);
  std::printf(
      "%-22s %10.2f  median; %d kernels (%d oneDNN, %d fused, %d on bf16 "
      "reading %d bf16 copies made by an earlier one), %d views\n",
      absl::StrCat(name, "_ms").c_str(), t.median_ms, step.stats.num_kernels,
      step.stats.onednn_kernels, step.stats.fused_chains,
      step.stats.bf16_kernels, step.stats.bf16_copies_reused, step.stats.views);
  std::printf("%-22s %10.3f  matmul GFLOP per step (fwd + 2x bwd)\n",
              absl::StrCat(name, "_gflop").c_str(), flops / 1e9);
  std::printf("%-22s %10.1f  GFLOP/s, %.1f%% of the matmul peak\n",
              absl::StrCat(name, "_gflops").c_str(), gflops,
              100 * gflops / peak_gflops);
}

// Runs `step` `k` times profiled; prints its kernels' times by op and the
// costliest kernels, per step.
absl::Status PrintProfile(const char* name, Step& step, int k) {
  RETURN_IF_ERROR(Times(step, k).status());
  const std::vector<KernelTime>& times = step.executor->kernel_times();
  double total = 0;
  std::map<std::string, std::pair<double, int>> by_op;
  for (const KernelTime& t : times) {
    const double ms = t.ms / t.runs;
    total += ms;
    by_op[t.op].first += ms;
    ++by_op[t.op].second;
  }
  std::vector<std::pair<double, std::string>> ops;
  for (const auto& [op, sum] : by_op) ops.push_back({sum.first, op});
  std::sort(ops.rbegin(), ops.rend());
  std::printf("%s: %.1f ms per step in %zu kernels, by op:\n", name, total,
              times.size());
  for (const auto& [ms, op] : ops) {
    std::printf("  %-28s %9.2f ms %5.1f%%  %d kernels\n", op.c_str(), ms,
                100 * ms / total, by_op[op].second);
  }
  std::vector<KernelTime> costliest = times;
  std::sort(
      costliest.begin(), costliest.end(),
      [](const KernelTime& a, const KernelTime& b) { return a.ms > b.ms; });
  costliest.resize(std::min<size_t>(costliest.size(), 15));
  std::printf("%s: the costliest kernels:\n", name);
  for (const KernelTime& t : costliest) {
    std::printf("  %9.2f ms  %-20s %s\n", t.ms / t.runs, t.op.c_str(),
                t.node.c_str());
  }
  return absl::OkStatus();
}

struct Flags {
  int steps = 10;
  bool breakdown = false, serve = false, profile = false, bf16 = false;
  bool views = true;
  bool unshared = false;
};

// The steps of one precision: the encoder, the MLM head and the layer stack.
struct Steps3 {
  Step encoder, mlm, layers;
};

absl::StatusOr<Steps3> MakeSteps(const std::map<std::string, Tensor>& feeds,
                                 const ExecutorOptions& options) {
  Steps3 s;
  ASSIGN_OR_RETURN(s.encoder, EncoderStep(feeds, options));
  ASSIGN_OR_RETURN(s.mlm, MlmStep(feeds, options));
  ASSIGN_OR_RETURN(s.layers, LayerStackStep(feeds, options));
  return s;
}

void PrintSpeedup(const char* name, double f32_ms, double bf16_ms,
                  bool target) {
  const double speedup = f32_ms / bf16_ms;
  std::printf("%-22s %10.2f  f32 ms / bf16 ms%s\n", name, speedup,
              !target          ? ""
              : speedup >= 1.6 ? " (target: at least 1.6: met)"
                               : " (target: at least 1.6: NOT met)");
}

absl::Status Main(const Flags& flags) {
  ASSIGN_OR_RETURN(auto feeds, BenchInputs());
  ExecutorOptions options;
  options.profile = flags.profile && !flags.bf16;
  options.views = flags.views;
  ASSIGN_OR_RETURN(Steps3 f32, MakeSteps(feeds, options));
  Steps steps = {
      {"encoder", &f32.encoder}, {"mlm", &f32.mlm}, {"layers", &f32.layers}};
  Steps3 bf16, unshared;
  std::string no_bf16;
  if (flags.bf16) {
    options.profile = flags.profile;
    options.precision = Precision::kBf16;
    ASSIGN_OR_RETURN(bf16, MakeSteps(feeds, options));
    no_bf16 = bf16.encoder.executor->precision_note();
    if (no_bf16.empty()) {
      steps["encoder_bf16"] = &bf16.encoder;
      steps["mlm_bf16"] = &bf16.mlm;
      steps["layers_bf16"] = &bf16.layers;
      if (flags.unshared) {
        options.share_conversions = false;
        ASSIGN_OR_RETURN(unshared, MakeSteps(feeds, options));
      }
    } else {
      std::fprintf(stderr, "bert_bench: %s\n", no_bf16.c_str());
    }
  }
  if (flags.serve) return Serve(steps);
  const bool on_bf16 = steps.count("encoder_bf16") > 0;
  if (flags.profile) {
    Steps3& p = on_bf16 ? (flags.unshared ? unshared : bf16) : f32;
    const std::string suffix =
        on_bf16 ? (flags.unshared ? "_bf16_unshared" : "_bf16") : "";
    RETURN_IF_ERROR(PrintProfile(absl::StrCat("encoder", suffix).c_str(),
                                 p.encoder, flags.steps));
    RETURN_IF_ERROR(PrintProfile(absl::StrCat("layers", suffix).c_str(),
                                 p.layers, flags.steps));
    return PrintProfile(absl::StrCat("mlm", suffix).c_str(), p.mlm,
                        flags.steps);
  }
  ASSIGN_OR_RETURN(Timing mm,
                   TimeOneDnnMatMul(kMatMulDim, 10, Precision::kF32));
  const double peak =
      GFlops(2.0 * kMatMulDim * kMatMulDim * kMatMulDim, mm.median_ms);
  std::vector<Step*> timed = {&f32.encoder, &f32.mlm, &f32.layers};
  if (on_bf16) {
    timed.insert(timed.end(), {&bf16.encoder, &bf16.mlm, &bf16.layers});
    if (flags.unshared) {
      timed.insert(timed.end(), {&unshared.encoder, &unshared.layers});
    }
  }
  ASSIGN_OR_RETURN(std::vector<Timing> t, Interleaved(timed, flags.steps));
  std::printf(
      "BERT encoder step: L%lld H%lld A%lld ff%lld S%lld B%lld f32, GELU erf, "
      "dropout 0, %d threads, medians of %d steps taking turns\n",
      static_cast<long long>(kLayers), static_cast<long long>(kHidden),
      static_cast<long long>(kHeads), static_cast<long long>(kFF),
      static_cast<long long>(kSeq), static_cast<long long>(kBatch),
      CurrentThreads(), flags.steps);
  std::printf("%-22s %10.1f  GFLOP/s, direct oneDNN %lld^3 f32 matmul\n",
              "matmul_gflops", peak, static_cast<long long>(kMatMulDim));
  const double encoder_flops = 3 * EncoderForwardFlops();
  PrintStep("encoder", f32.encoder, t[0], encoder_flops, peak);
  PrintStep("mlm", f32.mlm, t[1], 3 * MlmForwardFlops(), peak);
  PrintStep("layers", f32.layers, t[2], encoder_flops, peak);
  if (on_bf16) {
    ASSIGN_OR_RETURN(Timing mm16,
                     TimeOneDnnMatMul(kMatMulDim, 10, Precision::kBf16));
    std::printf(
        "%-22s %10.1f  GFLOP/s, direct oneDNN %lld^3 bf16 -> f32 matmul\n",
        "matmul_bf16_gflops",
        GFlops(2.0 * kMatMulDim * kMatMulDim * kMatMulDim, mm16.median_ms),
        static_cast<long long>(kMatMulDim));
    PrintStep("encoder_bf16", bf16.encoder, t[3], encoder_flops, peak);
    PrintStep("mlm_bf16", bf16.mlm, t[4], 3 * MlmForwardFlops(), peak);
    PrintStep("layers_bf16", bf16.layers, t[5], encoder_flops, peak);
    PrintSpeedup("encoder_bf16_speedup", t[0].median_ms, t[3].median_ms, true);
    PrintSpeedup("mlm_bf16_speedup", t[1].median_ms, t[4].median_ms, false);
    PrintSpeedup("layers_bf16_speedup", t[2].median_ms, t[5].median_ms, true);
    if (flags.unshared) {
      // Each product converting its own operands, as before sharing.
      PrintStep("encoder_bf16_unshared", unshared.encoder, t[6], encoder_flops,
                peak);
      PrintStep("layers_bf16_unshared", unshared.layers, t[7], encoder_flops,
                peak);
      PrintSpeedup("encoder_unshared_speedup", t[0].median_ms, t[6].median_ms,
                   true);
      PrintSpeedup("layers_unshared_speedup", t[2].median_ms, t[7].median_ms,
                   true);
    }
  } else if (flags.bf16) {
    std::printf("%-22s %10s  %s\n", "encoder_bf16_ms", "-", no_bf16.c_str());
  }
  if (flags.breakdown) {
    RETURN_IF_ERROR(
        PrintBreakdown(f32.encoder.graph, f32.encoder.fetches, t[0].median_ms));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) {
  rill::PreferPassiveOpenMpThreads(argv);  // As the rill command does.
  rill::Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    // "--precision bf16" as well as "--precision=bf16".
    const std::string precision =
        arg == "--precision" && i + 1 < argc ? argv[++i]
        : arg.rfind("--precision=", 0) == 0  ? arg.substr(12)
                                             : "";
    if (arg.rfind("--steps=", 0) == 0 && std::atoi(argv[i] + 8) > 0) {
      flags.steps = std::atoi(argv[i] + 8);
    } else if (arg == "--breakdown") {
      flags.breakdown = true;
    } else if (arg == "--serve") {
      flags.serve = true;
    } else if (arg == "--unshared") {
      flags.unshared = true;
    } else if (arg == "--profile") {
      flags.profile = true;
    } else if (arg == "--no_views") {
      flags.views = false;
    } else if (precision == "bf16" || precision == "f32") {
      flags.bf16 = precision == "bf16";
    } else {
      std::fprintf(
          stderr,
          "usage: bert_bench [--steps=N] [--breakdown] [--profile] "
          "[--precision=f32|bf16 [--unshared]] [--no_views] [--serve]\n");
      return 2;
    }
  }
  absl::Status s = rill::Main(flags);
  if (!s.ok()) {
    std::fprintf(stderr, "bert_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
