// Per-node dispatch overhead of the executor: a chain of 1000 Tanh nodes on
// one-element tensors, so that the time is almost all dispatch (and larger
// sizes for comparison). Reported as
// ns per node for each backend, beside a plain loop of 1000 std::tanh calls
// measured in the same run (the floor that no executor can beat).
//
//   bazel run -c opt //bench:executor_overhead

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "runtime/executor.h"

namespace rill {
namespace {

constexpr int kNodes = 1000;

std::unique_ptr<Executor> ChainExecutor(Backend backend, int64_t size) {
  std::string text = absl::StrCat(R"pb(node { name: "n0" op: "Input"
                                              attr {
                                                key: "dtype"
                                                value { type: DT_FLOAT }
                                              }
                                              attr { key: "shape"
                                                     value { shape { dim:)pb",
                                  size, "} } } }\n");
  for (int i = 1; i <= kNodes; ++i) {
    absl::StrAppend(&text, "node { name: \"n", i, "\" op: \"Tanh\" input: \"n",
                    i - 1, "\" }\n");
  }
  auto loaded = ParseGraphText(text, "chain.pbtxt");
  auto graph = ValidateGraph(*std::move(loaded));
  return *Executor::Create(*std::move(graph), {backend});
}

void RunChain(benchmark::State& state, Backend backend) {
  std::unique_ptr<Executor> ex = ChainExecutor(backend, state.range(0));
  Tensor x = *Tensor::Allocate(DType::kF32, {state.range(0)});
  for (int64_t i = 0; i < x.num_elements(); ++i) x.data<float>()[i] = 0.5f;
  std::map<std::string, Tensor> feeds = {{"n0", x}};
  std::vector<std::string> fetch = {absl::StrCat("n", kNodes)};
  if (!ex->Run(feeds, fetch).ok())
    state.SkipWithError("run failed");  // Compiles.
  for (auto _ : state) {
    auto out = ex->Run(feeds, fetch);
    benchmark::DoNotOptimize(out);
  }
  state.counters["ns_per_node"] = benchmark::Counter(
      state.iterations() * static_cast<double>(kNodes),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ChainReference(benchmark::State& s) {
  RunChain(s, Backend::kReference);
}
void BM_ChainOneDnn(benchmark::State& s) { RunChain(s, Backend::kOneDnn); }

void BM_PlainLoop(benchmark::State& state) {
  for (auto _ : state) {
    float v = 0.5f;
    for (int i = 0; i < kNodes; ++i) {
      v = std::tanh(v);
      benchmark::DoNotOptimize(v);
    }
  }
  state.counters["ns_per_node"] = benchmark::Counter(
      state.iterations() * static_cast<double>(kNodes),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_PlainLoop);
// Size 1 measures dispatch; the larger sizes show where oneDNN's per-call
// cost stops mattering.
BENCHMARK(BM_ChainReference)->Arg(1)->Arg(256)->Arg(4096);
BENCHMARK(BM_ChainOneDnn)->Arg(1)->Arg(256)->Arg(4096);

}  // namespace
}  // namespace rill
