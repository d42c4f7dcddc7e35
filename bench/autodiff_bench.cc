// How the autodiff pass and the executor's compile scale with graph size:
// unrolled tanh RNNs, h[t] = tanh(x W + h[t-1] U + b), of about 25k, 50k
// and 100k forward nodes (5 per step), loss = sum(h[T]), differentiated
// with respect to W, U and b. For each size it times building the
// gradient graph, validated (grad_ms), and compiling it on oneDNN
// (compile_ms: the first run minus a second one, on B=1, H=4 tensors so
// that the kernels cost little), then total_ms, their sum; run_ms is one
// run of the compiled plan, and x_prev how total_ms grew from the
// half-size graph.
//
//   bazel run -c opt //bench:autodiff_bench
// Targets (issue 4): under 1 s at 100k nodes; doubling costs <= ~2.2x.

#include <chrono>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/autodiff.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"
#include "runtime/executor.h"

namespace rill {
namespace {

constexpr int kHidden = 4;

void AddInput(Graph& g, const std::string& name,
              const std::vector<int64_t>& dims) {
  AddInputNode(&g, name, DType::kF32, dims);
}

Graph UnrolledRnn(int steps) {
  Graph g;
  AddInput(g, "x", {1, kHidden});
  AddInput(g, "h0", {1, kHidden});
  AddInput(g, "W", {kHidden, kHidden});
  AddInput(g, "U", {kHidden, kHidden});
  AddInput(g, "b", {kHidden});
  std::string prev = "h0";
  for (int t = 1; t <= steps; ++t) {
    std::string h = absl::StrCat("h", t);
    AddNode(&g, h + "/xw", "MatMul", {"x", "W"});
    AddNode(&g, h + "/hu", "MatMul", {prev, "U"});
    AddNode(&g, h + "/sum", "Add", {h + "/xw", h + "/hu"});
    AddNode(&g, h + "/z", "Add", {h + "/sum", "b"});
    AddNode(&g, h, "Tanh", {h + "/z"});
    prev = h;
  }
  AddNode(&g, "loss", "ReduceSum", {prev});
  return g;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "autodiff_bench: %s\n", s.ToString().c_str());
  return 1;
}

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

int Main() {
  std::printf("%-9s %-9s %-9s %-11s %-10s %-9s %s\n", "forward", "backward",
              "grad_ms", "compile_ms", "total_ms", "run_ms", "x_prev");
  double prev_total = 0;
  bool ok = true;
  for (int nodes : {25000, 50000, 100000}) {
    auto forward = ValidateGraph({UnrolledRnn(nodes / 5), {}});
    if (!forward.ok()) return Fail(forward.status());
    int forward_nodes = forward->num_nodes();
    GradientRequest request;
    request.losses = {"loss"};
    request.wrt = {"W", "U", "b"};
    auto start = std::chrono::steady_clock::now();
    auto grad = BuildGradientGraph(*std::move(forward), request);
    double grad_ms = MsSince(start);
    if (!grad.ok()) return Fail(grad.status());
    int backward_nodes = grad->graph.num_nodes() - forward_nodes;
    start = std::chrono::steady_clock::now();
    auto ex = Executor::Create(std::move(grad->graph), {Backend::kOneDnn});
    std::map<std::string, Tensor> feeds;
    for (auto [name, dims] :
         std::map<std::string, Shape>{{"x", {1, kHidden}},
                                      {"h0", {1, kHidden}},
                                      {"W", {kHidden, kHidden}},
                                      {"U", {kHidden, kHidden}},
                                      {"b", {kHidden}}}) {
      Tensor t = *Tensor::Allocate(DType::kF32, dims);
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        t.data<float>()[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
      }
      feeds[name] = t;
    }
    // The first run compiles the plan, then runs it; a second run only
    // runs it, so compiling took the difference.
    auto out = (*ex)->Run(feeds, grad->gradients);
    double first_ms = MsSince(start);
    if (!out.ok()) return Fail(out.status());
    start = std::chrono::steady_clock::now();
    out = (*ex)->Run(feeds, grad->gradients);
    double run_ms = MsSince(start);
    if (!out.ok()) return Fail(out.status());
    double compile_ms = first_ms - run_ms;
    double total = grad_ms + compile_ms;
    std::printf("%-9d %-9d %-9.1f %-11.1f %-10.1f %-9.1f %-9s\n", forward_nodes,
                backward_nodes, grad_ms, compile_ms, total, run_ms,
                prev_total > 0
                    ? absl::StrFormat("%.2f", total / prev_total).c_str()
                    : "-");
    if (prev_total > 0 && total / prev_total > 2.2) ok = false;
    if (forward_nodes >= 100000 && total > 1000) ok = false;
    prev_total = total;
  }
  std::printf("targets (under 1 s at 100k nodes, doubling <= 2.2x): %s\n",
              ok ? "met" : "NOT met");
  return 0;
}

}  // namespace
}  // namespace rill

int main() { return rill::Main(); }
