#ifndef RILL_TESTS_OPS_OP_TEST_UTIL_H_
#define RILL_TESTS_OPS_OP_TEST_UTIL_H_

// The op test table's row type, and the helpers that turn a row into a graph
// and inputs. Each op family keeps its rows in its own rows_<family>.cc.

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ops/op_def.h"
#include "proto/graph.pb.h"

namespace rill {

// How a row's input is filled (from a fixed seed).
enum class Fill {
  kUniform,   // floats in [-2, 2]
  kPositive,  // floats in [0.5, 2]: for Log, Sqrt, Pow bases, divisors
  kIndices,   // integers in [0, bound)
  kBools,     // true or false
};

struct InputSpec {
  InputSpec() = default;  // An f32 scalar.
  // So that a row can write an f32 input as its shape: {3, 5}.
  InputSpec(std::initializer_list<int64_t> dims) : shape(dims) {}  // NOLINT
  InputSpec(Shape s) : shape(std::move(s)) {}                      // NOLINT
  InputSpec(Shape s, DType d, Fill f, int64_t b = 0)
      : shape(std::move(s)), dtype(d), fill(f), bound(b) {}
  Shape shape;
  DType dtype = DType::kF32;
  Fill fill = Fill::kUniform;
  int64_t bound = 0;
};
InputSpec Positive(Shape s);
InputSpec Indices(Shape s, int64_t bound, DType d = DType::kI32);
InputSpec Bools(Shape s);

struct OpRow {
  std::string op;
  std::vector<InputSpec> inputs;
  std::map<std::string, AttrValue> attrs;
  // Whether oneDNN has a primitive for this case; the test checks that the
  // oneDNN backend really ran it there (or really fell back).
  bool onednn;
};

// The rows of each family; AllOpRows() is their concatenation.
std::vector<OpRow> MathRows();
std::vector<OpRow> ArrayRows();
std::vector<OpRow> NnRows();
std::vector<OpRow> IndexRows();
std::vector<OpRow> RecurrentRows();
std::vector<OpRow> AllOpRows();

std::string RowName(const OpRow& row);
// in0, in1, ... -> y = op(in0, in1, ...); float inputs use `float_type`.
Graph RowGraph(const OpRow& row, DType float_type);
// y, y:1, ... for every output of the row's node.
std::vector<std::string> RowFetches(const OpRow& row);
std::map<std::string, Tensor> RowFeeds(const OpRow& row, DType float_type,
                                       uint32_t seed);

// sqrt(sum (got - want)^2 / sum want^2); the absolute sqrt(sum (got -
// want)^2) when want's norm is 0 or under `absolute_below`.
double NormwiseRelativeError(const Tensor& got, const Tensor& want,
                             double absolute_below = 0);

AttrValue True();

// RecurrentLayer's cells, and its inputs for one of them: x [T, B, I], h0,
// weight_ih, weight_hh, bias_ih, bias_hh, and c0 for lstm.
const std::vector<std::string>& RecurrentCells();
std::vector<InputSpec> RecurrentLayerInputs(const std::string& cell, int64_t t,
                                            int64_t b, int64_t i, int64_t h);

}  // namespace rill

#endif  // RILL_TESTS_OPS_OP_TEST_UTIL_H_
