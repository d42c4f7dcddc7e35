#ifndef RILL_MODELS_RNN_WEIGHTS_H_
#define RILL_MODELS_RNN_WEIGHTS_H_

// PyTorch-layout weights (issue 6): a graph's recurrent-stack and head
// Parameters as the .npy files of a PyTorch state_dict, one per entry.
//
// Names. A stack Parameter <prefix>/l<k>/<w> (models/rnn.h), <w> one of
// weight_ih, weight_hh, bias_ih, bias_hh with an optional _reverse, is the
// nn.RNN/LSTM/GRU entry <w without _reverse>_l<k>[_reverse], e.g.
// rnn/l1/weight_hh_reverse <-> weight_hh_l1_reverse.npy. A head Parameter
// <head>/weight or <head>/bias (models/model_spec.h) is nn.Linear's, named
// <head>.weight / <head>.bias as in a module holding it as `<head>`. The
// layouts already agree: rnn.h stores PyTorch's [G*H, I] gate blocks in
// PyTorch's order, and the head's weight is [O, F] like nn.Linear's.
//
// A graph must hold exactly one stack prefix and at most one head, and no
// other Parameter, so that no weight is silently left at its random start.
// A graph with no stack Parameter is an attention or Transformer model,
// named as models/torch_transformer_weights.h says.

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "proto/graph.pb.h"

namespace rill {

struct PyTorchWeight {
  std::string node;  // The Parameter node, "rnn/l0/weight_ih".
  std::string key;   // The state_dict key and file stem, "weight_ih_l0".
};

// Every Parameter of `graph` with its PyTorch name, in graph order. Fails,
// naming the node, on a Parameter outside the scheme above or a second
// stack prefix or head.
absl::StatusOr<std::vector<PyTorchWeight>> PyTorchWeightNames(
    const Graph& graph);

// Replaces the value of every Parameter by DIR/<key>.npy, which must exist
// and have the Parameter's shape and dtype f32 or f64 (converted to the
// Parameter's dtype). Errors name the file and the Parameter; on any error
// `graph` is unchanged.
absl::Status ImportPyTorchWeights(const std::string& dir, Graph* graph);

// Writes DIR/<key>.npy for every Parameter (DIR must exist), each file
// atomically (core/npy.h WriteNpy). The values are `values[node]` when
// present (a trained checkpoint's), else the graph's own; a value must
// have its Parameter's dtype and shape. Everything is checked before the
// first file is written.
absl::Status ExportPyTorchWeights(const Graph& graph,
                                  const std::map<std::string, Tensor>& values,
                                  const std::string& dir);

// The file that holds `key` in a weight directory: <dir>/<key>.npy.
std::string WeightFilePath(const std::string& dir, const std::string& key);

// ImportPyTorchWeights and ExportPyTorchWeights over an explicit list of
// (Parameter, file stem) pairs, for models with other naming schemes
// (models/bert_hf.h); a node that is not a Parameter of `graph` is an
// error naming it.
absl::Status ImportWeightFiles(const std::string& dir,
                               const std::vector<PyTorchWeight>& names,
                               Graph* graph);
absl::Status ExportWeightFiles(const Graph& graph,
                               const std::vector<PyTorchWeight>& names,
                               const std::map<std::string, Tensor>& values,
                               const std::string& dir);

}  // namespace rill

#endif  // RILL_MODELS_RNN_WEIGHTS_H_
