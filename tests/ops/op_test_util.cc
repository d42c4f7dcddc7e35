#include "tests/ops/op_test_util.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ops/registry.h"

namespace rill {

InputSpec Positive(Shape s) {
  return InputSpec(std::move(s), DType::kF32, Fill::kPositive);
}
InputSpec Indices(Shape s, int64_t bound, DType d) {
  return InputSpec(std::move(s), d, Fill::kIndices, bound);
}
InputSpec Bools(Shape s) {
  return InputSpec(std::move(s), DType::kBool, Fill::kBools);
}
AttrValue True() { return BoolAttr(true); }

std::vector<OpRow> AllOpRows() {
  std::vector<OpRow> all;
  for (auto rows :
       {MathRows(), ArrayRows(), NnRows(), IndexRows(), RecurrentRows()}) {
    all.insert(all.end(), rows.begin(), rows.end());
  }
  return all;
}

std::string RowName(const OpRow& row) {
  std::vector<std::string> inputs;
  for (const InputSpec& in : row.inputs) {
    inputs.push_back(absl::StrCat(DTypeName(in.dtype), in.shape.ToString()));
  }
  std::string attrs;
  for (const auto& [k, v] : row.attrs) {
    absl::StrAppend(&attrs, " ", k, "=", v.ShortDebugString());
  }
  return absl::StrCat(row.op, "(", absl::StrJoin(inputs, ", "), ")", attrs);
}

namespace {
DType TypeOf(const InputSpec& in, DType float_type) {
  return in.dtype == DType::kF32 ? float_type : in.dtype;
}
}  // namespace

Graph RowGraph(const OpRow& row, DType float_type) {
  Graph g;
  for (size_t i = 0; i < row.inputs.size(); ++i) {
    Node* in = g.add_node();
    in->set_name(absl::StrCat("in", i));
    in->set_op("Input");
    (*in->mutable_attr())["dtype"].set_type(
        DTypeToProto(TypeOf(row.inputs[i], float_type)));
    ShapeProto* shape = (*in->mutable_attr())["shape"].mutable_shape();
    for (int64_t d : row.inputs[i].shape.dims()) shape->add_dim(d);
  }
  Node* y = g.add_node();
  y->set_name("y");
  y->set_op(row.op);
  for (size_t i = 0; i < row.inputs.size(); ++i) {
    y->add_input(absl::StrCat("in", i));
  }
  for (const auto& [k, v] : row.attrs) (*y->mutable_attr())[k] = v;
  return g;
}

std::vector<std::string> RowFetches(const OpRow& row) {
  Graph g = RowGraph(row, DType::kF32);
  const OpDef* op = GlobalOpRegistry().Find(row.op);
  int outputs = 1;
  if (op != nullptr) {
    absl::StatusOr<int> n = op->NumOutputs(g.node(g.node_size() - 1));
    if (n.ok()) outputs = *n;
  }
  std::vector<std::string> fetches;
  for (int k = 0; k < outputs; ++k) {
    fetches.push_back(k == 0 ? "y" : absl::StrCat("y:", k));
  }
  return fetches;
}

std::map<std::string, Tensor> RowFeeds(const OpRow& row, DType float_type,
                                       uint32_t seed) {
  std::mt19937 rng(seed);
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < row.inputs.size(); ++i) {
    const InputSpec& spec = row.inputs[i];
    DType dtype = TypeOf(spec, float_type);
    Tensor t = *Tensor::Allocate(dtype, spec.shape);
    for (int64_t k = 0; k < t.num_elements(); ++k) {
      double v = 0;
      switch (spec.fill) {
        case Fill::kUniform:
          v = std::uniform_real_distribution<double>(-2, 2)(rng);
          break;
        case Fill::kPositive:
          v = std::uniform_real_distribution<double>(0.5, 2)(rng);
          break;
        case Fill::kIndices:
          v = static_cast<double>(rng() % std::max<int64_t>(spec.bound, 1));
          break;
        case Fill::kBools:
          v = rng() % 2;
          break;
      }
      switch (dtype) {
        case DType::kF32:
          t.data<float>()[k] = static_cast<float>(v);
          break;
        case DType::kF64:
          t.data<double>()[k] = static_cast<float>(v);
          break;  // Same values as f32.
        case DType::kI32:
          t.data<int32_t>()[k] = static_cast<int32_t>(v);
          break;
        case DType::kI64:
          t.data<int64_t>()[k] = static_cast<int64_t>(v);
          break;
        case DType::kBool:
          t.data<bool>()[k] = v != 0;
          break;
      }
    }
    feeds[absl::StrCat("in", i)] = t;
  }
  return feeds;
}

double NormwiseRelativeError(const Tensor& got, const Tensor& want,
                             double absolute_below) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    double w = want.ElementAsDouble(i), d = got.ElementAsDouble(i) - w;
    diff += d * d;
    norm += w * w;
  }
  norm = std::sqrt(norm);
  const bool absolute = norm == 0 || norm < absolute_below;
  return absolute ? std::sqrt(diff) : std::sqrt(diff) / norm;
}

}  // namespace rill
