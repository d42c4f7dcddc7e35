// Embedding rill in a C++ program: load a graph, validate it, run it.
#include <cstdio>

#include "graph/loader.h"
#include "graph/validate.h"
#include "runtime/executor.h"

int main() {
  // Errors are values: every step returns absl::Status or absl::StatusOr.
  absl::StatusOr<rill::LoadedGraph> loaded =
      rill::LoadGraphFile("examples/affine_tanh.pbtxt");
  if (!loaded.ok()) return std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str()), 1;
  absl::StatusOr<rill::ValidGraph> graph = rill::ValidateGraph(*std::move(loaded));
  if (!graph.ok()) return std::fprintf(stderr, "%s\n", graph.status().ToString().c_str()), 1;

  rill::ExecutorOptions options;  // oneDNN by default; or Backend::kReference.
  absl::StatusOr<std::unique_ptr<rill::Executor>> executor =
      rill::Executor::Create(*std::move(graph), options);
  if (!executor.ok()) return std::fprintf(stderr, "%s\n", executor.status().ToString().c_str()), 1;

  // x is declared [-1, 2]: the batch dimension binds at run time.
  rill::Tensor x = *rill::Tensor::Allocate(rill::DType::kF32, {1, 2});
  x.data<float>()[0] = 1.0f;
  x.data<float>()[1] = 2.0f;
  absl::StatusOr<std::vector<rill::Tensor>> outputs = (*executor)->Run({{"x", x}}, {"y"});
  if (!outputs.ok()) return std::fprintf(stderr, "%s\n", outputs.status().ToString().c_str()), 1;

  const rill::Tensor& y = (*outputs)[0];
  std::printf("y %s:", y.shape().ToString().c_str());
  for (int64_t i = 0; i < y.num_elements(); ++i) std::printf(" %.6f", y.data<float>()[i]);
  std::printf("\n");
  return 0;
}
