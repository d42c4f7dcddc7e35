// Float attributes are double (issue 23): an f64 graph's epsilon is the
// number written, and graphs saved when they were single precision load as
// before.

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "ops/op_def.h"
#include "ops/registry.h"
#include "runtime/executor.h"

namespace rill {
namespace {

// LayerNorm over x f64 [1, 4], gamma ones and beta zeros, with `epsilon`
// written as text (nothing when empty: the op's default).
std::string LayerNormGraph(const std::string& epsilon) {
  auto vector = [](const char* name, const char* values) {
    return absl::StrCat("node { name: '", name,
                        "' op: 'Const' attr { key: 'value' value { tensor { "
                        "dtype: DT_DOUBLE dims: 4 double_val: [",
                        values, "] } } } }\n");
  };
  return absl::StrCat(
      "node { name: 'x' op: 'Input' attr { key: 'dtype' value { type: "
      "DT_DOUBLE } } attr { key: 'shape' value { shape { dim: 1 dim: 4 } } } "
      "}\n",
      vector("gamma", "1, 1, 1, 1"), vector("beta", "0, 0, 0, 0"),
      "node { name: 'ln' op: 'LayerNorm' input: 'x' input: 'gamma' input: "
      "'beta'",
      epsilon.empty()
          ? ""
          : absl::StrCat(" attr { key: 'epsilon' value { f: ", epsilon, " } }"),
      " }\noutput: 'ln'\n");
}

// The largest relative error of LayerNorm(x) against the closed form with
// epsilon exactly 1e-5. The spread of x is small (variance 1.25e-4), so
// that epsilon weighs: float32(1e-5) would be off by about 1e-9.
double WorstErrorAgainstClosedForm(const std::string& graph_text,
                                   Backend backend) {
  auto graph = ValidateGraph(*ParseGraphText(graph_text, "ln.pbtxt"), {});
  EXPECT_TRUE(graph.ok()) << graph.status();
  ExecutorOptions options;
  options.backend = backend;
  auto ex = *Executor::Create(*std::move(graph), options);
  Tensor x = *Tensor::Allocate(DType::kF64, {1, 4});
  const double values[] = {1.0, 1.01, 1.02, 1.03};
  std::copy(values, values + 4, x.data<double>());
  auto y = ex->Run({{"x", x}}, {"ln"});
  EXPECT_TRUE(y.ok()) << y.status();
  const double mean = 1.015, variance = 1.25e-4;
  double worst = 0;
  for (int i = 0; i < 4; ++i) {
    const double want = (values[i] - mean) / std::sqrt(variance + 1e-5);
    worst = std::max(
        worst, std::abs((*y)[0].data<double>()[i] - want) / std::abs(want));
  }
  return worst;
}

TEST(FloatAttrTest, F64LayerNormEpsilonIsTheNumberWritten) {
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    EXPECT_LT(WorstErrorAgainstClosedForm(LayerNormGraph("1e-5"), backend),
              1e-14);
    // The op's default is 1e-5 exactly, too.
    EXPECT_LT(WorstErrorAgainstClosedForm(LayerNormGraph(""), backend), 1e-14);
  }
  // What a single-precision epsilon gives, so that the bound above means
  // something.
  EXPECT_GT(WorstErrorAgainstClosedForm(
                LayerNormGraph(absl::StrFormat("%.17g", float{1e-5})),
                Backend::kReference),
            1e-10);
}

TEST(FloatAttrTest, GraphsSavedWithSinglePrecisionFloatsStillLoad) {
  // A graph as binary files were written before: the float in field 2.
  Graph old;
  AttrValue rate;
  rate.set_f32(0.25f);
  Node* node = old.add_node();
  node->set_name("x");
  node->set_op("Input");
  (*node->mutable_attr())["dtype"].set_type(DT_FLOAT);
  (*node->mutable_attr())["shape"].mutable_shape()->add_dim(3);
  node = old.add_node();
  node->set_name("d");
  node->set_op("Dropout");
  node->add_input("x");
  (*node->mutable_attr())["rate"] = rate;
  old.add_output("d");
  auto loaded = ParseGraphBinary(old.SerializeAsString(), "old.pb");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto graph = ValidateGraph(*std::move(loaded), {});
  ASSERT_TRUE(graph.ok()) << graph.status();
  const Node& d = graph->node(1);
  Attrs attrs(d, graph->info(1).op->attrs());
  EXPECT_EQ(attrs.GetFloat("rate"), 0.25);
}

}  // namespace
}  // namespace rill
