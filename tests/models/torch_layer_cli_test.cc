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

const std::string kGoldens = "tests/models/testdata/torch_layers/";
// make_seq2seq_goldens.py's files, seq2seq_<case>_<name>.npy.
const std::string kSeq2Seq = "tests/models/testdata/seq2seq_";

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
    {"mha_kdim_vdim",
     {"attn_output", "attn_output_weights"},
     {"query", "key", "value"}},
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

// `rill export-weights GRAPH -o DIR`: Parameter -> state_dict key, read
// from what it prints.
std::map<std::string, std::string> ExportWeights(const std::string& graph,
                                                 const std::string& dir) {
  fs::remove_all(dir);
  CommandResult ex = RunRill("export-weights " + graph + " -o " + dir);
  EXPECT_EQ(ex.exit_code, 0) << ex.err;
  std::map<std::string, std::string> key_of;
  for (const auto& [key, node] : Split(ex.out, ".npy <- ")) {
    key_of[Trim(node)] = Trim(key);
  }
  return key_of;
}

// `rill grad GRAPH ARGS -o OUT`: the tensor differentiated -> its
// gradient node, read from what it prints.
std::map<std::string, std::string> Grad(const std::string& graph,
                                        const std::string& args,
                                        const std::string& out) {
  CommandResult g = RunRill("grad " + graph + " " + args + " -o " + out);
  EXPECT_EQ(g.exit_code, 0) << g.err;
  std::map<std::string, std::string> gradient_of;
  for (const auto& [before, after] : Split(g.out, " = d(")) {
    const size_t at = after.find(")/d(") + 4;
    gradient_of[after.substr(at, after.rfind(')') - at)] =
        Trim(before.substr(before.find(':') + 1));
  }
  return gradient_of;
}

// Runs `graph` with `feeds`, fetching every key of `want` (fetch -> golden
// file), and compares each to its golden relative to its largest value.
// Returns the largest relative error.
double RunAndCompare(const std::string& graph, const std::string& feeds,
                     const std::map<std::string, std::string>& want,
                     double tolerance, const std::string& tag) {
  std::vector<std::string> fetches;
  for (const auto& [fetch, file] : want) fetches.push_back(fetch);
  const std::string out_dir = TestTempPath(tag + "_run");
  fs::remove_all(out_dir);
  CommandResult run = RunRill("run " + graph + feeds + " --fetch " +
                              absl::StrJoin(fetches, ",") + " -o " + out_dir);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  if (tolerance > 1e-9) {  // f32: oneDNN computes it.
    EXPECT_EQ(run.out.find(" 0 oneDNN"), std::string::npos) << run.out;
  }
  size_t compared = 0;
  double worst = 0;
  for (const auto& [before, path] : Split(run.out, " -> ")) {
    const std::string fetch = before.substr(0, before.find(' '));
    if (!want.count(fetch)) {
      ADD_FAILURE() << "unexpected fetch " << fetch;
      continue;
    }
    const Tensor expected = Load(want.at(fetch));
    const double scale = std::max(1.0, MaxMagnitude(expected));
    const double error = MaxError(Load(Trim(path)), expected, fetch) / scale;
    EXPECT_LE(error, tolerance) << fetch;
    worst = std::max(worst, error);
    ++compared;
  }
  EXPECT_EQ(compared, want.size());
  std::printf("%s: %zu tensors, largest relative error %.3g\n", tag.c_str(),
              compared, worst);
  return worst;
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
  std::map<std::string, std::string> key_of = ExportWeights(graph, exported);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir + "/weights")) {
    ++files;
    const std::string copy = exported + "/" + e.path().filename().string();
    if (!f32) {
      EXPECT_EQ(ReadTestFile(copy), ReadTestFile(e.path().string())) << copy;
    }
  }
  EXPECT_EQ(key_of.size(), files);

  const std::string grad = TestTempPath(tag + "_grad.pbtxt");
  const std::map<std::string, std::string> gradient_of =
      Grad(graph,
           "--loss " + absl::StrJoin(c.outputs, ",") + " --wrt_params --wrt " +
               absl::StrJoin(c.differentiated, ",") + " --seed_inputs",
           grad);
  // fetch -> the golden file that holds it.
  std::map<std::string, std::string> want;
  for (const std::string& out : c.outputs) {
    want[out] = dir + "/outputs/" + out + ".npy";
  }
  for (const auto& [wrt, gradient] : gradient_of) {
    const std::string key = key_of.count(wrt) ? key_of[wrt] : wrt;
    want[gradient] = dir + "/grads/" + key + ".npy";
  }
  EXPECT_EQ(want.size(),
            c.outputs.size() + key_of.size() + c.differentiated.size());
  RunAndCompare(grad, Feeds(c.name, f32), want, f32 ? 2e-5 : 1e-12, tag);
}

TEST(TorchLayerCli, MatchesPyTorchInF64) {
  for (const Case& c : kCases) CheckCase(c, "f64");
}

TEST(TorchLayerCli, MatchesPyTorchInF32) {
  for (const Case& c : kCases) CheckCase(c, "f32");
}

// The seq2seq model's weights go in and out by nn.Transformer's names:
// make_seq2seq_goldens.py holds nn.Transformer as `transformer` beside
// `embedding` (and `positional`, `output`), so its keys are ours with
// "transformer." in front of the stacks'. Built with them, the training
// graph gives PyTorch's logits, loss and every weight's gradient.
TEST(TorchLayerCli, Seq2SeqImportsAndExportsNnTransformerNames) {
  struct Seq2SeqCase {
    std::string name, fields;
  };
  const Seq2SeqCase cases[] = {
      {"post_tied", "label_smoothing: 0.1"},
      {"pre_untied",
       "norm_first: true activation: \"gelu\" positional: \"learned\" "
       "untied_output: true"},
  };
  for (const Seq2SeqCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string spec = WriteTestFile(
        "seq2seq_" + c.name + "_spec.pbtxt",
        "dtype: \"f64\"\nseq2seq { vocab_size: 7 d_model: 6 heads: 2 ff: 8 "
        "encoder_layers: 2 decoder_layers: 2 src_length: 5 tgt_length: 4 " +
            c.fields + " }\n");
    const std::string graph =
        TestTempPath("seq2seq_" + c.name + "_graph.pbtxt");
    ASSERT_EQ(RunRill("build " + spec + " -o " + graph).exit_code, 0);
    const std::map<std::string, std::string> key_of =
        ExportWeights(graph, TestTempPath("seq2seq_random"));
    // The golden weights under our keys.
    const std::string weights = TestTempPath("seq2seq_" + c.name + "_in");
    fs::remove_all(weights);
    fs::create_directories(weights);
    std::map<std::string, std::string> golden_key;  // our key -> golden's
    for (const auto& [node, key] : key_of) {
      const bool stack =
          key.rfind("encoder.", 0) == 0 || key.rfind("decoder.", 0) == 0;
      golden_key[key] = stack ? "transformer." + key : key;
      fs::copy_file(kSeq2Seq + c.name + "_" + golden_key[key] + ".npy",
                    weights + "/" + key + ".npy");
    }
    EXPECT_TRUE(golden_key.count("encoder.layers.1.self_attn.in_proj_weight"));
    EXPECT_TRUE(golden_key.count("decoder.norm.weight"));
    EXPECT_TRUE(golden_key.count("embedding.weight"));
    const std::string imported =
        TestTempPath("seq2seq_" + c.name + "_imported.pbtxt");
    CommandResult build =
        RunRill("build " + spec + " -o " + imported + " --weights " + weights);
    ASSERT_EQ(build.exit_code, 0) << build.err;
    const std::string exported = TestTempPath("seq2seq_" + c.name + "_out");
    ExportWeights(imported, exported);
    for (const auto& [key, golden] : golden_key) {
      EXPECT_EQ(ReadTestFile(exported + "/" + key + ".npy"),
                ReadTestFile(weights + "/" + key + ".npy"))
          << key;
    }
    const std::string grad = TestTempPath("seq2seq_" + c.name + "_grad.pbtxt");
    std::map<std::string, std::string> want = {
        {"loss", kSeq2Seq + c.name + "_loss.npy"},
        {"seq2seq/logits", kSeq2Seq + c.name + "_logits.npy"}};
    for (const auto& [wrt, gradient] :
         Grad(imported, "--loss loss --wrt_params", grad)) {
      want[gradient] =
          kSeq2Seq + c.name + "_d_" + golden_key[key_of.at(wrt)] + ".npy";
    }
    EXPECT_EQ(want.size(), 2 + key_of.size());
    std::string feeds;
    for (const char* input : {"src", "tgt_in", "tgt_out"}) {
      absl::StrAppend(&feeds, " --feed ", input, "=", kSeq2Seq, c.name, "_",
                      input, ".npy");
    }
    RunAndCompare(grad, feeds, want, 1e-12, "seq2seq_" + c.name);
  }
}

// A weight file that is missing or misshaped is named with its Parameter
// and the shape expected; a mask fed with the wrong dtype or batch names
// the Input; spec mistakes name the field.
TEST(TorchLayerCli, ErrorsNameTheFileTheInputOrTheField) {
  const std::string c = "mha_batch_first_bool";
  const std::string weights = TestTempPath("bad_weights");
  fs::remove_all(weights);
  fs::copy(kGoldens + c + "/weights", weights);
  const std::string spec = SpecFile(c, "f64");
  const std::string graph = TestTempPath("bad.pbtxt");
  fs::remove(weights + "/in_proj_bias.npy");
  CommandResult missing =
      RunRill("build " + spec + " -o " + graph + " --weights " + weights);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(
      missing.err.find(
          "in_proj_bias.npy (Parameter multihead_attention/in_proj_bias)"),
      std::string::npos)
      << missing.err;
  EXPECT_NE(missing.err.find("(expected f32 or f64 [24])"), std::string::npos)
      << missing.err;
  EXPECT_FALSE(fs::exists(graph));
  fs::copy_file(kGoldens + c + "/weights/out_proj.bias.npy",
                weights + "/in_proj_bias.npy");
  CommandResult misshaped =
      RunRill("build " + spec + " -o " + graph + " --weights " + weights);
  EXPECT_EQ(misshaped.exit_code, 1);
  EXPECT_NE(misshaped.err.find("in_proj_bias.npy (Parameter "
                               "multihead_attention/in_proj_bias): shape [8], "
                               "expected [24]"),
            std::string::npos)
      << misshaped.err;

  ASSERT_EQ(RunRill("build " + spec + " -o " + graph).exit_code, 0);
  const std::string in = kGoldens + c + "/inputs/";
  const std::string feeds =
      " --feed query=" + in + "query.npy --feed key=" + in +
      "key.npy --feed value=" + in + "value.npy --feed attn_mask=" + in +
      "attn_mask.npy";
  CommandResult float_mask = RunRill(
      "run " + graph + feeds + " --feed key_padding_mask=" + in + "value.npy");
  EXPECT_EQ(float_mask.exit_code, 1);
  for (const char* part :
       {"feed 'key_padding_mask'", "is f64 but the input is declared bool"}) {
    EXPECT_NE(float_mask.err.find(part), std::string::npos) << float_mask.err;
  }
  // attn_mask [4, 5] has the right width but 4 rows where B is 3.
  CommandResult batch =
      RunRill("run " + graph + feeds + " --feed key_padding_mask=" + in +
              "attn_mask.npy");
  EXPECT_EQ(batch.exit_code, 1);
  EXPECT_NE(batch.err.find("node 'key_padding_mask/batch_check'"),
            std::string::npos)
      << batch.err;

  const std::pair<std::string, std::string> specs[] = {
      {"multihead_attention { embed_dim: 6 num_heads: 4 query_length: 2 "
       "key_length: 2 }",
       "multihead_attention.embed_dim: 6 is not divisible by num_heads 4"},
      {"multihead_attention { embed_dim: 8 num_heads: 2 query_length: 2 "
       "key_length: 2 attn_mask: \"float\" }",
       "multihead_attention.attn_mask: 'float': expected \"\", bool or "
       "additive"},
      {"transformer_encoder_layer { d_model: 8 nhead: 2 dim_feedforward: 4 "
       "src_length: 3 tgt_mask: \"bool\" }",
       "transformer_encoder_layer.tgt_mask: decoder only"},
      {"transformer_decoder_layer { d_model: 8 nhead: 2 dim_feedforward: 4 "
       "src_length: 3 }",
       "transformer_decoder_layer.tgt_length: 0: must be >= 1"},
      {"transformer_decoder_layer { d_model: 8 nhead: 2 dim_feedforward: 4 "
       "src_length: 3 tgt_length: 2 activation: \"tanh\" }",
       "transformer_decoder_layer.activation: 'tanh': expected relu or gelu"},
      {"transformer_encoder_layer { d_model: 8 nhead: 2 dim_feedforward: 4 "
       "src_length: 3 } seq2seq { vocab_size: 3 }",
       "transformer_encoder_layer: stands alone"},
  };
  for (const auto& [text, message] : specs) {
    SCOPED_TRACE(text);
    CommandResult r = RunRill("build " + WriteTestFile("bad_spec.pbtxt", text) +
                              " -o " + graph);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace rill
