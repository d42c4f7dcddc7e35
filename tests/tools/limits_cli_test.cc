// Issue 24's limits, end to end: every size a user controls (spec fields,
// ESN units and steps, decode beam, BLEU order, size flags) is checked
// before work starts, and the command exits 1 with a message naming the
// field, its value and the limit. Then the same commands on inputs that
// fit the budget but not the memory the process may have (ulimit -v): exit
// 1 with a message, never a signal.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/sanitizers.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

const char kRnnSpec[] = "examples/rnn/sine_model.pbtxt";
const char kSeq2SeqSpec[] = "examples/translate/translate_model.pbtxt";
const char kTranslate[] = "examples/translate/";

// A copy of `example` (under the test's temporary directory, as `name`)
// with `from` replaced by `to`.
std::string EditedCopy(const std::string& example, const std::string& name,
                       const std::string& from, const std::string& to) {
  const std::string text = ReadTestFile(example);
  EXPECT_NE(text.find(from), std::string::npos) << from << " in " << example;
  const std::string path = TestTempPath(name);
  std::ofstream(path) << absl::StrReplaceAll(text, {{from, to}});
  return path;
}

struct LimitCase {
  std::string args;
  int exit_code;
  std::string message;  // The whole of stderr's first line.
};

void ExpectRefused(const LimitCase& c) {
  CommandResult r = RunRill(c.args);
  EXPECT_EQ(r.exit_code, c.exit_code) << c.args << "\n" << r.err;
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')), c.message) << c.args;
}

TEST(LimitsCli, BuildRefusesSpecFieldsPastTheBudgetOrMaxima) {
  const std::string out = TestTempPath("never.pbtxt");
  const std::string hidden = EditedCopy(
      kRnnSpec, "hidden.pbtxt", "hidden_size: 8", "hidden_size: 1000000000");
  const std::string steps =
      EditedCopy(kRnnSpec, "steps.pbtxt", "steps: 16", "steps: 1000000000");
  const std::string layers = EditedCopy(
      kRnnSpec, "layers.pbtxt", "num_layers: 2", "num_layers: 1000000000");
  const std::string vocab = EditedCopy(
      kSeq2SeqSpec, "vocab.pbtxt", "vocab_size: 23", "vocab_size: 1000000000");
  const std::string src = EditedCopy(kSeq2SeqSpec, "src.pbtxt", "src_length: 7",
                                     "src_length: 1000000000");
  const std::string hidden_fits = EditedCopy(
      kRnnSpec, "hidden_fits.pbtxt", "hidden_size: 8", "hidden_size: 20000");
  const std::vector<LimitCase> cases = {
      {"build " + hidden + " -o " + out, 1,
       "rill build: " + hidden +
           ": recurrent.hidden_size: 1000000000 needs more than 8 EiB of "
           "parameters, over the memory budget of 8192 MiB "
           "(--memory_budget_mb)"},
      {"build " + hidden_fits + " -o " + out + " --memory_budget_mb 4096", 1,
       "rill build: " + hidden_fits +
           ": recurrent.hidden_size: 20000 needs about 35.8 GiB of "
           "parameters, over the memory budget of 4096 MiB "
           "(--memory_budget_mb)"},
      {"build " + steps + " -o " + out, 1,
       "rill build: " + steps +
           ": input.steps: 1000000000 is over the limit of 16384 (the stack "
           "unrolls into steps x layers x directions layer steps, at most "
           "65536 of them)"},
      {"build " + layers + " -o " + out, 1,
       "rill build: " + layers +
           ": recurrent.num_layers: 1000000000 is over the limit of 2048 (the "
           "stack unrolls into steps x layers x directions layer steps, at "
           "most 65536 of them)"},
      {"build " + vocab + " -o " + out, 1,
       "rill build: " + vocab +
           ": seq2seq.vocab_size: 1000000000 needs about 238.4 GiB of "
           "parameters, over the memory budget of 8192 MiB "
           "(--memory_budget_mb)"},
      {"build " + src + " -o " + out, 1,
       "rill build: " + src +
           ": seq2seq.src_length: 1000000000 needs about 238.4 GiB of "
           "parameters, over the memory budget of 8192 MiB "
           "(--memory_budget_mb)"},
  };
  for (const LimitCase& c : cases) ExpectRefused(c);
  EXPECT_FALSE(fs::exists(out));
}

TEST(LimitsCli, EsnDecodeAndBleuRefuseSizesPastTheBudgetOrMaxima) {
  const std::string dir = TestTempPath("esn");
  fs::create_directories(dir);
  fs::copy_file("examples/esn/mg17.npy", dir + "/mg17.npy",
                fs::copy_options::overwrite_existing);
  const std::string units =
      EditedCopy("examples/esn/mg17.esn.pbtxt", "esn/units.esn.pbtxt",
                 "units: 100", "units: 100000");
  const std::string src = absl::StrCat(kTranslate, "test.src.txt");
  const std::string bleu =
      "bleu -r examples/bleu/ref1.txt -i examples/bleu/hyp.txt ";
  const std::vector<LimitCase> cases = {
      {"esn fit " + units, 1,
       "rill esn: " + units +
           ": units: 100000 needs about 299.5 GiB of reservoir and fit "
           "state, over the memory budget of 8192 MiB (--memory_budget_mb)"},
      {"esn mackey-glass " + dir + "/mg.npy --steps 1000000000000", 1,
       "rill esn: --steps: 1000000000000 needs about 87.3 TiB of output, "
       "over the memory budget of 8192 MiB (--memory_budget_mb)"},
      {"esn mackey-glass " + dir + "/mg.npy --steps 0", 2,
       "rill esn: --steps: 0: must be >= 1"},
      {absl::StrCat("decode ", kSeq2SeqSpec, " --params none.rckpt -i ", src,
                    " --beam 1000000000"),
       1,
       "rill decode: --beam: 1000000000 is over the limit of 1024 "
       "(hypotheses kept per sentence)"},
      {bleu + "--max_order 1000000000", 2,
       "rill bleu: --max_order: 1000000000 is over the limit of 100 (the "
       "largest n-gram order)"},
      {bleu + "--smooth_value nan", 2,
       "rill bleu: --smooth_value must be finite and >= 0, got nan"},
  };
  for (const LimitCase& c : cases) ExpectRefused(c);
  EXPECT_FALSE(fs::exists(dir + "/mg.npy"));
}

TEST(LimitsCli, SizeFlagsRefuseNegativeAndOverflowingValues) {
  const std::string check = "check examples/affine_tanh.pbtxt ";
  const std::vector<LimitCase> cases = {
      {check + "--memory_budget_mb=-1", 2,
       "rill check: --memory_budget_mb=-1: must be >= 0"},
      // 2^44 MiB is 2^64 bytes, which wrapped to 0.
      {check + "--memory_budget_mb=17592186044416", 2,
       "rill check: --memory_budget_mb=17592186044416: over the largest size "
       "of 8796093022207 MiB (the byte count would overflow int64)"},
      {check + "--max_file_mb=-1", 2,
       "rill check: --max_file_mb=-1: must be >= 0"},
      {"run examples/affine_tanh.pbtxt --feed x=examples/affine_tanh_x.npy "
       "--max_file_mb=-1",
       2, "rill run: --max_file_mb=-1: must be >= 0"},
  };
  for (const LimitCase& c : cases) ExpectRefused(c);
}

// Runs rill with its address space capped at `kib`, as `ulimit -v` does.
CommandResult RunRillCapped(const std::string& args, int64_t kib) {
  const std::string out = TestTempPath("stdout"), err = TestTempPath("stderr");
  const std::string command = absl::StrCat(
      "ulimit -v ", kib, " && exec tools/rill ", args, " >", out, " 2>", err);
  int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
          ReadTestFile(out), ReadTestFile(err)};
}

// 12000 x 1 and 1 x 12000 f32 .npy files of zeros.
void WriteOuterProductInputs(const std::string& col, const std::string& row) {
  auto write = [](const std::string& path, const char* shape) {
    std::string header = absl::StrCat(
        "{'descr': '<f4', 'fortran_order': False, 'shape': ", shape, ", }");
    header.append(63 - (10 + header.size()) % 64, ' ');
    header += '\n';
    std::ofstream f(path, std::ios::binary);
    f << "\x93NUMPY" << '\x01' << '\x00' << static_cast<char>(header.size())
      << static_cast<char>(header.size() >> 8) << header
      << std::string(12000 * 4, '\0');
  };
  write(col, "(12000, 1)");
  write(row, "(1, 12000)");
}

// Trains the translation example for one step in `dir`; returns the
// checkpoint, whose parameters are as good as any for running out of memory.
std::string OneStepTranslateCheckpoint(const std::string& dir) {
  fs::create_directories(dir);
  for (const char* f : {"translate_model.pbtxt", "vocab.txt", "train_src.npy",
                        "train_tgt_in.npy", "train_tgt_out.npy"}) {
    fs::copy_file(std::string(kTranslate) + f, dir + "/" + f,
                  fs::copy_options::overwrite_existing);
  }
  std::string config =
      ReadTestFile(std::string(kTranslate) + "translate.train.pbtxt");
  config = absl::StrReplaceAll(
      config, {{"steps: 1000", "steps: 1"},
               {"warmup_steps: 100", "warmup_steps: 0"},
               {"checkpoint_every: 1000", "checkpoint_every: 1"}});
  std::ofstream(dir + "/train.pbtxt") << config;
  CommandResult r =
      RunRill("train " + dir + "/train.pbtxt --out " + dir + "/run");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir + "/run/ckpt-00000001.rckpt";
}

TEST(LimitsCli, CommandsOutOfMemoryExitOneWithAMessage) {
#if RILL_UNDER_ASAN
  GTEST_SKIP() << "ASan reserves terabytes of shadow memory; ulimit -v "
                  "stops it from starting";
#endif
  constexpr int64_t kCapKiB = 1 << 20;  // 1 GiB of address space.
  const std::string dir = TestTempPath("oom");
  fs::create_directories(dir);
  for (const char* f : {"mg17.esn.pbtxt", "mg17.npy"}) {
    fs::copy_file(std::string("examples/esn/") + f, dir + "/" + f,
                  fs::copy_options::overwrite_existing);
  }
  CommandResult fit = RunRill("esn fit " + dir + "/mg17.esn.pbtxt");
  ASSERT_EQ(fit.exit_code, 0) << fit.err;
  // Each fits the default budget of 8 GiB, not the 1 GiB cap.
  const std::string units =
      EditedCopy(dir + "/mg17.esn.pbtxt", "oom/units.esn.pbtxt", "units: 100",
                 "units: 12000");
  const std::string hidden = EditedCopy(kRnnSpec, "oom/hidden.pbtxt",
                                        "hidden_size: 8", "hidden_size: 9000");
  WriteOuterProductInputs(dir + "/col.npy", dir + "/row.npy");
  const std::string outer = TestTempPath("oom/outer.pbtxt");
  std::ofstream(outer)
      << "node { name: 'x' op: 'Input' attr { key: 'dtype' value { type: "
         "DT_FLOAT } } attr { key: 'shape' value { shape { dim: -1 dim: 1 } "
         "} } }\n"
         "node { name: 'y' op: 'Input' attr { key: 'dtype' value { type: "
         "DT_FLOAT } } attr { key: 'shape' value { shape { dim: 1 dim: -1 } "
         "} } }\n"
         "node { name: 'z' op: 'Add' input: 'x' input: 'y' }\noutput: 'z'\n";
  // One segment of 300,000 distinct tokens: at order 100 its reference
  // holds 30 million distinct n-grams, about 1 GiB of match tables.
  {
    std::ofstream line(dir + "/long.txt");
    for (int i = 0; i < 300000; ++i) line << 'w' << i << ' ';
    line << '\n';
  }
  const std::string params = OneStepTranslateCheckpoint(dir + "/translate");
  // The sine training config with that 9000-unit spec.
  fs::create_directories(dir + "/train");
  for (const char* f : {"sine.train.pbtxt", "sine_x.npy", "sine_target.npy"}) {
    fs::copy_file(std::string("examples/rnn/") + f, dir + "/train/" + f,
                  fs::copy_options::overwrite_existing);
  }
  EditedCopy(kRnnSpec, "oom/train/sine_model.pbtxt", "hidden_size: 8",
             "hidden_size: 9000");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"build " + hidden + " -o " + dir + "/never.pbtxt", "rill build: "},
      {"esn fit " + units, "rill esn: "},
      {"esn generate " + dir + "/mg17.rckpt --series " + dir +
           "/mg17.npy --steps 300000000",
       "rill esn: "},
      {"esn mackey-glass " + dir + "/mg.npy --steps 50000000", "rill esn: "},
      {"run " + outer + " --feed x=" + dir + "/col.npy --feed y=" + dir +
           "/row.npy",
       "rill run: "},
      {"bleu --max_order 100 -r " + dir + "/long.txt -i " + dir + "/long.txt",
       "rill bleu: "},
      {"train " + dir + "/train/sine.train.pbtxt -o " + dir + "/train/run",
       "rill train: "},
      // 64 sentences x 1024 hypotheses each hold about 32 KiB of decoder
      // state: 2 GiB, within the 8 GiB budget.
      {absl::StrCat("decode ", kSeq2SeqSpec, " --params ", params, " -i ",
                    kTranslate, "test.src.txt --beam 1024 --batch_size 64"),
       "rill decode: "},
  };
  for (const auto& [args, prefix] : cases) {
    CommandResult r = RunRillCapped(args, kCapKiB);
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << args << "\n" << r.err;
    EXPECT_TRUE(r.err.find("allocat") != std::string::npos ||
                r.err.find("out of memory") != std::string::npos)
        << args << "\n"
        << r.err;
  }
  EXPECT_FALSE(fs::exists(dir + "/never.pbtxt"));
  EXPECT_FALSE(fs::exists(dir + "/mg.npy"));
}

}  // namespace
}  // namespace rill
