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
