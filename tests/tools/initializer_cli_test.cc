// Parameter initializers through the rill command: the hand-written
// example trains from its initializers with its loss falling; a BERT with
// BERT-base's width and vocabulary builds to a small file of initializers
// (issue 16 item 3; the full BERT-base is bench/scale_cli.py's, too slow
// for the suite); and a bad initializer exits 1 naming file, line, node
// and attr.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

TEST(InitializerCli, TheHandWrittenExampleTrainsFromItsInitializers) {
  CommandResult check = RunRill("check examples/train/sine_mlp_init.pbtxt");
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("parameters: 4 tensors, 65 values"),
            std::string::npos)
      << check.out;
  const std::string dir = TestTempPath("sine_init");
  CommandResult train = RunRill(
      "train examples/train/sine_mlp_init.train.pbtxt --overwrite -o " + dir);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  // The first progress line's mean loss, and the summary's last one.
  const size_t first = train.out.find("loss ");
  const size_t last = train.out.rfind("loss ");
  ASSERT_NE(first, std::string::npos) << train.out;
  const double start = std::strtod(train.out.c_str() + first + 5, nullptr);
  const double end = std::strtod(train.out.c_str() + last + 5, nullptr);
  EXPECT_GT(start, 0) << train.out;
  EXPECT_LT(end, start / 4) << train.out;
}

TEST(InitializerCli, AWideBertBuildsToASmallFileOfInitializers) {
  const std::string spec = TestTempPath("wide_bert_model.pbtxt");
  std::ofstream(spec) << "bert { vocab_size: 30522 hidden_size: 768 "
                         "num_hidden_layers: 2 num_attention_heads: 12 "
                         "intermediate_size: 3072 hidden_act: 'gelu' "
                         "max_position_embeddings: 512 type_vocab_size: 2 "
                         "seq_length: 128 max_predictions_per_seq: 20 "
                         "seed: 1 }\n";
  const std::string out = TestTempPath("wide_bert.pbtxt");
  CommandResult build = RunRill("build " + spec + " -o " + out);
  ASSERT_EQ(build.exit_code, 0) << build.err;
  // BertForPreTraining's count: embeddings 30522*768 + 512*768 + 2*768 +
  // 2*768, per layer 4*(768*768 + 768) + 2*(768*3072) + 3072 + 768 + 4*768,
  // pooler and MLM transform 2*(768*768 + 768) + 2*768, MLM bias 30522,
  // NSP 768*2 + 2: 157 MB of f32 in a file of structure alone.
  EXPECT_NE(build.out.find("(39227708 values)"), std::string::npos)
      << build.out;
  EXPECT_LT(fs::file_size(out), 200000u);
  CommandResult check = RunRill("check " + out);
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("39227708 values"), std::string::npos) << check.out;
}

TEST(InitializerCli, ABadInitializerNamesFileLineNodeAndAttr) {
  const std::string graph = TestTempPath("bad_init.pbtxt");
  std::ofstream(graph)
      << "node {\n  name: \"w\"\n  op: \"Parameter\"\n"
         "  attr { key: \"init\" value { s: \"normal\" } }\n"
         "  attr { key: \"dtype\" value { type: DT_FLOAT } }\n"
         "  attr { key: \"shape\" value { shape { dim: 3 } } }\n"
         "  attr { key: \"a\" value { f: 1 } }\n}\n";
  CommandResult r = RunRill("check " + graph);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(graph + ":1:1: node 'w' (Parameter)"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("attr 'a': does not apply to init 'normal'"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace rill
