// PyTorch weight import and export: a torch model's state_dict
// (tools/rnn_goldens/make_rnn_weights_goldens.py: a bidirectional 2-layer LSTM
// and a Linear head) imported into the matching spec graph reproduces torch's
// output; export after import gives back the same files; bad files are named.

#include "models/rnn_weights.h"

#include <sys/stat.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/npy.h"
#include "core/tensor_proto.h"
#include "google/protobuf/text_format.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "models/model_spec.h"
#include "runtime/executor.h"
#include "tests/test_util.h"

namespace rill {
namespace {

const char kDir[] = "tools/rnn_goldens/testdata/pytorch_lstm";

// The model of make_rnn_weights_goldens.py.
Graph SpecGraph(const std::string& dtype) {
  ModelSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "input { features: 3 steps: 4 } dtype: '" + dtype +
          "' recurrent { cell: 'lstm' hidden_size: 4 num_layers: 2 "
          "bidirectional: true } head { outputs: 2 } loss { mse { } }",
      &spec));
  auto g = BuildModel(spec);
  EXPECT_TRUE(g.ok()) << g.status();
  return *g;
}

Tensor Golden(const std::string& path) {
  auto t = ReadNpy(path, 1 << 20);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

std::string MakeDir(const std::string& name) {
  std::string dir = TestTempPath(name);
  mkdir(dir.c_str(), 0755);
  return dir;
}

TEST(PyTorchWeightNames, MapsStackAndHead) {
  auto names = PyTorchWeightNames(SpecGraph("f32"));
  ASSERT_TRUE(names.ok()) << names.status();
  ASSERT_EQ(names->size(), 18u);
  std::vector<std::string> keys;
  for (const PyTorchWeight& w : *names) keys.push_back(w.key);
  std::vector<std::string> files = ListDir(kDir);
  std::vector<std::string> stems;
  for (const std::string& f : files) stems.push_back(f.substr(0, f.size() - 4));
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, stems);  // exactly torch's state_dict entries
  bool found = false;
  for (const PyTorchWeight& w : *names) {
    if (w.node == "rnn/l1/weight_hh_reverse") {
      EXPECT_EQ(w.key, "weight_hh_l1_reverse");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(ImportPyTorchWeights, MatchesTorchOutput) {
  Graph g = SpecGraph("f64");
  ASSERT_TRUE(ImportPyTorchWeights(kDir, &g).ok());
  Tensor x = Golden("tools/rnn_goldens/testdata/rnn_weights_x.npy");
  Tensor y = Golden("tools/rnn_goldens/testdata/rnn_weights_y.npy");
  auto valid = ValidateGraph(LoadedGraph{std::move(g), SourceMap()});
  ASSERT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(*std::move(valid));
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto out = (*ex)->Run({{"x", x}}, {"head/output"});
  ASSERT_TRUE(out.ok()) << out.status();
  const Tensor& got = (*out)[0];
  ASSERT_EQ(got.shape(), y.shape());
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    EXPECT_NEAR(got.data<double>()[i], y.data<double>()[i], 1e-5) << i;
  }
}

TEST(ExportPyTorchWeights, ExportAfterImportGivesTheSameFiles) {
  Graph g = SpecGraph("f32");
  ASSERT_TRUE(ImportPyTorchWeights(kDir, &g).ok());
  std::string out = MakeDir("export");
  absl::Status s = ExportPyTorchWeights(g, {}, out);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(ListDir(out), ListDir(kDir));
  for (const std::string& f : ListDir(kDir)) {
    EXPECT_EQ(ReadTestFile(out + "/" + f),
              ReadTestFile(std::string(kDir) + "/" + f))
        << f;
  }
}

TEST(ExportPyTorchWeights, ValuesOverrideTheGraphs) {
  Graph g = SpecGraph("f32");
  Tensor w = *Tensor::Allocate(DType::kF32, Shape{2, 8});
  w.data<float>()[3] = 1.5f;
  std::string out = MakeDir("override");
  ASSERT_TRUE(ExportPyTorchWeights(g, {{"head/weight", w}}, out).ok());
  EXPECT_TRUE(Golden(out + "/head.weight.npy").BitwiseEquals(w));
  Tensor bad = *Tensor::Allocate(DType::kF32, Shape{8, 2});
  absl::Status s = ExportPyTorchWeights(g, {{"head/weight", bad}}, out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("head/weight"), std::string::npos) << s;
}

// A copy of the golden directory with one file removed or replaced.
std::string BrokenCopy(const std::string& name, const std::string& drop,
                       const Tensor* replacement) {
  std::string dir = MakeDir(name);
  for (const std::string& f : ListDir(kDir)) {
    if (f == drop) continue;
    EXPECT_TRUE(
        WriteNpy(dir + "/" + f, Golden(std::string(kDir) + "/" + f)).ok());
  }
  if (replacement != nullptr) {
    EXPECT_TRUE(WriteNpy(dir + "/" + drop, *replacement).ok());
  }
  return dir;
}

void ExpectFailsUnchanged(const std::string& dir,
                          const std::vector<std::string>& mentions) {
  Graph g = SpecGraph("f32");
  const std::string before = g.SerializeAsString();
  absl::Status s = ImportPyTorchWeights(dir, &g);
  ASSERT_FALSE(s.ok());
  for (const std::string& m : mentions) {
    EXPECT_NE(s.message().find(m), std::string::npos) << m << " in " << s;
  }
  EXPECT_EQ(g.SerializeAsString(), before);
}

TEST(ImportPyTorchWeights, MissingFileIsNamed) {
  std::string dir = BrokenCopy("missing", "bias_hh_l1_reverse.npy", nullptr);
  ExpectFailsUnchanged(dir,
                       {"bias_hh_l1_reverse.npy", "rnn/l1/bias_hh_reverse"});
}

TEST(ImportPyTorchWeights, WrongShapeIsNamed) {
  Tensor t = *Tensor::Allocate(DType::kF32, Shape{16, 4});
  std::string dir = BrokenCopy("shape", "weight_ih_l1.npy", &t);
  ExpectFailsUnchanged(
      dir, {"weight_ih_l1.npy", "rnn/l1/weight_ih", "[16, 4]", "[16, 8]"});
}

TEST(ImportPyTorchWeights, WrongDtypeIsNamed) {
  Tensor t = *Tensor::Allocate(DType::kI64, Shape{2});
  std::string dir = BrokenCopy("dtype", "head.bias.npy", &t);
  ExpectFailsUnchanged(dir, {"head.bias.npy", "head/bias", "i64"});
}

TEST(PyTorchWeightNames, UnknownParameterIsNamed) {
  Graph g = SpecGraph("f32");
  Node extra;
  for (const Node& n : g.node()) {
    if (n.name() == "head/bias") extra = n;
  }
  extra.set_name("extra");
  *g.add_node() = extra;
  auto names = PyTorchWeightNames(g);
  ASSERT_FALSE(names.ok());
  EXPECT_NE(names.status().message().find("Parameter extra"), std::string::npos)
      << names.status();
}

}  // namespace
}  // namespace rill
