#include "tests/models/model_test_util.h"

#include <algorithm>
#include <cmath>

#include "core/tensor_proto.h"
#include "gtest/gtest.h"
#include "ops/parameter_value.h"

namespace rill {

Node* FindNode(Graph* g, const std::string& name) {
  for (Node& n : *g->mutable_node()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

void AddInput(Graph* g, const std::string& name,
              const std::vector<int64_t>& dims, DType dtype) {
  AddInputNode(g, name, dtype, dims);
}

double MaxError(const Tensor& got, const Tensor& want,
                const std::string& what) {
  EXPECT_EQ(got.shape(), want.shape()) << what;
  if (got.shape() != want.shape()) return INFINITY;
  double err = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    err = std::max(err,
                   std::abs(got.ElementAsDouble(i) - want.ElementAsDouble(i)));
  }
  return err;
}

double MaxMagnitude(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    m = std::max(m, std::abs(t.ElementAsDouble(i)));
  }
  return m;
}

// Turns each Parameter into an Input of its shape, fed with its value: the
std::map<std::string, Tensor> ParametersToInputs(Graph* g) {
  std::map<std::string, Tensor> values;
  for (Node& n : *g->mutable_node()) {
    if (n.op() != "Parameter") continue;
    auto t = SourceValue(n, 1 << 20);
    EXPECT_TRUE(t.ok()) << t.status();
    values[n.name()] = *t;
    n.set_op("Input");
    n.mutable_attr()->clear();
    (*n.mutable_attr())["dtype"].set_type(DT_DOUBLE);
    for (int64_t d : t->shape().dims()) {
      (*n.mutable_attr())["shape"].mutable_shape()->add_dim(d);
    }
  }
  return values;
}

}  // namespace rill
