#ifndef RILL_ONNX_TRANSLATE_H_
#define RILL_ONNX_TRANSLATE_H_

// One translator per ONNX op type (default domain): it emits rill nodes for
// one ONNX node and defines the node's outputs.

#include <map>
#include <string>

#include "onnx/import_context.h"

namespace rill {

using OnnxTranslator = absl::Status (*)(NodeTranslation&);

const std::map<std::string, OnnxTranslator>& OnnxTranslators();
// The stand-ins for matched subgraphs (fuse_gelu.h), by op_type.
const std::map<std::string, OnnxTranslator>& FusedOnnxTranslators();

// LSTM, GRU and RNN (translate_recurrent.cc).
absl::Status TranslateRecurrent(NodeTranslation& n);

}  // namespace rill

#endif  // RILL_ONNX_TRANSLATE_H_
