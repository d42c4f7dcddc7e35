// Parameter initializers (ops/parameter_value.h): each draws from the
// distribution torch.nn.init defines (the scales below are the formulas of
// PyTorch 1.13's torch.nn.init documentation, written out here), the same
// values for the same attrs on any thread count, and the executor binds
// exactly those values.

#include "ops/parameter_value.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"

namespace rill {
namespace {

Node ParameterNode(const Initializer& init, DType dtype, const Shape& shape) {
  Node n;
  n.set_name("w");
  n.set_op("Parameter");
  SetInitializer(init, dtype, shape, &n);
  return n;
}

Initializer Kind(const std::string& kind,
                 std::vector<std::pair<std::string, AttrValue>> attrs = {}) {
  return {kind, std::move(attrs)};
}

Tensor Draw(const Node& n, int threads = 1) {
  absl::StatusOr<Tensor> t = SourceValue(n, int64_t{1} << 30, threads);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : Tensor();
}

struct Moments {
  double mean = 0, std = 0, min = INFINITY, max = -INFINITY;
};

Moments MomentsOf(const Tensor& t) {
  Moments m;
  const int64_t n = t.num_elements();
  for (int64_t i = 0; i < n; ++i) m.mean += t.ElementAsDouble(i) / n;
  for (int64_t i = 0; i < n; ++i) {
    const double x = t.ElementAsDouble(i);
    m.std += (x - m.mean) * (x - m.mean) / n;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.std = std::sqrt(m.std);
  return m;
}

// One row per initializer: what it draws on a [out=300, in=200] weight.
struct Row {
  Initializer init;
  double mean, std;  // Of the distribution.
  double low, high;  // Bounds every value must keep (infinite: none).
};

// fan_in 200, fan_out 300.
const double kXavierStd = std::sqrt(2.0 / (200 + 300));
const double kKaimingStd = std::sqrt(2.0) / std::sqrt(200.0);

std::vector<Row> Rows() {
  const double u = std::sqrt(3.0);  // Uniform(-u s, u s) has std s.
  return {
      {Initializer::Zeros(), 0, 0, 0, 0},
      {Initializer::Ones(), 1, 0, 1, 1},
      {Initializer::Constant(-0.25), -0.25, 0, -0.25, -0.25},
      {Initializer::Normal(0.5, 2, 3), 0.5, 2, -INFINITY, INFINITY},
      {Initializer::Uniform(-1, 3, 4), 1, 4 / std::sqrt(12.0), -1, 3},
      // Standard normal cut at +-1: variance 1 - 2 phi(1) / (2 Phi(1) - 1).
      {Kind("truncated_normal", {{"a", FloatAttr(-1)}, {"b", FloatAttr(1)}}), 0,
       std::sqrt(1 - 2 * 0.24197072451914337 / 0.6826894921370859), -1, 1},
      {Kind("xavier_uniform"), 0, kXavierStd, -u * kXavierStd, u * kXavierStd},
      {Kind("xavier_normal", {{"gain", FloatAttr(5.0 / 3)}}), 0,
       5.0 / 3 * kXavierStd, -INFINITY, INFINITY},
      {Kind("kaiming_uniform"), 0, kKaimingStd, -u * kKaimingStd,
       u * kKaimingStd},
      // fan_out, tanh's gain 5/3.
      {Kind("kaiming_normal", {{"mode", StringAttr("fan_out")},
                               {"nonlinearity", StringAttr("tanh")}}),
       0, 5.0 / 3 / std::sqrt(300.0), -INFINITY, INFINITY},
  };
}

TEST(ParameterInit, DrawsTheDistributionPyTorchDefines) {
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.init.kind);
    Tensor t = Draw(ParameterNode(row.init, DType::kF64, Shape{300, 200}));
    ASSERT_EQ(t.shape(), (Shape{300, 200}));
    Moments m = MomentsOf(t);
    // 60000 draws: the sample mean is within 5 standard errors (and the
    // sums' rounding).
    EXPECT_NEAR(m.mean, row.mean, 5 * row.std / std::sqrt(60000.0) + 1e-12);
    EXPECT_NEAR(m.std, row.std, 0.02 * row.std + 1e-12);
    EXPECT_GE(m.min, row.low);
    EXPECT_LE(m.max, row.high);
    if (std::isfinite(row.low) && row.std > 0) {
      // A bounded distribution reaches close to its bounds.
      EXPECT_LT(m.min, row.low + 0.01 * (row.high - row.low));
      EXPECT_GT(m.max, row.high - 0.01 * (row.high - row.low));
    }
  }
}

TEST(ParameterInit, SameAttrsSameValuesOnAnyThreadCount) {
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.init.kind);
    // Odd sizes: Box-Muller pairs and thread chunks do not line up.
    for (DType dtype : {DType::kF32, DType::kF64}) {
      Node n = ParameterNode(row.init, dtype, Shape{333, 401});
      Tensor one = Draw(n, 1);
      for (int threads : {2, 3, 7}) {
        Tensor many = Draw(n, threads);
        ASSERT_EQ(one.byte_size(), many.byte_size());
        EXPECT_EQ(std::memcmp(one.raw_data(), many.raw_data(), one.byte_size()),
                  0)
            << threads << " threads";
      }
    }
  }
}

TEST(ParameterInit, SeedChangesTheValuesAndF32IsF64Rounded) {
  Tensor a = Draw(
      ParameterNode(Initializer::Normal(0, 1, 1), DType::kF64, Shape{1000}));
  Tensor b = Draw(
      ParameterNode(Initializer::Normal(0, 1, 2), DType::kF64, Shape{1000}));
  Tensor a32 = Draw(
      ParameterNode(Initializer::Normal(0, 1, 1), DType::kF32, Shape{1000}));
  int same = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    same += a.data<double>()[i] == b.data<double>()[i];
    EXPECT_EQ(a32.data<float>()[i], static_cast<float>(a.data<double>()[i]));
  }
  EXPECT_EQ(same, 0);
}

TEST(ParameterInit, ExecutorBindsTheDrawnValues) {
  Graph g;
  *g.add_node() =
      ParameterNode(Initializer::Uniform(-2, 2, 9), DType::kF32, Shape{70000});
  Node* y = g.add_node();
  y->set_name("y");
  y->set_op("Identity");
  y->add_input("w");
  absl::StatusOr<ValidGraph> valid =
      ValidateGraph(LoadedGraph{g, SourceMap("test")});
  ASSERT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(*std::move(valid));
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto out = (*ex)->Run({}, {"y"});
  ASSERT_TRUE(out.ok()) << out.status();
  Tensor want = Draw(g.node(0), 2);
  ASSERT_EQ((*out)[0].byte_size(), want.byte_size());
  EXPECT_EQ(
      std::memcmp((*out)[0].raw_data(), want.raw_data(), want.byte_size()), 0);
}

TEST(ParameterInit, SetParameterValueDropsTheInitializer) {
  Node n = ParameterNode(Initializer::Normal(0, 1, 1), DType::kF32, Shape{2});
  Tensor t = Draw(n);
  SetParameterValue(t, &n);
  EXPECT_FALSE(HasInitializer(n));
  EXPECT_EQ(n.attr_size(), 1);
  Tensor back = Draw(n);
  EXPECT_EQ(std::memcmp(back.raw_data(), t.raw_data(), t.byte_size()), 0);
}

}  // namespace
}  // namespace rill
