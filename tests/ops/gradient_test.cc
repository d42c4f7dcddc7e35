// The gradient table: every differentiable op's gradient checked against
// numerical derivatives in f64 on the reference backend, and its f32
// gradient on the oneDNN backend against that f64 reference. A registry
// test fails when a differentiable op has no row, or an op's gradient state
// is still missing.

#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/tensor_proto.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "ops/registry.h"
#include "tests/graph/grad_check.h"
#include "tests/ops/grad_rows.h"

namespace rill {
namespace {

// The row's graph plus loss = sum_k ReduceSum(y:k * w_k) over its float
// outputs, with fixed random weights w_k, so that every output's gradient
// matters and no two elements' gradients coincide.
Graph RowLossGraph(const OpRow& row, DType float_type) {
  Graph g = RowGraph(row, float_type);
  absl::StatusOr<ValidGraph> valid = ValidateGraph({g, {}});
  if (!valid.ok()) return g;  // The test reports the error.
  const NodeInfo& y = valid->info(valid->FindNode("y"));
  std::mt19937 rng(7);
  std::vector<std::string> terms;
  for (size_t k = 0; k < y.dtypes.size(); ++k) {
    if (!kFloatTypes.Contains(y.dtypes[k])) continue;
    std::string out = k == 0 ? "y" : absl::StrCat("y:", k);
    // In the output's own dtype: Cast rows output the other float type.
    Tensor w = *Tensor::Allocate(y.dtypes[k], y.shapes[k]);
    for (int64_t i = 0; i < w.num_elements(); ++i) {
      double v = std::uniform_real_distribution<double>(0.5, 1.5)(rng);
      if (y.dtypes[k] == DType::kF64) {
        w.data<double>()[i] = v;
      } else {
        w.data<float>()[i] = static_cast<float>(v);
      }
    }
    Node* wn = g.add_node();
    wn->set_name(absl::StrCat("w", k));
    wn->set_op("Const");
    *(*wn->mutable_attr())["value"].mutable_tensor() = TensorToProto(w);
    Node* mul = g.add_node();
    mul->set_name(absl::StrCat("weighted", k));
    mul->set_op("Mul");
    mul->add_input(out);
    mul->add_input(wn->name());
    Node* sum = g.add_node();
    sum->set_name(absl::StrCat("term", k));
    sum->set_op("ReduceSum");
    sum->add_input(mul->name());
    terms.push_back(sum->name());
  }
  Node* loss = g.add_node();
  loss->set_name("loss");
  loss->set_op("AddN");
  for (const std::string& t : terms) loss->add_input(t);
  return g;
}

std::vector<std::string> FloatInputs(const OpRow& row) {
  std::vector<std::string> wrt;
  for (size_t i = 0; i < row.inputs.size(); ++i) {
    if (row.inputs[i].dtype == DType::kF32)
      wrt.push_back(absl::StrCat("in", i));
  }
  return wrt;
}

// Moves float inputs at least 0.05 away from 0, where Abs, Relu and the
// like have kinks; the derivative stencil reaches 2e-3 either side.
void AwayFromZero(std::map<std::string, Tensor>& feeds,
                  const std::vector<std::string>& wrt) {
  for (const std::string& name : wrt) {
    Tensor& t = feeds[name];
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      double& v = t.data<double>()[i];
      if (std::abs(v) < 0.05) v = v < 0 ? -0.05 - v : 0.05 + v;
    }
  }
}

TEST(GradientTable, MatchesNumericalDerivativesInF64) {
  uint32_t seed = 1;
  double worst = 0;
  std::string worst_row;
  for (const OpRow& row : AllGradRows()) {
    SCOPED_TRACE(RowName(row));
    Graph g = RowLossGraph(row, DType::kF64);
    std::vector<std::string> wrt = FloatInputs(row);
    std::map<std::string, Tensor> feeds = RowFeeds(row, DType::kF64, seed++);
    AwayFromZero(feeds, wrt);
    absl::StatusOr<GradCheck> check = CheckGradients(g, "loss", wrt, feeds);
    ASSERT_TRUE(check.ok()) << check.status();
    EXPECT_LT(check->max_error, 1e-6) << check->worst;
    if (check->max_error >= worst) {
      worst = check->max_error;
      worst_row = RowName(row);
    }
  }
  std::printf("%zu rows; largest relative error %.3g, in %s\n",
              AllGradRows().size(), worst, worst_row.c_str());
}

TEST(GradientTable, OneDnnF32MatchesF64Reference) {
  uint32_t seed = 1;
  for (const OpRow& row : AllGradRows()) {
    SCOPED_TRACE(RowName(row));
    std::vector<std::string> wrt = FloatInputs(row);
    std::map<std::string, Tensor> feeds = RowFeeds(row, DType::kF64, seed++);
    AwayFromZero(feeds, wrt);
    auto want = AnalyticGradients(RowLossGraph(row, DType::kF64), "loss", wrt,
                                  feeds, Backend::kReference);
    ASSERT_TRUE(want.ok()) << want.status();
    std::map<std::string, Tensor> feeds32;
    for (const auto& [name, t] : feeds) {
      feeds32[name] =
          kFloatTypes.Contains(t.dtype()) ? ConvertFloat(t, DType::kF32) : t;
    }
    auto got = AnalyticGradients(RowLossGraph(row, DType::kF32), "loss", wrt,
                                 feeds32, Backend::kOneDnn);
    ASSERT_TRUE(got.ok()) << got.status();
    for (size_t k = 0; k < wrt.size(); ++k) {
      EXPECT_LT(NormwiseRelativeError((*got)[k], (*want)[k]), 1e-4) << wrt[k];
    }
  }
}

TEST(GradientTable, EveryOpHasAGradientStateAndEveryDifferentiableOpARow) {
  std::set<std::string> with_rows;
  for (const OpRow& row : AllGradRows()) with_rows.insert(row.op);
  std::vector<std::string> missing, no_row, row_without_gradient;
  const OpRegistry& registry = GlobalOpRegistry();
  for (const std::string& name : registry.Names()) {
    GradientState state = registry.Find(name)->gradient_state();
    if (state == GradientState::kMissing) missing.push_back(name);
    if (state == GradientState::kDifferentiable && !with_rows.count(name)) {
      no_row.push_back(name);
    }
    if (state != GradientState::kDifferentiable && with_rows.count(name)) {
      row_without_gradient.push_back(name);
    }
  }
  EXPECT_TRUE(missing.empty())
      << "gradient state missing: " << absl::StrJoin(missing, ", ");
  EXPECT_TRUE(no_row.empty()) << "differentiable ops without a gradient row: "
                              << absl::StrJoin(no_row, ", ");
  EXPECT_TRUE(row_without_gradient.empty())
      << "rows for ops that are not differentiable: "
      << absl::StrJoin(row_without_gradient, ", ");
}

}  // namespace
}  // namespace rill
