// `rill grad` end to end: the file it writes runs under `rill run` and gives
// the gradients that BuildGradientGraph's graph gives, and bad requests exit
// 1 (or 2 for a bad command line: a flag missing or misnamed) naming what is
// wrong, writing nothing.

#include <filesystem>

#include "core/npy.h"
#include "graph/autodiff.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"
#include "tests/test_util.h"

namespace rill {
namespace {

const char kGraph[] = "examples/regression.pbtxt";
const char kFeeds[] =
    " --feed x=examples/regression_x.npy"
    " --feed target=examples/regression_target.npy";

TEST(GradCli, WritesAGraphThatRillRunRunsToTheLibrarysGradients) {
  std::string out = TestTempPath("g.pbtxt");
  CommandResult grad = RunRill(std::string("grad ") + kGraph +
                               " --loss loss --wrt w1,b2 -o " + out);
  ASSERT_EQ(grad.exit_code, 0) << grad.err;
  EXPECT_NE(grad.out.find("gradient: w1/grad = d(loss)/d(w1) f32[2, 3]"),
            std::string::npos)
      << grad.out;
  std::string dir = TestTempPath("run");
  CommandResult run = RunRill("run " + out + kFeeds + " --out " + dir);
  ASSERT_EQ(run.exit_code, 0) << run.err;

  auto loaded = LoadGraphFile(kGraph);
  ASSERT_TRUE(loaded.ok());
  auto forward = ValidateGraph(*std::move(loaded));
  ASSERT_TRUE(forward.ok());
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = {"w1", "b2"};
  auto library = BuildGradientGraph(*forward, request);
  ASSERT_TRUE(library.ok()) << library.status();
  auto ex = Executor::Create(std::move(library->graph));
  ASSERT_TRUE(ex.ok());
  auto want = (*ex)->Run(
      {{"x", *ReadNpy("examples/regression_x.npy", 1 << 20)},
       {"target", *ReadNpy("examples/regression_target.npy", 1 << 20)}},
      {"w1/grad", "b2/grad"});
  ASSERT_TRUE(want.ok()) << want.status();
  int k = 0;
  for (const char* name : {"w1_grad.npy", "b2_grad.npy"}) {
    auto got = ReadNpy(dir + "/" + name, 1 << 20);
    ASSERT_TRUE(got.ok()) << got.status();
    const Tensor& w = (*want)[k++];
    ASSERT_EQ(got->shape(), w.shape()) << name;
    for (int64_t i = 0; i < w.num_elements(); ++i) {
      EXPECT_EQ(got->template data<float>()[i], w.data<float>()[i]) << name;
    }
  }
}

TEST(GradCli, BadRequestsNameTheProblemAndWriteNothing) {
  std::string out = TestTempPath("bad.pbtxt");
  struct Case {
    std::string args, message;
    int exit_code;
  };
  const Case cases[] = {
      {"--wrt w1", "name the loss with --loss", 2},
      {"--loss loss", "--wrt a,b or --wrt_params", 2},
      {"--loss y --wrt w1",
       "regression.pbtxt:53:1: node 'y' (Add): the loss 'y' has shape [?, 1]",
       1},
      {"--loss loss --wrt nope", "wrt: 'nope' names no node", 1},
      {"--loss loss --wrt w1,x2", "'x2' names no node", 1},
      {"--loss h --wrt w2 --seed_inputs",
       "node 'w2' (Parameter): 'w2' does not reach the loss 'h'", 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    CommandResult r =
        RunRill(std::string("grad ") + kGraph + " " + c.args + " -o " + out);
    EXPECT_EQ(r.exit_code, c.exit_code);
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  CommandResult no_out =
      RunRill(std::string("grad ") + kGraph + " --loss loss --wrt w1");
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_NE(no_out.err.find("-o OUT.pbtxt"), std::string::npos);
  CommandResult binary =
      RunRill(std::string("grad ") + kGraph + " --loss loss --wrt w1 -o " +
              TestTempPath("g.pb"));
  EXPECT_EQ(binary.exit_code, 2);
  EXPECT_NE(binary.err.find("must end in .pbtxt"), std::string::npos);
}

TEST(GradCli, AllowUnreachedWarnsAndGivesZeros) {
  std::string out = TestTempPath("h.pbtxt");
  CommandResult r = RunRill(std::string("grad ") + kGraph +
                            " --loss h --wrt w1,w2 --seed_inputs "
                            "--allow_unreached -o " +
                            out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: 'w2' does not reach the loss 'h'"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("seed:     h/grad/seed f32[?, 3]"), std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace rill
