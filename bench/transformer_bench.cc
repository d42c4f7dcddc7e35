// One training step of one Transformer encoder layer (issue 8): d_model
// 256, 4 heads, ff 1024, post-norm, ReLU, dropout 0, f32, on x [B=32, S=64,
// D=256]. The step is the gradient graph of loss = sum(layer(x) * r): the
// forward pass, the loss, and the gradients of all 12 parameters and of x,
// run on oneDNN through a PreparedRun. In the same run it times a
// 2048x2048x2048 f32 matmul through oneDNN directly, the machine's
// practical peak, and prints what fraction of it the step reaches.
//
// Timing: after warm-up, each figure is the median of single timed runs
// (the minimum is printed beside it). On a CPU with native bf16 the step
// also runs with bf16 matrix products (ExecutorOptions::precision), the
// f32 and bf16 steps taking turns run by run. The step's FLOPs count the
// matmuls only, 2*M*N*K each in the forward pass and twice that backward (the
// gradients of both operands): the Q, K, V and output projections, Q.K^T
// and weights.V over all heads, and the two FFN linears. Softmax,
// LayerNorm, ReLU, bias adds, reductions and copies are left out (well
// under 1% of the FLOPs), so the figure counts only work of the kind the
// matmul benchmark does, and errs low.
//
//   bazel run -c opt //bench:transformer_bench [-- --steps=N] [--breakdown]
// Target (issue 8): the step at least 50% of the matmul's GFLOP/s.
//
// --breakdown also times every kernel of the step on its own
// (PrintBreakdown, bench/bench_util.h): each node the fetches need is run
// alone in a graph of Inputs of its input shapes (so the fused MatMul ->
// Add -> Relu chains are timed unfused), the median of 20 runs, summed by
// op type. The sum differs from rill_ms by what isolation changes (caches,
// fusion), but shows where the time goes.

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "core/threads.h"
#include "graph/autodiff.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"
#include "models/transformer.h"
#include "runtime/executor.h"

namespace rill {
namespace {

constexpr int64_t kBatch = 32, kSeq = 64, kModel = 256, kHeads = 4, kFF = 1024;
constexpr int64_t kMatMulDim = 2048;

// Forward matmul FLOPs of the layer, per the header comment.
double ForwardFlops() {
  const double rows = kBatch * kSeq;  // Tokens.
  const double projections = 4 * 2 * rows * kModel * kModel;
  const double attention = 2 * 2 * kBatch * kSeq * kSeq * kModel;
  const double ffn = 2 * 2 * rows * kModel * kFF;
  return projections + attention + ffn;
}

void AddInput(Graph& g, const std::string& name) {
  AddInputNode(&g, name, DType::kF32, {kBatch, kSeq, kModel});
}

// x, r -> layer -> loss = sum(layer * r), differentiated with respect to x
// and every Parameter.
absl::StatusOr<GradientGraph> StepGraph() {
  Graph g;
  AddInput(g, "x");
  AddInput(g, "r");
  TransformerLayerOptions o;
  o.prefix = "layer";
  o.d_model = kModel;
  o.heads = kHeads;
  o.ff = kFF;
  o.seed = 1;
  ASSIGN_OR_RETURN(TransformerLayer layer,
                   AddTransformerEncoderLayer("x", o, &g));
  AddNode(&g, "weighted", "Mul", {layer.output, "r"});
  AddNode(&g, "loss", "ReduceSum", {"weighted"});
  ASSIGN_OR_RETURN(ValidGraph forward, ValidateGraph({std::move(g), {}}));
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = {"x"};
  request.wrt_params = true;
  return BuildGradientGraph(std::move(forward), request);
}

// The step compiled for `precision`, prepared on fixed feeds.
struct Step {
  std::unique_ptr<Executor> ex;
  std::optional<PreparedRun> run;
};

absl::StatusOr<Step> PrepareStep(const GradientGraph& grad,
                                 const std::vector<std::string>& fetches,
                                 Precision precision) {
  ExecutorOptions options;
  options.precision = precision;
  Step step;
  ASSIGN_OR_RETURN(step.ex, Executor::Create(grad.graph, options));
  if (step.ex->precision() != precision) {
    return absl::FailedPreconditionError(
        "bf16 was asked for, but this CPU has no native bf16");
  }
  std::map<std::string, Tensor> feeds;
  uint32_t seed = 10;
  for (const char* name : {"x", "r"}) {
    ASSIGN_OR_RETURN(
        Tensor t, Tensor::Allocate(DType::kF32, Shape{kBatch, kSeq, kModel}));
    FillUniform(t, seed++);
    feeds[name] = t;
  }
  ASSIGN_OR_RETURN(PreparedRun run, step.ex->Prepare(feeds, fetches));
  step.run.emplace(std::move(run));
  return step;
}

absl::Status Main(int steps, bool breakdown) {
  ASSIGN_OR_RETURN(GradientGraph grad, StepGraph());
  const int num_gradients = static_cast<int>(grad.gradients.size());
  std::vector<std::string> fetches = {"loss"};
  fetches.insert(fetches.end(), grad.gradients.begin(), grad.gradients.end());
  ASSIGN_OR_RETURN(Step f32, PrepareStep(grad, fetches, Precision::kF32));
  // The same step with bf16 matrix products, taking turns with the f32 one
  // step by step so that their ratio survives a noisy machine.
  absl::StatusOr<Step> bf16 = PrepareStep(grad, fetches, Precision::kBf16);
  std::vector<std::function<absl::Status()>> bodies = {
      [&] { return f32.run->Run(); }};
  if (bf16.ok()) bodies.push_back([&] { return bf16->run->Run(); });
  ASSIGN_OR_RETURN(std::vector<Timing> times, TimeInTurns(5, steps, bodies));
  const Timing& step = times[0];
  const PlanStats stats = f32.ex->last_plan_stats();
  ASSIGN_OR_RETURN(Timing mm,
                   TimeOneDnnMatMul(kMatMulDim, 10, Precision::kF32));
  const double step_flops = 3 * ForwardFlops();
  const double mm_flops = 2.0 * kMatMulDim * kMatMulDim * kMatMulDim;
  const double step_gflops = GFlops(step_flops, step.median_ms);
  const double mm_gflops = GFlops(mm_flops, mm.median_ms);
  std::printf(
      "transformer encoder layer step: B=%lld S=%lld D=%lld heads=%lld "
      "ff=%lld f32, forward + %d gradients; %d kernels (%d oneDNN, %d fused)\n",
      static_cast<long long>(kBatch), static_cast<long long>(kSeq),
      static_cast<long long>(kModel), static_cast<long long>(kHeads),
      static_cast<long long>(kFF), num_gradients, stats.num_kernels,
      stats.onednn_kernels, stats.fused_chains);
  std::printf("%-22s %10s  %s\n", "figure", "value", "note");
  std::printf("%-22s %10.2f  median of %d steps\n", "rill_ms", step.median_ms,
              steps);
  std::printf("%-22s %10.2f  fastest step\n", "rill_min_ms", step.min_ms);
  std::printf("%-22s %10.3f  matmul GFLOP per step (fwd + 2x bwd)\n",
              "step_gflop", step_flops / 1e9);
  std::printf("%-22s %10.1f  GFLOP/s at the median\n", "rill_gflops",
              step_gflops);
  std::printf("%-22s %10.2f  direct oneDNN 2048^3 f32, median of 10\n",
              "matmul_ms", mm.median_ms);
  std::printf("%-22s %10.1f  GFLOP/s at the median\n", "matmul_gflops",
              mm_gflops);
  const double percent = 100 * step_gflops / mm_gflops;
  std::printf("%-22s %10.1f  %% of matmul_gflops (target: at least 50: %s)\n",
              "rill_pct_of_matmul", percent, percent >= 50 ? "met" : "NOT met");
  if (bf16.ok()) {
    ASSIGN_OR_RETURN(Timing mm16,
                     TimeOneDnnMatMul(kMatMulDim, 10, Precision::kBf16));
    std::printf(
        "%-22s %10.2f  direct oneDNN 2048^3 bf16 -> f32, median of 10\n",
        "matmul_bf16_ms", mm16.median_ms);
    std::printf("%-22s %10.2f  matmul_ms / matmul_bf16_ms: the CPU's ceiling\n",
                "matmul_bf16_speedup", mm.median_ms / mm16.median_ms);
    std::printf(
        "%-22s %10.2f  median of %d steps taking turns with f32's, %d "
        "kernels on bf16\n",
        "rill_bf16_ms", times[1].median_ms, steps,
        bf16->ex->last_plan_stats().bf16_kernels);
    std::printf("%-22s %10.2f  rill_ms / rill_bf16_ms (target: at least 1.6)\n",
                "bf16_speedup", step.median_ms / times[1].median_ms);
  } else {
    std::printf("%-22s %10s  %s\n", "rill_bf16_ms", "-",
                std::string(bf16.status().message()).c_str());
  }
  if (breakdown) return PrintBreakdown(grad.graph, fetches, step.median_ms);
  return absl::OkStatus();
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) {
  rill::PreferPassiveOpenMpThreads(argv);  // As the rill command does.
  int steps = 30;
  bool breakdown = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--steps=", 8) == 0 &&
        std::atoi(argv[i] + 8) > 0) {
      steps = std::atoi(argv[i] + 8);
    } else if (std::strcmp(argv[i], "--breakdown") == 0) {
      breakdown = true;
    } else {
      std::fprintf(stderr,
                   "usage: transformer_bench [--steps=N] [--breakdown]\n");
      return 2;
    }
  }
  absl::Status s = rill::Main(steps, breakdown);
  if (!s.ok()) {
    std::fprintf(stderr, "transformer_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
