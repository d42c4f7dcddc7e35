// `rill run` in inference mode by default, `--training`, and `rill export`
// (issue 17 item 4): an exported model computes what the training graph
// computes in inference mode, to the last bit, for a tiny BERT and a
// recurrent model, both with dropout; the errors leave nothing behind.

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/tools/train_cli_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

std::string Abs(const std::string& path) { return fs::absolute(path).string(); }

// A model trained a few steps: its graph, checkpoint directory and the
// --feed flags of its model inputs.
struct Trained {
  std::string graph, checkpoints, feeds, dir;
};

// Builds `spec` (a model spec's text) and trains it for 4 steps on `data`
// ("input file" pairs, both the training and the validation data).
Trained Train(const std::string& name, const std::string& spec,
              const std::vector<std::pair<std::string, std::string>>& data,
              const std::vector<std::string>& model_inputs, int batch_size) {
  Trained t;
  t.dir = TestTempPath(name);
  fs::remove_all(t.dir);
  fs::create_directories(t.dir);
  const std::string spec_path = t.dir + "/model.pbtxt";
  std::ofstream(spec_path) << spec;
  t.graph = t.dir + "/graph.pbtxt";
  CommandResult built = RunRill("build " + spec_path + " -o " + t.graph);
  EXPECT_EQ(built.exit_code, 0) << built.err;
  std::string config = "graph: \"graph.pbtxt\"\nloss: \"loss\"\n";
  for (const auto& [input, file] : data) {
    config += "data { input: \"" + input + "\" file: \"" + Abs(file) + "\" }\n";
    config += "validation_data { input: \"" + input + "\" file: \"" +
              Abs(file) + "\" }\n";
    for (const std::string& m : model_inputs) {
      if (m == input) t.feeds += " --feed " + input + "=" + Abs(file);
    }
  }
  config += "batch_size: " + std::to_string(batch_size) +
            "\noptimizer { learning_rate: 0.01 adam { } }\n"
            "steps: 4\neval_every: 4\nlog_every: 4\ncheckpoint_every: 4\n"
            "seed: 3\n";
  std::ofstream(t.dir + "/train.pbtxt") << config;
  t.checkpoints = t.dir + "/out";
  CommandResult trained =
      RunRill("train " + t.dir + "/train.pbtxt -o " + t.checkpoints);
  EXPECT_EQ(trained.exit_code, 0) << trained.out << trained.err;
  return t;
}

Trained TinyBert() {
  static const Trained* t = new Trained(Train(
      "export_bert",
      "bert {\n vocab_size: 50 hidden_size: 16 num_hidden_layers: 2\n"
      " num_attention_heads: 2 intermediate_size: 32 hidden_act: \"gelu\"\n"
      " max_position_embeddings: 16 type_vocab_size: 2\n"
      " hidden_dropout_prob: 0.1 attention_probs_dropout_prob: 0.1\n"
      " seq_length: 12 max_predictions_per_seq: 3 seed: 1\n}\n",
      {{"input_ids", "examples/bert/tiny/input_ids.npy"},
       {"token_type_ids", "examples/bert/tiny/token_type_ids.npy"},
       {"attention_mask", "examples/bert/tiny/attention_mask.npy"},
       {"masked_lm_positions", "examples/bert/tiny/masked_lm_positions.npy"},
       {"masked_lm_ids", "examples/bert/tiny/masked_lm_ids.npy"},
       {"masked_lm_weights", "examples/bert/tiny/masked_lm_weights.npy"},
       {"next_sentence_labels", "examples/bert/tiny/next_sentence_labels.npy"}},
      {"input_ids", "token_type_ids", "attention_mask"}, 2));
  return *t;
}

Trained RecurrentModel() {
  static const Trained* t = new Trained(
      Train("export_gru",
            "input { name: \"x\" features: 1 steps: 16 }\n"
            "recurrent { cell: \"gru_pytorch\" hidden_size: 8 num_layers: 2\n"
            " bidirectional: true merge: \"concat\" dropout: 0.3 seed: 1 }\n"
            "head { outputs: 1 }\nloss { mse { target: \"target\" } }\n",
            {{"x", "examples/rnn/sine_x.npy"},
             {"target", "examples/rnn/sine_target.npy"}},
            {"x"}, 32));
  return *t;
}

std::string Bytes(const std::string& path) {
  EXPECT_TRUE(fs::exists(path)) << path;
  return ReadTestFile(path);
}

// Runs `what` (a graph with flags, or a model) and returns the .npy files'
// bytes of `fetches`, in order.
std::vector<std::string> RunFetches(const std::string& what,
                                    const std::vector<std::string>& fetches,
                                    const std::string& out) {
  fs::remove_all(out);
  std::string list;
  for (const std::string& f : fetches) list += (list.empty() ? "" : ",") + f;
  CommandResult r = RunRill("run " + what + " --fetch " + list + " -o " + out);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> bytes;
  for (const std::string& f : fetches) {
    std::string file = f;  // `rill run -o` writes "a/b" to a_b.npy.
    std::replace(file.begin(), file.end(), '/', '_');
    bytes.push_back(Bytes(out + "/" + file + ".npy"));
  }
  return bytes;
}

void ExpectExportMatchesInferenceRun(const Trained& t,
                                     const std::vector<std::string>& fetches,
                                     const std::string& export_flags = "") {
  const std::string model = t.dir + "/model";
  fs::remove_all(model);
  CommandResult exported =
      RunRill("export " + t.graph + " --params " + t.checkpoints + " -o " +
              model + export_flags);
  ASSERT_EQ(exported.exit_code, 0) << exported.out << exported.err;
  EXPECT_NE(exported.out.find("Dropout removed"), std::string::npos)
      << exported.out;
  const std::string params = " --params " + t.checkpoints;
  std::vector<std::string> graph_run =
      RunFetches(t.graph + params + t.feeds, fetches, t.dir + "/graph_out");
  std::vector<std::string> model_run =
      RunFetches(model + t.feeds, fetches, t.dir + "/model_out");
  std::vector<std::string> training_run = RunFetches(
      t.graph + params + t.feeds + " --training", fetches, t.dir + "/tr_out");
  for (size_t i = 0; i < fetches.size(); ++i) {
    EXPECT_EQ(graph_run[i], model_run[i]) << fetches[i] << " differs";
  }
  // Dropout is on in training mode: the first fetch (the deepest) differs.
  EXPECT_NE(graph_run[0], training_run[0]) << fetches[0];
  // The model's graph holds structure only: its Parameters are zeros
  // initializers, which the weights replace; no Dropout is left.
  const std::string graph = ReadTestFile(model + "/graph.pbtxt");
  EXPECT_NE(graph.find("s: \"zeros\""), std::string::npos);
  EXPECT_EQ(graph.find("Dropout"), std::string::npos);
}

TEST(ExportCli, TinyBertModelEqualsTheGraphInInferenceModeBitwise) {
  ExpectExportMatchesInferenceRun(
      TinyBert(), {"sequence_output", "pooled_output", "nsp_logits"});
}

TEST(ExportCli, RecurrentModelEqualsTheGraphInInferenceModeBitwise) {
  const Trained& t = RecurrentModel();
  CommandResult check = RunRill("check " + t.graph);
  ASSERT_EQ(check.exit_code, 0) << check.err;
  // A spec with a head has one graph output, its loss; the head is
  // "head/output".
  ExpectExportMatchesInferenceRun(t, {"head/output"}, " --fetch head/output");
}

TEST(ExportCli, AGraphWhoseOnlyOutputIsTheLossNeedsFetches) {
  const Trained& t = RecurrentModel();
  const std::string model = t.dir + "/no_fetch";
  fs::remove_all(model);
  CommandResult r = RunRill("export " + t.graph + " -o " + model);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("every output of the graph needs a loss input; name "
                       "what the model computes with --fetch"),
            std::string::npos)
      << r.err;
  r = RunRill("export " + t.graph + " --fetch loss -o " + model);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("fetch 'loss' needs the loss input 'target'"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(model));
  EXPECT_FALSE(fs::exists(model + ".partial"));
}

TEST(ExportCli, DefaultFetchesDropTheLossAndItsInputs) {
  const Trained& t = TinyBert();
  const std::string model = t.dir + "/default_model";
  fs::remove_all(model);
  CommandResult r = RunRill("export " + t.graph + " -o " + model);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("inputs:  input_ids, token_type_ids, attention_mask\n"
                       "  outputs: sequence_output, pooled_output, nsp_logits"),
            std::string::npos)
      << r.out;
  const std::string graph = ReadTestFile(model + "/graph.pbtxt");
  for (const char* gone : {"next_sentence_labels", "masked_lm_positions",
                           "masked_lm_ids", "masked_lm_weights", "\"loss\""}) {
    EXPECT_EQ(graph.find(gone), std::string::npos) << gone;
  }
}

TEST(ExportCli, AFetchThatNeedsALossInputIsRefusedAndNothingIsWritten) {
  const Trained& t = TinyBert();
  const std::string model = t.dir + "/loss_model";
  fs::remove_all(model);
  CommandResult r =
      RunRill("export " + t.graph + " --fetch pooled_output,loss -o " + model);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(
      r.err.find("fetch 'loss' needs the loss input 'masked_lm_positions'"),
      std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(model));
  EXPECT_FALSE(fs::exists(model + ".partial"));
}

TEST(ExportCli, ACheckpointOfAnotherGraphIsRefusedAndNothingIsWritten) {
  const std::string model = TinyBert().dir + "/wrong_model";
  fs::remove_all(model);
  CommandResult r = RunRill("export " + TinyBert().graph + " --params " +
                            RecurrentModel().checkpoints + " -o " + model);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("not a checkpoint of this graph: parameter "),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(model));
  EXPECT_FALSE(fs::exists(model + ".partial"));
}

TEST(ExportCli, AnExistingModelIsNotOverwritten) {
  const std::string model = TinyBert().dir + "/existing";
  fs::remove_all(model);
  fs::create_directories(model);
  std::ofstream(model + "/keep.txt") << "mine";
  CommandResult r = RunRill("export " + TinyBert().graph + " -o " + model);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
  EXPECT_EQ(ReadTestFile(model + "/keep.txt"), "mine");
}

TEST(RunCli, InferenceModeByDefaultAndTrainingModeSeededOnRequest) {
  const Trained& t = TinyBert();
  const std::string params = " --params " + t.checkpoints;
  const std::string base = t.graph + params + t.feeds;
  CommandResult inference = RunRill("run " + base + " --fetch pooled_output");
  ASSERT_EQ(inference.exit_code, 0) << inference.err;
  EXPECT_NE(inference.out.find(" in inference mode; "), std::string::npos)
      << inference.out;
  CommandResult training =
      RunRill("run " + base + " --fetch pooled_output --training");
  ASSERT_EQ(training.exit_code, 0) << training.err;
  EXPECT_NE(training.out.find(" in training mode; "), std::string::npos);
  // Seeded: training mode gives the same result run after run.
  EXPECT_EQ(RunFetches(base + " --training", {"pooled_output"}, t.dir + "/a"),
            RunFetches(base + " --training", {"pooled_output"}, t.dir + "/b"));
}

// The trainer evaluates in inference mode: its validation loss is what
// `rill run` (inference mode by default) computes from the checkpoint on
// the validation data, to the float (metrics.csv prints 9 digits).
TEST(TrainCli, ValidationLossIsTheInferenceModeLoss) {
  const Trained& t = TinyBert();
  std::string feeds;
  for (const char* input :
       {"input_ids", "token_type_ids", "attention_mask", "masked_lm_positions",
        "masked_lm_ids", "masked_lm_weights", "next_sentence_labels"}) {
    feeds += std::string(" --feed ") + input + "=" +
             Abs(std::string("examples/bert/tiny/") + input + ".npy");
  }
  CommandResult r = RunRill("run " + t.graph + " --params " + t.checkpoints +
                            feeds + " --fetch loss -o " + t.dir + "/loss");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string npy = Bytes(t.dir + "/loss/loss.npy");
  float run_loss;
  std::memcpy(&run_loss, npy.data() + npy.size() - 4, 4);
  std::vector<std::vector<std::string>> rows =
      CsvRows(ReadTestFile(t.checkpoints + "/metrics.csv"));
  ASSERT_FALSE(rows.empty());
  const std::string& val_loss =
      rows.back()[4];  // step,loss,lr,grad_norm,val_loss
  EXPECT_EQ(static_cast<float>(std::stod(val_loss)), run_loss) << val_loss;
}

}  // namespace
}  // namespace rill
