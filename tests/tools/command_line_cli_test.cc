// One row per kind of command-line mistake, for every command: each exits 2,
// says what is wrong on stderr's first line, then gives the command's usage
// line; a bad input file exits 1. Also: the flag vocabulary that every
// command shares (-o/--output, --out on train and run, --no-fuse read as
// --no_fuse), per-command help, and --version.

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "core/version.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

std::string FirstLine(const std::string& text, size_t line = 0) {
  size_t start = 0;
  for (size_t i = 0; i < line && start != std::string::npos; ++i) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos) return "";
  return text.substr(start, text.find('\n', start) - start);
}

const char kGraph[] = "examples/gated_mlp.pbtxt";
const char kRegression[] = "examples/regression.pbtxt";
const char kSpec[] = "examples/translate/translate_model.pbtxt";
const char kRef[] = "examples/bleu/ref1.txt";

struct Row {
  std::string args;
  int exit_code;
  std::string first_line;  // The whole of stderr's first line.
};

TEST(CommandLine, MistakesExit2WithTheUsageLineAndBadInputExits1) {
  const std::string g = kGraph, r = kRegression, spec = kSpec, ref = kRef;
  const std::string out = TestTempPath("never.pbtxt");
  const std::vector<Row> rows = {
      // Unknown flags, and flags another command takes.
      {"check " + g + " --frobnicate", 2,
       "rill check: unknown flag '--frobnicate'"},
      {"check " + g + " --feed x=y.npy", 2,
       "rill check: unknown flag '--feed'"},
      {"bleu -r " + ref + " --output x", 2,
       "rill bleu: unknown flag '--output'"},
      // Operands missing or extra.
      {"check", 2, "rill check: takes 1 operand, not 0"},
      {"run " + g + " " + g, 2, "rill run: takes 1 operand, not 2"},
      {"ops MatMul Add", 2, "rill ops: takes at most 1 operand, not 2"},
      {"esn fit", 2, "rill esn: takes 2 operands, not 1"},
      // Values of the wrong type, or not one of the choices.
      {"check " + g + " --memory_budget_mb abc", 2,
       "rill check: --memory_budget_mb abc: not a whole number of MiB"},
      {"check " + g + " --memory_budget_mb -5", 2,
       "rill check: --memory_budget_mb=-5: must be >= 0"},
      {"run " + g + " --max_file_mb 1e99", 2,
       "rill run: --max_file_mb 1e99: not a whole number of MiB"},
      {"run " + g + " --feed foo.npy", 2,
       "rill run: --feed 'foo.npy' is not of the form name=file.npy"},
      {"run " + g + " --feed x=a.npy --feed x=b.npy", 2,
       "rill run: --feed names 'x' twice"},
      {"run " + g + " --feed", 2, "rill run: flag '--feed' needs a value"},
      {"run " + g + " --backend gpu", 2,
       "rill run: --backend gpu: unknown backend 'gpu'; choose onednn or "
       "reference"},
      {"run " + g + " --threads many", 2,
       "rill run: --threads many: give a count in [0, 1024] (0: the CPUs "
       "this process may use)"},
      {"train examples/train/sine_mlp.train.pbtxt --no_fuse=maybe", 2,
       "rill train: --no_fuse maybe: give true or false"},
      {"decode " + spec + " --params x --beam abc", 2,
       "rill decode: --beam abc: give a whole number"},
      {"decode " + spec + " --params x --strategy foo", 2,
       "rill decode: --strategy foo: choose cache or recompute"},
      {"bleu -r " + ref + " --tokenize foo", 2,
       "rill bleu: --tokenize foo: unknown tokenizer 'foo' (choices: none, "
       "13a, intl, char)"},
      {"bleu -r " + ref + " --format xml", 2,
       "rill bleu: --format xml: choose text or json"},
      {"bleu -r " + ref + " --max_order 0", 2,
       "rill bleu: --max_order must be at least 1, got 0"},
      {"tokenize --vocab v.txt --mode bert", 2,
       "rill tokenize: --mode: 'bert' is not a mode: choose google or hf"},
      {"grad " + r + " --loss loss --wrt w1 -o g.pb", 2,
       "rill grad: -o g.pb: the gradient graph is written as text proto, so "
       "the name must end in .pbtxt, .txt or .textproto"},
      {"esn nonsense x", 2,
       "rill esn: unknown esn command 'nonsense'; use fit CONFIG, states "
       "CONFIG, predict MODEL, generate MODEL, build MODEL|CONFIG or "
       "mackey-glass OUT"},
      // Required flags missing.
      {"grad " + r + " --wrt w1 -o " + out, 2,
       "rill grad: name the loss with --loss NAME"},
      {"grad " + r + " --loss loss -o " + out, 2,
       "rill grad: name what to differentiate with respect to: --wrt a,b or "
       "--wrt_params"},
      {"grad " + r + " --loss loss --wrt w1", 2,
       "rill grad: name the output file with -o OUT.pbtxt"},
      {"build examples/rnn/sine_model.pbtxt", 2,
       "rill build: name the output file with -o OUT.pbtxt"},
      {"export-weights " + g, 2,
       "rill export-weights: name the output directory with -o DIR"},
      {"decode " + spec, 2,
       "rill decode: name the trained parameters with --params CKPT (from "
       "rill train)"},
      {"bleu -i examples/bleu/hyp.txt", 2,
       "rill bleu: no references: give -r REF at least once"},
      {"tokenize", 2,
       "rill tokenize: name the vocabulary with --vocab vocab.txt (or build "
       "one with --build_vocab SIZE)"},
      {"esn predict m.rckpt", 2,
       "rill esn: name the input series with --series"},
      {"esn mackey-glass " + TestTempPath("mg.npy"), 2,
       "rill esn: --steps: 0: must be >= 1"},
      // Bad input files: exit 1, naming the file.
      {"check missing.pbtxt", 1,
       "rill check: missing.pbtxt: cannot open: No such file or directory"},
      {"run " + g + " --feed x=missing.npy", 1,
       "rill run: missing.npy: cannot open: No such file or directory"},
      {"bleu -r missing.txt -i examples/bleu/hyp.txt", 1,
       "rill bleu: missing.txt: cannot open: No such file or directory"},
      {"esn predict missing.rckpt --series s.npy", 1,
       "rill esn: missing.rckpt: cannot open: No such file or directory"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.args);
    CommandResult result = RunRill(row.args);
    EXPECT_EQ(result.exit_code, row.exit_code) << result.err;
    EXPECT_EQ(FirstLine(result.err), row.first_line);
    EXPECT_EQ(result.out, "");
    if (row.exit_code != 2) continue;
    const std::string command = row.args.substr(0, row.args.find(' '));
    EXPECT_TRUE(absl::StartsWith(FirstLine(result.err, 1),
                                 "Usage: rill " + command + " "))
        << result.err;
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST(CommandLine, UnknownCommandExits2) {
  CommandResult r = RunRill("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(FirstLine(r.err), "rill: unknown command 'frobnicate'");
}

TEST(CommandLine, VersionIsTheOneBleuSignaturesName) {
  for (const char* args : {"--version", "version"}) {
    CommandResult r = RunRill(args);
    EXPECT_EQ(r.exit_code, 0) << args;
    EXPECT_EQ(r.out, std::string(kRillVersion) + "\n") << args;
  }
  CommandResult bleu =
      RunRill("bleu -r examples/bleu/ref1.txt -i examples/bleu/hyp.txt");
  EXPECT_TRUE(absl::StrContains(
      bleu.out, std::string("|version:") + kRillVersion + " = "))
      << bleu.out;
}

// -o/--output everywhere; train and run also take their former --out.
TEST(CommandLine, OutputIsSpelledOneWayWithOutKeptForTrainAndRun) {
  const std::string feed = " --feed x=examples/gated_mlp_x.npy ";
  for (const char* spelling : {"-o ", "--output ", "--out ", "--out=", "-o="}) {
    SCOPED_TRACE(spelling);
    const std::string dir = TestTempPath("run_out");
    fs::remove_all(dir);
    CommandResult r =
        RunRill(std::string("run ") + kGraph + feed + spelling + dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::exists(dir + "/probs.npy"));
  }
  CommandResult train = RunRill("train --help");
  EXPECT_TRUE(absl::StrContains(train.out, "  -o, --output (or --out)\n"))
      << train.out;
}

// Each command describes its flags in its own terms.
TEST(CommandLine, HelpDescribesEachFlagForItsCommand) {
  struct Case {
    std::string command, flag_line, help;
  };
  const std::vector<Case> cases = {
      {"grad", "  -o, --output\n",
       "Where to write the gradient graph, as text proto"},
      {"build", "  -o, --output\n", "Where to write the model's graph"},
      {"esn", "  -o, --output\n", "For predict and generate: where to write"},
      {"decode", "  -o, --output\n", "Where to write the translations"},
      {"tokenize", "  -o, --output\n", "Where --build_vocab writes"},
      {"run", "  -o, --output (or --out)\n", "to write each fetched tensor"},
      {"train", "  --threads\n", "It overrides the config's `threads`."},
      {"run", "  --no_fuse\n", "Run recurrent layers unrolled"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.command);
    CommandResult r = RunRill(c.command + " --help");
    EXPECT_EQ(r.exit_code, 0);
    const size_t at = r.out.find(c.flag_line);
    ASSERT_NE(at, std::string::npos) << r.out;
    EXPECT_TRUE(absl::StrContains(FirstLine(r.out.substr(at), 1), c.help))
        << r.out;
  }
  // Nothing describes --output in terms of another command (esn's help
  // names `rill grad` only as what runs the graph `esn build` writes).
  CommandResult esn = RunRill("esn --help");
  const size_t output = esn.out.find("  -o, --output");
  ASSERT_NE(output, std::string::npos) << esn.out;
  EXPECT_FALSE(absl::StrContains(FirstLine(esn.out.substr(output), 1), "grad"))
      << esn.out;
}

}  // namespace
}  // namespace rill
