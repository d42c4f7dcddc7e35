// The executor draws a Parameter's initializer when first needed, not at
// Create(): the values drawn are the eager drawing's (SourceValue), and a
// checkpoint written over the parameters first (OverwriteParameters, as
// `rill run --params` and `rill train --resume` do) leaves them undrawn.

#include <cstring>

#include "core/checkpoint.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "ops/parameter_value.h"
#include "runtime/executor.h"
#include "tests/test_util.h"

namespace rill {
namespace {

// y = x . w^T + b with w and b from seeded initializers.
ValidGraph LinearGraph() {
  Graph g;
  GraphBuilder b("test", "");
  const std::string x = b.Input("x", DType::kF32, {2, 3});
  const std::string w =
      b.Parameter("w", DType::kF32, Shape{4, 3}, Initializer::Normal(0, 1, 7));
  const std::string bias =
      b.Parameter("b", DType::kF32, Shape{4}, Initializer::Uniform(-1, 1, 9));
  b.Linear("y", x, w, bias);
  EXPECT_TRUE(b.Commit(&g).ok());
  LoadedGraph loaded;
  loaded.graph = g;
  auto valid = ValidateGraph(std::move(loaded));
  EXPECT_TRUE(valid.ok()) << valid.status();
  return *std::move(valid);
}

// What the graph's node `name` draws when drawn at once.
Tensor Eager(const std::string& name) {
  ValidGraph g = LinearGraph();
  auto t = SourceValue(g.node(g.FindNode(name)), g.memory_budget());
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

// Distinct from anything an initializer draws: 100 + i.
Tensor Counting(const Shape& shape) {
  Tensor t = *Tensor::Allocate(DType::kF32, shape);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = 100 + i;
  return t;
}

bool SameBytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.byte_size() == b.byte_size() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()) == 0;
}

std::map<std::string, Tensor> Feeds() { return {{"x", Counting(Shape{2, 3})}}; }

TEST(LazyInitializers, DrawnAtTheFirstRunWithTheEagerValues) {
  auto ex = Executor::Create(LinearGraph());
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_EQ((*ex)->initializers_drawn(), 0);
  // Compiling a plan reads no values: still nothing drawn.
  ASSERT_TRUE((*ex)->Prepare(Feeds(), {"y"}).ok());
  EXPECT_EQ((*ex)->initializers_drawn(), 0);
  ASSERT_TRUE((*ex)->Run(Feeds(), {"y"}).ok());
  EXPECT_EQ((*ex)->initializers_drawn(), 2);
  EXPECT_TRUE(SameBytes(*(*ex)->parameter_buffer("w"), Eager("w")));
  EXPECT_TRUE(SameBytes(*(*ex)->parameter_buffer("b"), Eager("b")));
  ASSERT_TRUE((*ex)->Run(Feeds(), {"y"}).ok());
  EXPECT_EQ((*ex)->initializers_drawn(), 2);  // Once only.
}

TEST(LazyInitializers, MutableAccessDraws) {
  auto ex = Executor::Create(LinearGraph());
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_TRUE(SameBytes(*(*ex)->mutable_value("b"), Eager("b")));
  EXPECT_EQ((*ex)->initializers_drawn(), 2);
}

TEST(LazyInitializers, CheckpointOverwritesWithoutDrawing) {
  Checkpoint c;
  c.tensors.push_back({ParamTensorName("w"), Counting(Shape{4, 3})});
  c.tensors.push_back({ParamTensorName("b"), Counting(Shape{4})});
  const std::string path = TestTempPath("lazy.rckpt");
  ASSERT_TRUE(WriteCheckpoint(path, c).ok());

  auto ex = Executor::Create(LinearGraph());
  ASSERT_TRUE(ex.ok()) << ex.status();
  absl::Status s = (*ex)->OverwriteParameters(
      [&](const std::map<std::string, Tensor*>& params) {
        return ReadParameterValues(path, params, /*use_all=*/true,
                                   int64_t{1} << 20);
      });
  ASSERT_TRUE(s.ok()) << s;
  auto y = (*ex)->Run(Feeds(), {"y"});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ((*ex)->initializers_drawn(), 0);
  EXPECT_TRUE(SameBytes(*(*ex)->mutable_value("w"), c.tensors[0].second));
  EXPECT_TRUE(SameBytes(*(*ex)->mutable_value("b"), c.tensors[1].second));
  // y[0][0] = x[0] . w[0] + b[0] = 100^2 + 101^2 + 102^2 + 100.
  EXPECT_FLOAT_EQ((*y)[0].data<float>()[0], 30605 + 100);
}

TEST(LazyInitializers, AFailedOverwriteStillDraws) {
  auto ex = Executor::Create(LinearGraph());
  ASSERT_TRUE(ex.ok()) << ex.status();
  absl::Status s =
      (*ex)->OverwriteParameters([](const std::map<std::string, Tensor*>&) {
        return absl::InvalidArgumentError("not a checkpoint of this graph");
      });
  EXPECT_FALSE(s.ok());
  ASSERT_TRUE((*ex)->Run(Feeds(), {"y"}).ok());
  EXPECT_EQ((*ex)->initializers_drawn(), 2);
  EXPECT_TRUE(SameBytes(*(*ex)->parameter_buffer("w"), Eager("w")));
}

TEST(LazyInitializers, OverwritingSomeDrawsTheOthers) {
  auto ex = Executor::Create(LinearGraph());
  ASSERT_TRUE(ex.ok()) << ex.status();
  const Tensor w = Counting(Shape{4, 3});
  absl::Status s = (*ex)->OverwriteSomeParameters(
      [&](const std::map<std::string, Tensor*>& params)
          -> absl::StatusOr<std::vector<std::string>> {
        std::memcpy(params.at("w")->raw_data(), w.raw_data(), w.byte_size());
        return std::vector<std::string>{"w"};
      });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE((*ex)->Run(Feeds(), {"y"}).ok());
  EXPECT_EQ((*ex)->initializers_drawn(), 1);
  EXPECT_TRUE(SameBytes(*(*ex)->parameter_buffer("w"), w));
  EXPECT_TRUE(SameBytes(*(*ex)->parameter_buffer("b"), Eager("b")));
}

}  // namespace
}  // namespace rill
