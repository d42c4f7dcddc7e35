// Models exported by PyTorch 1.13 (tests/onnx/make_torch_exports.py, which
// also saved the inputs and PyTorch's outputs), imported and run by rill:
// outputs within 1e-5 (f32), the LSTM, the bidirectional GRU and the
// TransformerEncoder at every opset 13 to 17, the others at 14 and 17.
// Then an imported model fine-tuned with `rill grad` and `rill train`.

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/npy.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "onnx/import.h"
#include "runtime/executor.h"
#include "tests/test_util.h"

namespace rill {
namespace {

constexpr char kData[] = "tests/onnx/testdata/";
constexpr double kTol = 1e-5;

struct Export {
  std::string name;
  std::vector<std::string> inputs, outputs;
};

// The executor of kData/<name>_opset<N>.onnx, imported.
std::unique_ptr<Executor> ImportAndLoad(const std::string& name, int opset) {
  absl::StatusOr<Graph> graph =
      ImportOnnxFile(absl::StrCat(kData, name, "_opset", opset, ".onnx"));
  EXPECT_TRUE(graph.ok()) << graph.status();
  if (!graph.ok()) return nullptr;
  LoadedGraph loaded;
  loaded.graph = *std::move(graph);
  absl::StatusOr<ValidGraph> valid = ValidateGraph(std::move(loaded));
  EXPECT_TRUE(valid.ok()) << valid.status();
  if (!valid.ok()) return nullptr;
  auto exec = Executor::Create(*std::move(valid));
  EXPECT_TRUE(exec.ok()) << exec.status();
  return exec.ok() ? *std::move(exec) : nullptr;
}

// Runs the model on <prefix><input>.npy and compares each output with
// <prefix><output>.npy within kTol.
void ExpectMatches(Executor& exec, const Export& model,
                   const std::string& prefix) {
  std::map<std::string, Tensor> feeds;
  for (const auto& in : model.inputs) {
    auto t = ReadNpy(prefix + in + ".npy", 1 << 20);
    ASSERT_TRUE(t.ok()) << t.status();
    feeds[in] = *t;
  }
  auto got = exec.Run(feeds, model.outputs);
  ASSERT_TRUE(got.ok()) << got.status();
  for (size_t k = 0; k < model.outputs.size(); ++k) {
    auto want = ReadNpy(prefix + model.outputs[k] + ".npy", 1 << 20);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_EQ((*got)[k].shape(), want->shape()) << model.outputs[k];
    double worst = 0;
    for (int64_t i = 0; i < want->num_elements(); ++i) {
      worst = std::max(worst, std::abs((*got)[k].ElementAsDouble(i) -
                                       want->ElementAsDouble(i)));
    }
    EXPECT_LE(worst, kTol) << model.outputs[k];
  }
}

class TorchExportTest
    : public ::testing::TestWithParam<std::tuple<Export, int>> {};

TEST_P(TorchExportTest, MatchesPyTorch) {
  const auto& [model, opset] = GetParam();
  std::unique_ptr<Executor> exec = ImportAndLoad(model.name, opset);
  ASSERT_NE(exec, nullptr);
  ExpectMatches(*exec, model, absl::StrCat(kData, model.name, "."));
}

std::string ExportName(
    const ::testing::TestParamInfo<std::tuple<Export, int>>& info) {
  return absl::StrCat(std::get<0>(info.param).name, "_opset",
                      std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    EveryOpset, TorchExportTest,
    ::testing::Combine(
        ::testing::Values(Export{"lstm", {"x"}, {"y", "h", "c"}},
                          Export{"bigru", {"x"}, {"y", "h"}},
                          Export{"encoder", {"src", "pad"}, {"out"}}),
        ::testing::Range(13, 18)),
    ExportName);

INSTANTIATE_TEST_SUITE_P(
    Exports, TorchExportTest,
    ::testing::Combine(
        ::testing::Values(
            Export{"gelu", {"x"}, {"y"}},
            Export{"decoder", {"tgt", "memory", "memory_pad"}, {"out"}},
            Export{"bert",
                   {"input_ids", "token_type_ids", "attention_mask"},
                   {"sequence_output", "pooled_output"}}),
        ::testing::Values(14, 17)),
    ExportName);

// Exports with dynamic_axes (batch and sequence): one imported graph run at
// two batch sizes and sequence lengths, each against PyTorch. The packed_*
// models run pack_padded_sequence / pad_packed_sequence around a
// bidirectional 2-layer LSTM, a bidirectional GRU with h0 fed and a ReLU
// RNN, their lengths fed (sequence_lens): lengths [4, 2, 1] and [3, 2, 2]
// (T 4) through one graph; the GRU's batch is dynamic: [4, 2, 1] and
// [4, 4, 3, 2, 1].
class DynamicExportTest
    : public ::testing::TestWithParam<std::tuple<Export, int>> {};

TEST_P(DynamicExportTest, MatchesPyTorchAtTwoSizes) {
  const auto& [model, opset] = GetParam();
  std::unique_ptr<Executor> exec = ImportAndLoad(model.name, opset);
  ASSERT_NE(exec, nullptr);
  for (int set : {0, 1}) {
    SCOPED_TRACE(absl::StrCat("input set ", set));
    ExpectMatches(*exec, model, absl::StrCat(kData, model.name, ".", set, "."));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Exports, DynamicExportTest,
    ::testing::Combine(
        ::testing::Values(Export{"lstm_dynamic", {"x"}, {"y", "h", "c"}},
                          Export{"encoder_dynamic", {"src", "pad"}, {"out"}},
                          Export{"packed_lstm", {"x", "lens"}, {"y", "h", "c"}},
                          Export{"packed_gru", {"x", "lens", "h0"}, {"y", "h"}},
                          Export{"packed_rnn", {"x", "lens"}, {"y", "h"}}),
        ::testing::Values(14, 17)),
    ExportName);

// The packed exports' layers are unrolled and masked (a PaddingMask per
// direction and layer: 4, 2 and 1); whole sequences keep the fused layer.
TEST(ImportedModelTest, PackedSequencesUnrollWholeOnesFuse) {
  for (const auto& [model, masks] :
       std::vector<std::pair<std::string, int>>{{"packed_lstm", 4},
                                                {"packed_gru", 2},
                                                {"packed_rnn", 1},
                                                {"bigru", 0}}) {
    SCOPED_TRACE(model);
    absl::StatusOr<Graph> graph =
        ImportOnnxFile(absl::StrCat(kData, model, "_opset17.onnx"));
    ASSERT_TRUE(graph.ok()) << graph.status();
    std::map<std::string, int> ops;
    for (const Node& node : graph->node()) ++ops[node.op()];
    EXPECT_EQ(ops["PaddingMask"], masks);
    EXPECT_EQ(ops["RecurrentLayer"], masks ? 0 : 4);
  }
}

// PyTorch's erf GELU (Div, Erf, Add, Mul, Mul) imports as one Gelu node
// each; its outputs match above (TorchExportTest.MatchesPyTorch/gelu_*).
// The MLP has two GELUs, the BERT encoder one per layer (2).
TEST(ImportedModelTest, ErfGeluBecomesOneGelu) {
  for (const char* model : {"gelu", "bert"}) {
    for (int opset : {14, 17}) {
      SCOPED_TRACE(absl::StrCat(model, "_opset", opset));
      absl::StatusOr<Graph> graph =
          ImportOnnxFile(absl::StrCat(kData, model, "_opset", opset, ".onnx"));
      ASSERT_TRUE(graph.ok()) << graph.status();
      std::map<std::string, int> ops;
      for (const Node& node : graph->node()) ++ops[node.op()];
      EXPECT_EQ(ops["Gelu"], 2);
      EXPECT_EQ(ops["Erf"], 0);
    }
  }
}

// --weights_out: the large weights only in the checkpoint, which --params
// restores; the outputs are PyTorch's again.
TEST(ImportedModelTest, WeightsOutAndParams) {
  const std::string graph = TestTempPath("encoder.pbtxt");
  const std::string ckpt = TestTempPath("encoder.rckpt");
  CommandResult r = RunRill(
      absl::StrCat("import-onnx ", kData, "encoder_opset17.onnx -o ", graph,
                   " --weights_out ", ckpt, " --inline_max 100"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("only there"), std::string::npos) << r.out;
  const std::string out = TestTempPath("encoder_out");
  r = RunRill(absl::StrCat("run ", graph, " --feed src=", kData,
                           "encoder.src.npy --feed pad=", kData,
                           "encoder.pad.npy --params ", ckpt, " -o ", out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto got = ReadNpy(out + "/out.npy", 1 << 20);
  auto want = ReadNpy(absl::StrCat(kData, "encoder.out.npy"), 1 << 20);
  ASSERT_TRUE(got.ok() && want.ok());
  for (int64_t i = 0; i < want->num_elements(); ++i) {
    ASSERT_NEAR(got->ElementAsDouble(i), want->ElementAsDouble(i), kTol) << i;
  }
}

// The column `loss` of metrics.csv.
std::vector<double> Losses(const std::string& csv) {
  std::vector<double> losses;
  for (absl::string_view line : absl::StrSplit(csv, '\n')) {
    std::vector<std::string> cells = absl::StrSplit(line, ',');
    double v = 0;
    if (cells.size() > 1 && absl::SimpleAtod(cells[1], &v)) {
      losses.push_back(v);
    }
  }
  return losses;
}

TEST(ImportedModelTest, DifferentiatesAndFineTunes) {
  const std::string graph = TestTempPath("regressor.pbtxt");
  CommandResult r = RunRill(
      absl::StrCat("import-onnx ", kData, "regressor_opset17.onnx -o ", graph));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunRill(absl::StrCat("grad ", graph, " --loss loss --wrt_params -o ",
                           TestTempPath("grad.pbtxt")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(ReadTestFile(TestTempPath("grad.pbtxt")).find("/grad"),
            std::string::npos);
  // The config's paths resolve against its directory: make them absolute.
  const std::string data = std::filesystem::absolute(kData).string();
  const std::string config = WriteTestFile(
      "regressor.train.pbtxt",
      absl::StrCat("graph: \"", graph, "\"\nloss: \"loss\"\n",
                   "data { input: \"x\" file: \"", data,
                   "regressor_train.x.npy\" }\n",
                   "data { input: \"target\" file: \"", data,
                   "regressor_train.target.npy\" }\n",
                   "batch_size: 8\noptimizer { learning_rate: 0.01 adam {} }\n"
                   "steps: 40\nlog_every: 10\nseed: 1\n"));
  const std::string out = TestTempPath("train_out");
  r = RunRill(absl::StrCat("train ", config, " -o ", out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<double> losses = Losses(ReadTestFile(out + "/metrics.csv"));
  ASSERT_EQ(losses.size(), 40u);
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    first += losses[i];
    last += losses[30 + i];
  }
  EXPECT_LT(last, first / 2) << "the loss did not fall";
}

}  // namespace
}  // namespace rill
