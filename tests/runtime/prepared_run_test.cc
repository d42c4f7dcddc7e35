// PreparedRun, the executor's API for loops: inputs written in place,
// outputs read in place, and no heap allocation per run after the first
// (counted by replacing the global operator new in this test binary); and
// check_numerics, which names the first node that produced a NaN or Inf.
//
// oneDNN itself allocates on every primitive execution (tests/alloc_counter.h
// counts those apart), so rill's own code is held to zero.

#include <cstdio>

#include "gmock/gmock.h"
#include "graph/autodiff.h"
#include "graph/loader.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"
#include "tests/alloc_counter.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

Tensor Filled(const Shape& shape, float start) {
  Tensor t = *Tensor::Allocate(DType::kF32, shape);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    t.data<float>()[i] = start + 0.25f * static_cast<float>(i % 5);
  }
  return t;
}

// The regression example's loss and parameter gradients, as in training.
ValidGraph RegressionGradients() {
  auto loaded = LoadGraphFile("examples/regression.pbtxt");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  auto forward = ValidateGraph(*std::move(loaded));
  EXPECT_TRUE(forward.ok()) << forward.status();
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt_params = true;
  auto grad = BuildGradientGraph(*forward, request);
  EXPECT_TRUE(grad.ok()) << grad.status();
  return std::move(grad->graph);
}

TEST(PreparedRun, RunsInPlaceWithoutAllocating) {
  const std::vector<std::string> fetches = {"loss", "w1/grad", "b1/grad",
                                            "w2/grad", "b2/grad"};
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    SCOPED_TRACE(BackendName(backend));
    auto ex = Executor::Create(RegressionGradients(), {backend});
    ASSERT_TRUE(ex.ok()) << ex.status();
    std::map<std::string, Tensor> feeds = {{"x", Filled({8, 2}, -1)},
                                           {"target", Filled({8, 1}, 0)}};
    auto want = (*ex)->Run(feeds, fetches);
    ASSERT_TRUE(want.ok()) << want.status();
    auto prepared = (*ex)->Prepare(feeds, fetches);
    ASSERT_TRUE(prepared.ok()) << prepared.status();
    ASSERT_NE(prepared->input("x"), nullptr);
    EXPECT_EQ(prepared->input("nope"), nullptr);
    ASSERT_TRUE(prepared->Run().ok());  // Warm-up.
    absl::Status s;
    AllocationCounts counts = CountAllocations([&] {
      for (int step = 0; step < 5 && s.ok(); ++step) s = prepared->Run();
    });
    ASSERT_TRUE(s.ok()) << s;
    // Under ASan nothing is counted (tests/alloc_counter.h).
    if (AllocationCountingWorks()) {
      EXPECT_EQ(counts.rill, 0);
      if (backend == Backend::kReference) {
        EXPECT_EQ(counts.onednn, 0);
      }
    }
    std::printf("%s: %lld allocations by oneDNN in 5 runs\n",
                BackendName(backend), static_cast<long long>(counts.onednn));
    for (size_t k = 0; k < fetches.size(); ++k) {
      const Tensor& got = prepared->outputs()[k];
      for (int64_t i = 0; i < got.num_elements(); ++i) {
        EXPECT_EQ(got.data<float>()[i], (*want)[k].data<float>()[i]);
      }
    }
    // A new batch is written in place.
    Tensor& x = *prepared->input("x");
    for (int64_t i = 0; i < x.num_elements(); ++i) x.data<float>()[i] = 0.5f;
    ASSERT_TRUE(prepared->Run().ok());
    feeds["x"] = Filled({8, 2}, 0.5f);
    for (int64_t i = 0; i < 16; ++i) feeds["x"].data<float>()[i] = 0.5f;
    auto again = (*ex)->Run(feeds, {"loss"});
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(prepared->outputs()[0].data<float>()[0],
              (*again)[0].data<float>()[0]);
  }
}

// r views h = tanh(x . w) (no kernel of its own); late = s * s * s * s
// with s = sigmoid(x) runs after it; w (a Parameter) and x (an Input) are
// fetched as they are.
constexpr char kReadyGraph[] = R"(
  node { name: "x" op: "Input"
    attr { key: "dtype" value { type: DT_FLOAT } }
    attr { key: "shape" value { shape { dim: -1 dim: 3 } } } }
  node { name: "w" op: "Parameter"
    attr { key: "value" value { tensor { dtype: DT_FLOAT dims: 3 dims: 2
      float_val: [ 0.5, -1, 0.25, 2, -0.75, 1 ] } } } }
  node { name: "xw" op: "MatMul" input: "x" input: "w" }
  node { name: "h" op: "Tanh" input: "xw" }
  node { name: "r" op: "Reshape" input: "h"
    attr { key: "shape" value { list { i: -1 } } } }
  node { name: "s" op: "Sigmoid" input: "x" }
  node { name: "m" op: "Mul" input: "s" input: "s" }
  node { name: "late" op: "Mul" input: "m" input: "m" }
)";

// Run(ready) reports every fetch once, right after the kernel that writes
// its final value and before later kernels run: each value seen in the
// callback is the one the run returns, and at r's report `late` does not
// hold its value yet. The callback's error stops the run.
TEST(PreparedRun, ReportsEachFetchOnceWhenItsValueIsFinal) {
  const std::vector<std::string> fetches = {"r", "w", "late", "x"};
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    SCOPED_TRACE(BackendName(backend));
    auto loaded = ParseGraphText(kReadyGraph, "ready.pbtxt");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto ex = Executor::Create(*ValidateGraph(*loaded), {backend});
    ASSERT_TRUE(ex.ok()) << ex.status();
    auto prepared = (*ex)->Prepare({{"x", Filled({4, 3}, -1)}}, fetches);
    ASSERT_TRUE(prepared.ok()) << prepared.status();
    EXPECT_EQ((*ex)->last_plan_stats().views, 0);  // Not run yet.
    const std::vector<int>& final_kernel = prepared->fetch_final_kernels();
    ASSERT_EQ(final_kernel.size(), 4u);
    EXPECT_EQ(final_kernel[1], -1);  // Parameter and Input: no kernel
    EXPECT_EQ(final_kernel[3], -1);  // writes them.
    EXPECT_GE(final_kernel[0], 0);
    EXPECT_EQ(final_kernel[2], prepared->num_kernels() - 1);
    ASSERT_TRUE(prepared->Run().ok());
    EXPECT_EQ((*ex)->last_plan_stats().views, 1);  // r.
    const Tensor first_late = *prepared->outputs()[2].Clone();
    // A new batch, so that every computed fetch changes.
    Tensor& x = *prepared->input("x");
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      x.data<float>()[i] = 0.3f * static_cast<float>(i) - 1.1f;
    }
    std::vector<size_t> reported;
    std::vector<Tensor> seen(fetches.size());
    Tensor late_at_r;
    absl::Status s = prepared->Run([&](size_t f) {
      reported.push_back(f);
      seen[f] = *prepared->outputs()[f].Clone();
      if (f == 0) late_at_r = *prepared->outputs()[2].Clone();
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
    // In kernel order: w and x before any kernel, r, then late.
    EXPECT_EQ(reported, (std::vector<size_t>{1, 3, 0, 2}));
    EXPECT_FALSE(late_at_r.BitwiseEquals(prepared->outputs()[2]));
    for (size_t f = 0; f < fetches.size(); ++f) {
      EXPECT_TRUE(seen[f].BitwiseEquals(prepared->outputs()[f])) << f;
    }
    EXPECT_FALSE(seen[2].BitwiseEquals(first_late));
    // The same values as a run without reports.
    auto want = (*ex)->Run({{"x", x}}, fetches);
    ASSERT_TRUE(want.ok()) << want.status();
    for (size_t f = 0; f < fetches.size(); ++f) {
      EXPECT_TRUE(seen[f].BitwiseEquals((*want)[f])) << f;
    }
    // An error from the callback ends the run there: late is not reported.
    reported.clear();
    s = prepared->Run([&](size_t f) {
      reported.push_back(f);
      return f == 0 ? absl::UnavailableError("the network is down")
                    : absl::OkStatus();
    });
    EXPECT_EQ(s, absl::UnavailableError("the network is down"));
    EXPECT_EQ(reported, (std::vector<size_t>{1, 3, 0}));
  }
}

TEST(CheckNumerics, NamesTheFirstNodeThatProducedANan) {
  auto loaded = ParseGraphText(R"pb(
                                 node {
                                   name: "x"
                                   op: "Input"
                                   attr {
                                     key: "dtype"
                                     value { type: DT_FLOAT }
                                   }
                                   attr {
                                     key: "shape"
                                     value { shape { dim: 3 } }
                                   }
                                 }
                                 node { name: "l" op: "Log" input: "x" }
                                 node { name: "e" op: "Exp" input: "l" }
                               )pb",
                               "nan.pbtxt");
  ASSERT_TRUE(loaded.ok());
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    SCOPED_TRACE(BackendName(backend));
    ExecutorOptions options;
    options.backend = backend;
    options.check_numerics = true;
    auto ex = Executor::Create(*ValidateGraph(*loaded), options);
    ASSERT_TRUE(ex.ok());
    Tensor x = Filled({3}, 1);
    x.data<float>()[1] = -1;
    auto out = (*ex)->Run({{"x", x}}, {"e"});
    ASSERT_FALSE(out.ok());
    EXPECT_THAT(
        out.status().message(),
        HasSubstr("nan.pbtxt:14:34: node 'l' (Log): produced NaN at [1] "
                  "of its output 0, f32[3]"));
    options.check_numerics = false;
    auto quiet = Executor::Create(*ValidateGraph(*loaded), options);
    EXPECT_TRUE((*quiet)->Run({{"x", x}}, {"e"}).ok());
  }
}

}  // namespace
}  // namespace rill
