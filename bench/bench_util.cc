#include "bench/bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/onednn_context.h"
#include "core/status.h"
#include "graph/graph_builder.h"
#include "runtime/executor.h"

namespace rill {
namespace {

// The median time of node `n` of `g` run alone, on uniform(-1, 1) inputs
// of its input shapes.
absl::StatusOr<double> TimeNodeAlone(const ValidGraph& g, int n) {
  Graph alone;
  std::map<std::string, Tensor> feeds;
  Node* node = alone.add_node();
  *node = g.node(n);
  node->clear_input();
  const NodeInfo& info = g.info(n);
  for (size_t k = 0; k < info.inputs.size(); ++k) {
    const TensorRef& in = info.inputs[k];
    const std::string name = absl::StrCat("in", k);
    node->add_input(name);
    const DType dtype = g.info(in.node).dtypes[in.output];
    const Shape& shape = g.info(in.node).shapes[in.output];
    AddInputNode(&alone, name, dtype, shape.dims());
    ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
    if (dtype == DType::kF32) FillUniform(t, 20 + k);
    feeds[name] = t;
  }
  std::vector<std::string> fetches;
  for (size_t o = 0; o < info.dtypes.size(); ++o) {
    fetches.push_back(absl::StrCat(node->name(), ":", o));
  }
  ASSIGN_OR_RETURN(ValidGraph valid, ValidateGraph({std::move(alone), {}}));
  ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex,
                   Executor::Create(std::move(valid)));
  ASSIGN_OR_RETURN(PreparedRun run, ex->Prepare(feeds, fetches));
  ASSIGN_OR_RETURN(Timing t, Time(3, 20, [&] { return run.Run(); }));
  return t.median_ms;
}

// What decides a kernel's cost: the node without its name and inputs, and
// the dtypes and shapes of the inputs.
std::string Configuration(const ValidGraph& g, int n) {
  Node node = g.node(n);
  node.clear_name();
  node.clear_input();
  std::string key = node.ShortDebugString();
  for (const TensorRef& in : g.info(n).inputs) {
    absl::StrAppend(&key, " ", DTypeName(g.info(in.node).dtypes[in.output]),
                    g.info(in.node).shapes[in.output].ToString());
  }
  return key;
}

// The shapes of node n's inputs, a run of k equal ones written once as
// "<shape> x<k>".
std::string InputShapes(const ValidGraph& g, int n) {
  std::string out;
  const std::vector<TensorRef>& inputs = g.info(n).inputs;
  for (size_t k = 0; k < inputs.size();) {
    const Shape& shape = g.info(inputs[k].node).shapes[inputs[k].output];
    size_t end = k + 1;
    while (end < inputs.size() &&
           g.info(inputs[end].node).shapes[inputs[end].output] == shape) {
      ++end;
    }
    absl::StrAppend(&out, out.empty() ? "" : " ", shape.ToString());
    if (end - k > 1) absl::StrAppend(&out, " x", end - k);
    k = end;
  }
  return out;
}

}  // namespace

absl::StatusOr<Timing> Time(int warmup, int repeats,
                            const std::function<absl::Status()>& body) {
  ASSIGN_OR_RETURN(std::vector<Timing> t, TimeInTurns(warmup, repeats, {body}));
  return t[0];
}

absl::StatusOr<std::vector<Timing>> TimeInTurns(
    int warmup, int repeats,
    const std::vector<std::function<absl::Status()>>& bodies) {
  std::vector<std::vector<double>> ms(bodies.size());
  for (int round = -warmup; round < repeats; ++round) {
    for (size_t k = 0; k < bodies.size(); ++k) {
      auto start = std::chrono::steady_clock::now();
      RETURN_IF_ERROR(bodies[k]());
      if (round < 0) continue;
      ms[k].push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
  }
  std::vector<Timing> timings;
  for (std::vector<double>& m : ms) {
    std::sort(m.begin(), m.end());
    timings.push_back({m[m.size() / 2], m.front()});
  }
  return timings;
}

void FillUniform(Tensor& t, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = dist(rng);
}

absl::Status PrintBreakdown(const ValidGraph& g,
                            const std::vector<std::string>& fetches,
                            double step_ms) {
  std::vector<bool> needed(g.num_nodes(), false);
  std::vector<int> stack;
  for (const std::string& f : fetches) {
    ASSIGN_OR_RETURN(TensorRef ref, g.Resolve(f));
    stack.push_back(ref.node);
  }
  while (!stack.empty()) {
    const int n = stack.back();
    stack.pop_back();
    if (needed[n]) continue;
    needed[n] = true;
    for (const TensorRef& in : g.info(n).inputs) stack.push_back(in.node);
  }
  // Identical configurations, timed once: the first node and the count.
  struct Config {
    int node = 0, count = 0;
    double ms = 0;  // Of one run.
  };
  std::map<std::string, Config> configs;
  int num_kernels = 0;
  for (int n = 0; n < g.num_nodes(); ++n) {
    if (!needed[n] || g.info(n).op->is_source()) continue;
    Config& c = configs[Configuration(g, n)];
    if (c.count++ == 0) c.node = n;
    ++num_kernels;
  }
  struct OpTotal {
    double ms = 0;
    int count = 0;
  };
  std::map<std::string, OpTotal> by_op;
  std::vector<std::pair<double, const Config*>> by_config;
  double total = 0;
  for (auto& [key, c] : configs) {
    ASSIGN_OR_RETURN(c.ms, TimeNodeAlone(g, c.node));
    OpTotal& op = by_op[g.node(c.node).op()];
    op.ms += c.ms * c.count;
    op.count += c.count;
    by_config.push_back({c.ms * c.count, &c});
    total += c.ms * c.count;
  }
  std::vector<std::pair<double, std::string>> ops;
  for (const auto& [name, t] : by_op) {
    ops.push_back({t.ms, absl::StrCat(name, " x", t.count)});
  }
  std::sort(ops.rbegin(), ops.rend());
  std::printf(
      "breakdown: %d kernels (%zu configurations), each run alone, median "
      "of 20; sum %.2f ms against the step's %.2f\n",
      num_kernels, configs.size(), total, step_ms);
  for (const auto& [ms, what] : ops) {
    std::printf("op   %-26s %8.2f ms %5.1f%%\n", what.c_str(), ms,
                100 * ms / total);
  }
  std::sort(by_config.begin(), by_config.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; i < by_config.size() && i < 15; ++i) {
    const Config& c = *by_config[i].second;
    const std::string shapes = InputShapes(g, c.node);
    std::printf("node %8.2f ms = %4d x %7.3f  %s %s (%s)\n", by_config[i].first,
                c.count, c.ms, g.node(c.node).op().c_str(),
                g.node(c.node).name().c_str(), shapes.c_str());
  }
  return absl::OkStatus();
}

absl::StatusOr<Timing> TimeOneDnnMatMul(int64_t dim, int repeats,
                                        Precision precision) {
  OneDnnContext ctx;
  const Shape square{dim, dim};
  ASSIGN_OR_RETURN(Tensor a, Tensor::Allocate(DType::kF32, square));
  ASSIGN_OR_RETURN(Tensor b, Tensor::Allocate(DType::kF32, square));
  ASSIGN_OR_RETURN(Tensor c, Tensor::Allocate(DType::kF32, square));
  FillUniform(a, 1);
  FillUniform(b, 2);
  try {
    using dt = dnnl::memory::data_type;
    const dnnl::memory::dims dims = {dim, dim};
    dnnl::memory::desc md(dims, dt::f32, dnnl::memory::format_tag::ab);
    // bf16 operands take half the bytes; a's and b's f32 buffers hold them.
    dnnl::memory::desc in(dims,
                          precision == Precision::kBf16 ? dt::bf16 : dt::f32,
                          dnnl::memory::format_tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(in, in, md), ctx.engine);
    dnnl::matmul mm(pd);
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, dnnl::memory(in, ctx.engine, a.raw_data())},
        {DNNL_ARG_WEIGHTS, dnnl::memory(in, ctx.engine, b.raw_data())},
        {DNNL_ARG_DST, dnnl::memory(md, ctx.engine, c.raw_data())}};
    return Time(2, repeats, [&] {
      mm.execute(ctx.stream, args);
      ctx.stream.wait();
      return absl::OkStatus();
    });
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat("oneDNN matmul: ", e.what()));
  }
}

}  // namespace rill
