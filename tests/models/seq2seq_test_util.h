#ifndef RILL_TESTS_MODELS_SEQ2SEQ_TEST_UTIL_H_
#define RILL_TESTS_MODELS_SEQ2SEQ_TEST_UTIL_H_

// The cases of make_seq2seq_goldens.py, which the seq2seq and decoding
// tests share.

#include <map>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "models/seq2seq.h"
#include "proto/graph.pb.h"
#include "runtime/executor.h"

namespace rill {

// testdata/seq2seq_<name>.npy.
Tensor Seq2SeqGolden(const std::string& name);

// "seq2seq/encoder/layers.0/self_attn/in_proj_weight" ->
// "transformer.encoder.layers.0.self_attn.in_proj_weight", the script's
// state_dict key.
std::string TorchKey(const std::string& node);

struct Seq2SeqCase {
  const char* name;
  bool norm_first;
  TransformerActivation activation;
  PositionalKind positional;
  bool tie_output;
  double label_smoothing;
};
extern const Seq2SeqCase kSeq2SeqCases[2];  // post_tied, pre_untied

// The script's sizes.
Seq2SeqOptions GoldenOptions(const Seq2SeqCase& c, DType dtype);

// Sets every Parameter of `g` to the case's golden, in `dtype`.
void LoadGoldenWeights(const Seq2SeqCase& c, DType dtype, Graph* g);

// The case's src, tgt_in and tgt_out.
std::map<std::string, Tensor> GoldenTokens(const Seq2SeqCase& c);

// Validates `g` and makes its executor (nullptr and a test failure on
// error).
std::unique_ptr<Executor> MakeExecutor(Graph g, Backend backend);

}  // namespace rill

#endif  // RILL_TESTS_MODELS_SEQ2SEQ_TEST_UTIL_H_
