// Where bf16 starts to pay for MatMul (issue 19): one MatMul through the
// executor, in f32 and in bf16 (ExecutorOptions::bf16_min_multiply_adds 0,
// so that every size runs on bf16), the two taking turns run by run so that
// a change of load hits both. Shapes from the translation example (rows
// B x T = 512, d_model 64, ff 128), from the BERT-base layer (1,024 rows,
// H 768, ff 3,072; attention heads as a batch of 96), and squares between.
// Prints per shape the multiply-adds, both medians and f32 / bf16; the
// executor's default threshold (kBf16MinMultiplyAdds) comes from these.
//
//   bazel run -c opt //bench:bf16_matmul_sweep [-- --runs=N]

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "core/threads.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"
#include "ops/kernel_util.h"
#include "runtime/executor.h"

namespace rill {
namespace {

struct MatMulShape {
  int64_t batch, m, k, n;
  const char* what;
};

constexpr MatMulShape kShapes[] = {
    {1, 5, 3, 8, "gated_mlp example"},
    {1, 512, 64, 23, "translation: logits"},
    {1, 512, 64, 64, "translation: projection"},
    {1, 512, 64, 128, "translation: ff"},
    {256, 8, 16, 8, "translation: attention heads"},
    {1, 256, 256, 256, "square"},
    {1, 512, 512, 512, "square"},
    {1, 1024, 256, 1024, "wide"},
    {96, 128, 64, 128, "BERT: attention heads"},
    {1, 1024, 768, 768, "BERT: projection"},
    {1, 1024, 768, 3072, "BERT: ff"},
    {1, 1024, 1024, 1024, "square"},
};

// A PreparedRun of y = a . b at `precision`, every size on bf16.
struct Prepared {
  std::unique_ptr<Executor> executor;
  std::unique_ptr<PreparedRun> run;
};

absl::StatusOr<Prepared> Prepare(const MatMulShape& s, Precision precision) {
  Graph g;
  std::vector<int64_t> a_dims = {s.m, s.k}, b_dims = {s.k, s.n};
  if (s.batch > 1) {
    a_dims.insert(a_dims.begin(), s.batch);
    b_dims.insert(b_dims.begin(), s.batch);
  }
  AddInputNode(&g, "a", DType::kF32, a_dims);
  AddInputNode(&g, "b", DType::kF32, b_dims);
  AddNode(&g, "y", "MatMul", {"a", "b"});
  ASSIGN_OR_RETURN(ValidGraph valid, ValidateGraph({std::move(g), {}}));
  ExecutorOptions options;
  options.precision = precision;
  options.bf16_min_multiply_adds = 0;
  Prepared p;
  ASSIGN_OR_RETURN(p.executor, Executor::Create(std::move(valid), options));
  std::map<std::string, Tensor> feeds;
  uint32_t seed = 1;
  for (const auto& [name, dims] : {std::pair{"a", a_dims}, {"b", b_dims}}) {
    ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, Shape(dims)));
    FillUniform(t, seed++);
    feeds[name] = t;
  }
  ASSIGN_OR_RETURN(PreparedRun run, p.executor->Prepare(feeds, {"y"}));
  p.run = std::make_unique<PreparedRun>(std::move(run));
  return p;
}

absl::Status Main(int runs) {
  if (!CpuRunsBf16()) {
    return absl::FailedPreconditionError(
        "this CPU has no native bf16 (AVX512_BF16 or AMX): nothing to sweep");
  }
  std::printf(
      "MatMul through the executor, f32 against bf16, %d threads, "
      "medians of %d runs taking turns\n",
      CurrentThreads(), runs);
  std::printf("%-30s %22s %12s %10s %10s %8s\n", "shape", "batch x M x K x N",
              "mult-adds", "f32_us", "bf16_us", "f32/bf16");
  for (const MatMulShape& s : kShapes) {
    ASSIGN_OR_RETURN(Prepared f32, Prepare(s, Precision::kF32));
    ASSIGN_OR_RETURN(Prepared bf16, Prepare(s, Precision::kBf16));
    std::vector<double> us[2];
    for (int r = -3; r < runs; ++r) {
      for (int which = 0; which < 2; ++which) {
        PreparedRun& run = which == 0 ? *f32.run : *bf16.run;
        ASSIGN_OR_RETURN(Timing t, Time(0, 1, [&] { return run.Run(); }));
        if (r >= 0) us[which].push_back(1e3 * t.median_ms);
      }
    }
    double median[2];
    for (int which = 0; which < 2; ++which) {
      std::sort(us[which].begin(), us[which].end());
      median[which] = us[which][us[which].size() / 2];
    }
    const std::string dims =
        absl::StrCat(s.batch, " x ", s.m, " x ", s.k, " x ", s.n);
    std::printf("%-30s %22s %12lld %10.1f %10.1f %8.2f\n", s.what, dims.c_str(),
                static_cast<long long>(s.batch * s.m * s.k * s.n), median[0],
                median[1], median[0] / median[1]);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) {
  rill::PreferPassiveOpenMpThreads(argv);  // As the rill command does.
  int runs = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0 &&
        std::atoi(argv[i] + 7) > 0) {
      runs = std::atoi(argv[i] + 7);
    } else {
      std::fprintf(stderr, "usage: bf16_matmul_sweep [--runs=N]\n");
      return 2;
    }
  }
  absl::Status s = rill::Main(runs);
  if (!s.ok()) {
    std::fprintf(stderr, "bf16_matmul_sweep: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
