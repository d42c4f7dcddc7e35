#ifndef RILL_TESTS_MODELS_MODEL_TEST_UTIL_H_
#define RILL_TESTS_MODELS_MODEL_TEST_UTIL_H_

// Helpers the model-builder tests (rnn, attention, transformer) share.

#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "graph/graph_builder.h"
#include "proto/graph.pb.h"

namespace rill {

Node* FindNode(Graph* g, const std::string& name);

// AddInputNode (graph/graph_builder.h) with the tests' usual f64; ops are
// added with its AddNode.
void AddInput(Graph* g, const std::string& name,
              const std::vector<int64_t>& dims, DType dtype = DType::kF64);

// The largest |got - want| over a tensor; shapes must match.
double MaxError(const Tensor& got, const Tensor& want, const std::string& what);

// The largest |t| over a tensor: the scale of a relative error.
double MaxMagnitude(const Tensor& t);

// Turns each Parameter into an Input of its shape, fed with its value: the
// gradient checker differentiates with respect to Inputs.
std::map<std::string, Tensor> ParametersToInputs(Graph* g);

}  // namespace rill

#endif  // RILL_TESTS_MODELS_MODEL_TEST_UTIL_H_
