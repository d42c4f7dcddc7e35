// Mixed precision (ExecutorOptions::precision): with bf16, MatMul kernels
// multiply bf16-rounded operands and accumulate in f32. Checked against an
// independent product in double of the operands rounded here, so that the
// test tells bf16 arithmetic from f32 arithmetic that merely looks close.

#include <cmath>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "ops/kernel_util.h"
#include "runtime/executor.h"

namespace rill {
namespace {

// f32 -> bf16 -> f32, rounding to nearest even (as oneDNN's reorder does).
float RoundToBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  u &= 0xFFFF0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

std::string Input(const std::string& name, int rank) {
  std::string shape;
  for (int i = 0; i < rank; ++i) shape += " dim: -1";
  return absl::StrCat("node { name: '", name,
                      "' op: 'Input' attr { key: 'dtype' value { type: "
                      "DT_FLOAT } } attr { key: 'shape' value { shape {",
                      shape, " } } } }\n");
}

// y = a . b^T over a batch of 3: a [3, m, k], b [n, k].
std::unique_ptr<Executor> MatMulExecutor(Precision precision) {
  const std::string text =
      Input("a", 3) + Input("b", 2) +
      "node { name: 'y' op: 'MatMul' input: 'a' input: 'b' attr { key: "
      "'transpose_b' value { b: true } } }\noutput: 'y'\n";
  auto graph = ValidateGraph(*ParseGraphText(text, "bf16.pbtxt"), {});
  EXPECT_TRUE(graph.ok()) << graph.status();
  ExecutorOptions options;
  options.precision = precision;
  options.bf16_min_multiply_adds = 0;  // Its MatMul is far below the default.
  return *Executor::Create(*std::move(graph), options);
}

Tensor Filled(const Shape& shape, float phase) {
  Tensor t = *Tensor::Allocate(DType::kF32, shape);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    t.data<float>()[i] = std::sin(0.37f * i + phase);
  }
  return t;
}

TEST(Bf16Test, MatMulMultipliesBf16OperandsWithF32Accumulation) {
  if (!CpuRunsBf16()) {
    GTEST_SKIP() << "this CPU has no native bf16 (AVX512_BF16 or AMX)";
  }
  constexpr int kM = 33, kK = 300, kN = 17;
  const Tensor a = Filled({3, kM, kK}, 0.1f), b = Filled({kN, kK}, 0.7f);
  std::unique_ptr<Executor> f32 = MatMulExecutor(Precision::kF32);
  std::unique_ptr<Executor> bf16 = MatMulExecutor(Precision::kBf16);
  ASSERT_EQ(bf16->precision(), Precision::kBf16);
  auto exact = f32->Run({{"a", a}, {"b", b}}, {"y"});
  auto mixed = bf16->Run({{"a", a}, {"b", b}}, {"y"});
  ASSERT_TRUE(exact.ok() && mixed.ok());
  EXPECT_EQ(bf16->last_plan_stats().bf16_kernels, 1);
  EXPECT_EQ(f32->last_plan_stats().bf16_kernels, 0);
  double worst_rounded = 0, worst_f32 = 0, scale = 0;
  for (int batch = 0; batch < 3; ++batch) {
    for (int i = 0; i < kM; ++i) {
      for (int j = 0; j < kN; ++j) {
        double want = 0;
        for (int p = 0; p < kK; ++p) {
          want +=
              double{RoundToBf16(a.data<float>()[(batch * kM + i) * kK + p])} *
              RoundToBf16(b.data<float>()[j * kK + p]);
        }
        const int64_t at = (batch * kM + i) * kN + j;
        const double got = (*mixed)[0].data<float>()[at];
        worst_rounded = std::max(worst_rounded, std::abs(got - want));
        worst_f32 =
            std::max(worst_f32, std::abs(got - (*exact)[0].data<float>()[at]));
        scale = std::max(scale, std::abs(want));
      }
    }
  }
  // The product of the rounded operands, to f32 accumulation error; and
  // measurably not the f32 product (bf16 keeps 8 significant bits).
  EXPECT_LT(worst_rounded / scale, 1e-5);
  EXPECT_GT(worst_f32 / scale, 1e-4);
  EXPECT_LT(worst_f32 / scale, 1e-2);
}

}  // namespace
}  // namespace rill
