#include "tests/models/seq2seq_test_util.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/npy.h"
#include "core/tensor_proto.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "tests/graph/grad_check.h"

namespace rill {

Tensor Seq2SeqGolden(const std::string& name) {
  auto t = ReadNpy(absl::StrCat("tests/models/testdata/seq2seq_", name, ".npy"),
                   1 << 20);
  EXPECT_TRUE(t.ok()) << name << ": " << t.status();
  return t.ok() ? *t : Tensor();
}

std::string TorchKey(const std::string& node) {
  std::string key =
      absl::StrReplaceAll(node.substr(node.find('/') + 1), {{"/", "."}});
  if (absl::StartsWith(key, "encoder.") || absl::StartsWith(key, "decoder.")) {
    key = "transformer." + key;
  }
  return key;
}

const Seq2SeqCase kSeq2SeqCases[2] = {
    {"post_tied", false, TransformerActivation::kRelu,
     PositionalKind::kSinusoidal, true, 0.1},
    {"pre_untied", true, TransformerActivation::kGelu, PositionalKind::kLearned,
     false, 0.0},
};

Seq2SeqOptions GoldenOptions(const Seq2SeqCase& c, DType dtype) {
  Seq2SeqOptions o;
  o.vocab_size = 7;
  o.d_model = 6;
  o.heads = 2;
  o.ff = 8;
  o.encoder_layers = o.decoder_layers = 2;
  o.src_length = 5;
  o.tgt_length = 4;
  o.activation = c.activation;
  o.norm_first = c.norm_first;
  o.positional = c.positional;
  o.tie_output = c.tie_output;
  o.label_smoothing = c.label_smoothing;
  o.dtype = dtype;
  return o;
}

void LoadGoldenWeights(const Seq2SeqCase& c, DType dtype, Graph* g) {
  for (Node& n : *g->mutable_node()) {
    if (n.op() != "Parameter") continue;
    Tensor value = ConvertFloat(
        Seq2SeqGolden(absl::StrCat(c.name, "_", TorchKey(n.name()))), dtype);
    *(*n.mutable_attr())["value"].mutable_tensor() = TensorToProto(value);
  }
}

std::map<std::string, Tensor> GoldenTokens(const Seq2SeqCase& c) {
  std::map<std::string, Tensor> feeds;
  for (const char* in : {"src", "tgt_in", "tgt_out"}) {
    feeds[in] = Seq2SeqGolden(absl::StrCat(c.name, "_", in));
  }
  return feeds;
}

std::unique_ptr<Executor> MakeExecutor(Graph g, Backend backend) {
  auto valid = ValidateGraph({std::move(g), {}});
  EXPECT_TRUE(valid.ok()) << valid.status();
  if (!valid.ok()) return nullptr;
  auto ex = Executor::Create(*std::move(valid), {backend});
  EXPECT_TRUE(ex.ok()) << ex.status();
  return ex.ok() ? *std::move(ex) : nullptr;
}

}  // namespace rill
