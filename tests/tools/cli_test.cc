// Runs the `rill` binary as a user would: on every graph in examples/, on
// malformed graphs, and with bad command lines.

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/npy.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "ops/registry.h"
#include "runtime/executor.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> ExampleGraphs() {
  std::vector<std::string> graphs;
  for (const auto& e : fs::directory_iterator("examples")) {
    if (e.path().extension() == ".pbtxt") graphs.push_back(e.path().string());
  }
  std::sort(graphs.begin(), graphs.end());
  return graphs;
}

TEST(Cli, CheckAndDotAcceptEveryExample) {
  std::vector<std::string> graphs = ExampleGraphs();
  ASSERT_FALSE(graphs.empty());
  for (const std::string& g : graphs) {
    SCOPED_TRACE(g);
    CommandResult check = RunRill("check " + g);
    EXPECT_EQ(check.exit_code, 0) << check.err;
    EXPECT_NE(check.out.find(g + ": OK"), std::string::npos) << check.out;
    EXPECT_NE(check.out.find("nodes:"), std::string::npos);
    CommandResult dot = RunRill("dot " + g);
    EXPECT_EQ(dot.exit_code, 0) << dot.err;
    EXPECT_EQ(dot.out.rfind("digraph rill {", 0), 0u);
  }
}

TEST(Cli, DotPrunesToFetchesAndGroupsScopes) {
  CommandResult whole = RunRill("dot examples/gated_mlp.pbtxt");
  CommandResult part =
      RunRill("dot examples/gated_mlp.pbtxt --group_scopes --fetch " +
              std::string("x"));
  ASSERT_EQ(part.exit_code, 0) << part.err;
  // Only the Input x is left of the graph.
  EXPECT_NE(part.out.find("label=\"x\\nInput\""), std::string::npos)
      << part.out;
  EXPECT_EQ(part.out.find(" -> n"), std::string::npos) << part.out;
  EXPECT_LT(part.out.size(), whole.out.size());
  CommandResult unknown = RunRill("dot examples/gated_mlp.pbtxt --fetch nope");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("nope"), std::string::npos) << unknown.err;
}

TEST(Cli, CheckSummarisesTheGatedMlp) {
  CommandResult r = RunRill("check examples/gated_mlp.pbtxt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("nodes:      17"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters: 6 tensors, 107 values, 428 B"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("input:      x f32[?, 4]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("output:     probs f32[?, 3]"), std::string::npos)
      << r.out;
}

// `rill run` writes what the executor computes, on both backends.
TEST(Cli, RunWritesFetchesThatMatchTheExecutor) {
  auto loaded = LoadGraphFile("examples/gated_mlp.pbtxt");
  ASSERT_TRUE(loaded.ok());
  auto ex = Executor::Create(*ValidateGraph(*std::move(loaded)),
                             {Backend::kReference});
  ASSERT_TRUE(ex.ok());
  Tensor x = *ReadNpy("examples/gated_mlp_x.npy", 1 << 20);
  std::vector<Tensor> want = *(*ex)->Run({{"x", x}}, {"probs", "layer1/tanh"});
  for (const char* backend : {"onednn", "reference"}) {
    SCOPED_TRACE(backend);
    std::string dir = TestTempPath(std::string("out_") + backend);
    CommandResult r = RunRill(
        std::string(
            "run examples/gated_mlp.pbtxt --feed x=examples/gated_mlp_x.npy") +
        " --fetch probs,layer1/tanh --backend " + backend + " --out " + dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("probs f32[5, 3]"), std::string::npos) << r.out;
    Tensor probs = *ReadNpy(dir + "/probs.npy", 1 << 20);
    Tensor tanh = *ReadNpy(dir + "/layer1_tanh.npy", 1 << 20);
    ASSERT_EQ(probs.shape(), want[0].shape());
    ASSERT_EQ(tanh.shape(), want[1].shape());
    for (int64_t i = 0; i < probs.num_elements(); ++i) {
      EXPECT_NEAR(probs.data<float>()[i], want[0].data<float>()[i], 1e-6);
    }
    for (int64_t i = 0; i < tanh.num_elements(); ++i) {
      EXPECT_NEAR(tanh.data<float>()[i], want[1].data<float>()[i], 1e-6);
    }
  }
}

TEST(Cli, RunDefaultsToTheGraphOutputs) {
  std::string dir = TestTempPath("out_default");
  CommandResult r = RunRill(
      "run examples/gated_mlp.pbtxt --feed=x=examples/gated_mlp_x.npy --out=" +
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/probs.npy"));
  EXPECT_TRUE(fs::exists(dir + "/logits.npy"));
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().extension(), ".npy") << "leftover " << e.path();
  }
}

TEST(Cli, MalformedGraphsExitOneNamingThePlace) {
  std::string bad = TestTempPath("bad.pbtxt");
  std::ofstream(bad)
      << "node { name: \"x\" op: \"Input\"\n"
         "  attr { key: \"dtype\" value { type: DT_FLOAT } }\n"
         "  attr { key: \"shape\" value { shape { dim: 2 } } } }\n"
         "node { name: \"y\" op: \"Tanh\" input: \"z\" }\n";
  for (const char* cmd : {"check", "dot", "run"}) {
    SCOPED_TRACE(cmd);
    CommandResult r = RunRill(std::string(cmd) + " " + bad);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(
                  "bad.pbtxt:4:1: node 'y' (Tanh): input 0: 'z' names no node"),
              std::string::npos)
        << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  std::string syntax = TestTempPath("syntax.pbtxt");
  std::ofstream(syntax) << "node {\n  name: \"x\"\n  op: Input\n}\n";
  CommandResult r = RunRill("check " + syntax);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("syntax.pbtxt:3:"), std::string::npos) << r.err;
}

TEST(Cli, BinaryGraphWithInvalidUtf8GivesOneCleanError) {
  // A node whose name (a proto3 string) is the bytes ff fe.
  std::string bad = TestTempPath("bad.pb");
  std::ofstream(bad, std::ios::binary)
      << std::string("\x0a\x04\x0a\x02\xff\xfe", 6);
  CommandResult r = RunRill("check " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find("[libprotobuf"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.pb: not a valid binary rill graph"),
            std::string::npos)
      << r.err;
}

TEST(Cli, RunRejectsBadFeedsWithoutWritingAnything) {
  std::string dir = TestTempPath("never");
  CommandResult missing =
      RunRill("run examples/gated_mlp.pbtxt --feed x=nope.npy --out " + dir);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.npy"), std::string::npos) << missing.err;
  CommandResult form =
      RunRill("run examples/gated_mlp.pbtxt --feed x --out " + dir);
  EXPECT_EQ(form.exit_code, 2);  // A command-line mistake.
  EXPECT_NE(form.err.find("name=file.npy"), std::string::npos) << form.err;
  CommandResult fetch = RunRill(
      "run examples/gated_mlp.pbtxt --feed x=examples/gated_mlp_x.npy "
      "--fetch nope --out " +
      dir);
  EXPECT_EQ(fetch.exit_code, 1);
  EXPECT_NE(fetch.err.find("'nope' names no node"), std::string::npos)
      << fetch.err;
  EXPECT_FALSE(fs::exists(dir));
}

TEST(Cli, OpsListsEveryRegisteredOp) {
  CommandResult all = RunRill("ops");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  std::string listing = "\n" + all.out;  // Each op starts a line.
  for (const std::string& name : GlobalOpRegistry().Names()) {
    EXPECT_NE(listing.find("\n" + name + "("), std::string::npos) << name;
  }
  CommandResult one = RunRill("ops MatMul");
  ASSERT_EQ(one.exit_code, 0);
  EXPECT_EQ(one.out.rfind("MatMul(a: T, b: T) -> y  T in {f32, f64}\n"
                          "    attr transpose_a: bool = false\n",
                          0),
            0u)
      << one.out;
  CommandResult unknown = RunRill("ops Nope");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no op named 'Nope'"), std::string::npos);
}

TEST(Cli, HelpAndUsage) {
  CommandResult top = RunRill("--help");
  EXPECT_EQ(top.exit_code, 0);
  for (const char* c : {"check", "run", "dot"}) {
    EXPECT_NE(top.out.find(c), std::string::npos) << c;
    CommandResult help = RunRill(std::string(c) + " --help");
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find(std::string("Usage: rill ") + c), std::string::npos)
        << help.out;
  }
  EXPECT_NE(RunRill("run --help").out.find("--feed"), std::string::npos);
  CommandResult unknown = RunRill("frobnicate");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"),
            std::string::npos);
  CommandResult flag = RunRill("check examples/gated_mlp.pbtxt --feed x=y.npy");
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.err.find("unknown flag '--feed'"), std::string::npos)
      << flag.err;
  CommandResult operands = RunRill("check");
  EXPECT_EQ(operands.exit_code, 2);
  EXPECT_NE(operands.err.find("Usage: rill check GRAPH"), std::string::npos);
}

}  // namespace
}  // namespace rill
