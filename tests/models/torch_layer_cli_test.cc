// Bare PyTorch layers as model specs (issue 23 item 3), through the
// command line: `rill build SPEC --weights DIR`, `rill grad --seed_inputs`
// and `rill run`, against nn.MultiheadAttention, nn.TransformerEncoderLayer
// and nn.TransformerDecoderLayer in f64 (make_torch_layer_goldens.py). One
// row per case; each case runs in f64 (to 1e-12) and f32 (oneDNN, to
// float tolerance).

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/npy.h"
#include "core/tensor.h"
#include "gtest/gtest.h"
#include "tests/models/model_test_util.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

const char kGoldens[] = "tests/models/testdata/torch_layers/";

struct Case {
  std::string name;
  std::vector<std::string> outputs;
  std::vector<std::string> differentiated;  // Float Inputs, not masks.
};

const Case kCases[] = {
    {"mha_batch_first_bool",
     {"attn_output", "attn_output_weights"},
     {"query", "key", "value"}},
    {"mha_seq_first_additive_nobias",
     {"attn_output", "attn_output_weights"},
     {"query", "key", "value"}},
    {"mha_plain",
     {"attn_output", "attn_output_weights"},
     {"query", "key", "value"}},
    {"encoder_post_relu_bool", {"output"}, {"src"}},
    {"encoder_pre_gelu_additive", {"output"}, {"src"}},
    {"decoder_post_relu", {"output"}, {"tgt", "memory"}},
    {"decoder_pre_gelu", {"output"}, {"tgt", "memory"}},
};

Tensor Load(const std::string& path) {
  absl::StatusOr<Tensor> t = ReadNpy(path, int64_t{1} << 24);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

std::string Stem(const fs::path& p) { return p.stem().string(); }

// Lines of `text` that contain `marker`, split at it: {before, after}.
std::vector<std::pair<std::string, std::string>> Split(
    const std::string& text, const std::string& marker) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    out.push_back({line.substr(0, at), line.substr(at + marker.size())});
  }
  return out;
}

std::string Trim(std::string s) {
  s.erase(0, s.find_first_not_of(' '));
  return s.substr(0, s.find_last_not_of(' ') + 1);
}

// The case's spec with `dtype`, written to a temp file.
std::string SpecFile(const std::string& name, const std::string& dtype) {
  std::string spec = ReadTestFile(kGoldens + name + "/spec.pbtxt");
  spec = absl::StrReplaceAll(spec,
                             {{"dtype: \"f64\"", "dtype: \"" + dtype + "\""}});
  return WriteTestFile(name + "_" + dtype + "_spec.pbtxt", spec);
}

// `--feed` flags for every input and seed, converted to f32 when asked
// (masks stay bool).
std::string Feeds(const std::string& name, bool f32) {
  std::string feeds;
  auto feed = [&](const std::string& node, const fs::path& file) {
    std::string path = file.string();
    if (f32) {
      Tensor t = Load(path);
      if (t.dtype() == DType::kF64) {
        Tensor c = *Tensor::Allocate(DType::kF32, t.shape());
        for (int64_t i = 0; i < t.num_elements(); ++i) {
          c.data<float>()[i] = static_cast<float>(t.data<double>()[i]);
        }
        path = TestTempPath(absl::StrCat(name, "_f32_", Stem(file), ".npy"));
        EXPECT_TRUE(WriteNpy(path, c).ok());
      }
    }
    absl::StrAppend(&feeds, " --feed ", node, "=", path);
  };
  for (const auto& e : fs::directory_iterator(kGoldens + name + "/inputs")) {
    feed(Stem(e.path()), e.path());
  }
  for (const auto& e : fs::directory_iterator(kGoldens + name + "/seeds")) {
    feed(Stem(e.path()) + "/grad/seed", e.path());
  }
  return feeds;
}

void CheckCase(const Case& c, const std::string& dtype) {
  SCOPED_TRACE(c.name + " " + dtype);
  const bool f32 = dtype == "f32";
  const std::string dir = kGoldens + c.name;
  const std::string tag = c.name + "_" + dtype;
  const std::string graph = TestTempPath(tag + ".pbtxt");
  CommandResult build = RunRill("build " + SpecFile(c.name, dtype) + " -o " +
                                graph + " --weights " + dir + "/weights");
  ASSERT_EQ(build.exit_code, 0) << build.err;

  // Export: the state_dict keys of the Parameters, and (f64) the very
  // bytes that were imported.
  const std::string exported = TestTempPath(tag + "_exported");
  fs::remove_all(exported);
  CommandResult ex = RunRill("export-weights " + graph + " -o " + exported);
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  std::map<std::string, std::string> key_of;  // Parameter -> key
  for (const auto& [key, node] : Split(ex.out, ".npy <- ")) {
    key_of[Trim(node)] = Trim(key);
  }
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir + "/weights")) {
    ++files;
    const std::string copy = exported + "/" + e.path().filename().string();
    if (!f32) {
      EXPECT_EQ(ReadTestFile(copy), ReadTestFile(e.path().string())) << copy;
    }
  }
  EXPECT_EQ(key_of.size(), files);

  const std::string grad = TestTempPath(tag + "_grad.pbtxt");
  CommandResult g =
      RunRill("grad " + graph + " --loss " + absl::StrJoin(c.outputs, ",") +
              " --wrt_params --wrt " + absl::StrJoin(c.differentiated, ",") +
              " --seed_inputs -o " + grad);
  ASSERT_EQ(g.exit_code, 0) << g.err;
  // gradient node -> the golden file that holds it.
  std::map<std::string, std::string> want;
  for (const std::string& out : c.outputs) {
    want[out] = dir + "/outputs/" + out + ".npy";
  }
  for (const auto& [before, after] : Split(g.out, " = d(")) {
    const std::string node = Trim(before.substr(before.find(':') + 1));
    const std::string wrt = after.substr(
        after.find(")/d(") + 4, after.rfind(')') - after.find(")/d(") - 4);
    const std::string key = key_of.count(wrt) ? key_of[wrt] : wrt;
    want[node] = dir + "/grads/" + key + ".npy";
  }
  EXPECT_EQ(want.size(),
            c.outputs.size() + key_of.size() + c.differentiated.size());
  std::vector<std::string> fetches;
  for (const auto& [node, file] : want) fetches.push_back(node);
  const std::string out_dir = TestTempPath(tag + "_run");
  fs::remove_all(out_dir);
  CommandResult run = RunRill("run " + grad + Feeds(c.name, f32) + " --fetch " +
                              absl::StrJoin(fetches, ",") + " -o " + out_dir);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  if (f32) {
    EXPECT_EQ(run.out.find(" 0 oneDNN"), std::string::npos) << run.out;
  }
  int compared = 0;
  double worst = 0;
  for (const auto& [before, path] : Split(run.out, " -> ")) {
    const std::string fetch = before.substr(0, before.find(' '));
    ASSERT_TRUE(want.count(fetch)) << fetch;
    const Tensor expected = Load(want[fetch]);
    Tensor got = Load(Trim(path));
    const double scale = std::max(1.0, MaxMagnitude(expected));
    const double error = MaxError(got, expected, fetch) / scale;
    EXPECT_LE(error, f32 ? 2e-5 : 1e-12) << fetch;
    worst = std::max(worst, error);
    ++compared;
  }
  EXPECT_EQ(compared, want.size());
  std::printf("%s %s: %d tensors, largest relative error %.3g\n",
              c.name.c_str(), dtype.c_str(), compared, worst);
}

TEST(TorchLayerCli, MatchesPyTorchInF64) {
  for (const Case& c : kCases) CheckCase(c, "f64");
}

TEST(TorchLayerCli, MatchesPyTorchInF32) {
  for (const Case& c : kCases) CheckCase(c, "f32");
}

}  // namespace
}  // namespace rill
