// Random ops, seeded and deterministic: Dropout, RandomUniform, RandomNormal
// and TruncatedNormal. oneDNN has no primitive for them; both backends run
// the loops here, so they agree bit for bit.
//
// The numbers. Every random node owns a stream: SplitMix64 started from
// SplitMix64(seed) XOR FNV-1a-64(node name), so that nodes sharing a seed
// still draw independent numbers. The n-th draw of the node (the n-th
// Compute() call that draws, counted from 0 over every plan of its
// executor) takes the n-th output of that stream as a 64-bit key, and
// element blocks come from Philox4x32-10 (Salmon et al., SC 2011) under that
// key, with counter (block index, attempt, 0). Every step is integer
// arithmetic, and the distributions are written out below, so the results
// depend on no library's implementation-defined choices: repeated runs give
// new numbers, and the same graph and seed give the same sequence in every
// process. SplitMix64 is itself counter-based, so the draw count n is the
// stream's whole state: the executor keeps it (KernelArgs::random_draws), a
// checkpoint saves it, and a resumed run draws what an uninterrupted one
// would have. A fresh executor starts every count at 0.

#include <array>
#include <cmath>
#include <string>

#include "core/tensor_proto.h"
#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- The generator ----

using Block = std::array<uint32_t, 4>;

// Philox4x32-10: ten rounds of two 32x32->64 multiplications, with the key
// bumped by the Weyl constants between rounds.
Block Philox(Block c, uint64_t key) {
  uint32_t k0 = static_cast<uint32_t>(key);
  uint32_t k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = uint64_t{0xD2511F53u} * c[0];
    uint64_t p1 = uint64_t{0xCD9E8D57u} * c[2];
    c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k0, static_cast<uint32_t>(p1),
         static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k1,
         static_cast<uint32_t>(p0)};
  }
  return c;
}

Block PhiloxAt(uint64_t key, uint64_t block, uint32_t attempt = 0) {
  return Philox({static_cast<uint32_t>(block),
                 static_cast<uint32_t>(block >> 32), attempt, 0},
                key);
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325u;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001B3u;
  return h;
}

// One key per draw; see the top of the file. The n-th key is SplitMix64's
// (n+1)-th output from the node's start state, found in O(1).
class KeyStream {
 public:
  explicit KeyStream(const KernelArgs& a)
      : draws_(a.random_draws != nullptr ? a.random_draws : &own_draws_) {
    uint64_t s = static_cast<uint64_t>(a.attrs.GetInt("seed"));
    start_ = SplitMix64(&s) ^ Fnv1a64(a.node.name());
  }
  KeyStream(const KeyStream&) = delete;  // draws_ may point into *this.
  KeyStream& operator=(const KeyStream&) = delete;
  uint64_t Next() {
    uint64_t state =
        start_ + static_cast<uint64_t>((*draws_)++) * 0x9E3779B97F4A7C15u;
    return SplitMix64(&state);
  }

 private:
  uint64_t start_;
  int64_t own_draws_ = 0;
  int64_t* draws_;
};

// A double in [0, 1) from the top 53 of 64 bits.
double Unit(uint32_t lo, uint32_t hi) {
  return static_cast<double>(((uint64_t{hi} << 32) | lo) >> 11) * 0x1p-53;
}

// Box-Muller: two independent standard normals from one block.
std::array<double, 2> Normals(const Block& b) {
  double u1 = 1.0 - Unit(b[0], b[1]);  // (0, 1]: log stays finite.
  double u2 = Unit(b[2], b[3]);
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 6.283185307179586477 * u2;  // 2 pi u2
  return {r * std::cos(theta), r * std::sin(theta)};
}

// ---- Initialisers ----

enum class Dist { kUniform, kNormal, kTruncatedNormal };

// TruncatedNormal gives up after this many rejected pairs (probability
// about 1e-172) and returns the mean.
constexpr uint32_t kMaxAttempts = 64;

absl::Status CheckFinite(const InferenceContext& c, const char* attr) {
  float v = c.attrs().GetFloat(attr);
  if (std::isfinite(v)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("attr '", attr, "' = ", v, " must be finite"));
}

absl::Status CheckDistAttrs(const InferenceContext& c, Dist dist) {
  if (dist == Dist::kUniform) {
    RETURN_IF_ERROR(CheckFinite(c, "minval"));
    RETURN_IF_ERROR(CheckFinite(c, "maxval"));
    float lo = c.attrs().GetFloat("minval"), hi = c.attrs().GetFloat("maxval");
    if (lo > hi) {
      return absl::InvalidArgumentError(absl::StrCat(
          "attr 'minval' = ", lo, " is greater than 'maxval' = ", hi));
    }
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(CheckFinite(c, "mean"));
  RETURN_IF_ERROR(CheckFinite(c, "stddev"));
  float stddev = c.attrs().GetFloat("stddev");
  if (stddev < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("attr 'stddev' = ", stddev, " must be >= 0"));
  }
  return absl::OkStatus();
}

// The output is `shape` (fully defined; the validator checks it against
// the memory budget) of
// `dtype` (f32 or f64).
absl::Status RandomShape(InferenceContext& c, Dist dist) {
  absl::StatusOr<DType> dtype = DTypeFromProto(c.attrs().GetDType("dtype"));
  if (!dtype.ok()) return Annotate(dtype.status(), "attr 'dtype'");
  if (!kFloatTypes.Contains(*dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("attr 'dtype' is ", DTypeName(*dtype),
                     " but random ops make ", kFloatTypes.ToString()));
  }
  Shape shape = ShapeFromProto(c.attrs().GetShape("shape"));
  RETURN_IF_ERROR(
      Annotate(shape.Validate(/*allow_symbolic=*/false), "attr 'shape'"));
  RETURN_IF_ERROR(CheckDistAttrs(c, dist));
  c.SetOutput(0, *dtype, std::move(shape));
  return absl::OkStatus();
}

template <typename T>
class RandomKernel : public OpKernel {
 public:
  RandomKernel(const KernelArgs& a, Dist dist)
      : y_(a.outputs[0]), dist_(dist), keys_(a) {
    if (dist == Dist::kUniform) {
      lo_ = a.attrs.GetFloat("minval");
      hi_ = a.attrs.GetFloat("maxval");
    } else {
      mean_ = a.attrs.GetFloat("mean");
      stddev_ = a.attrs.GetFloat("stddev");
    }
  }

  absl::Status Compute() override {
    uint64_t key = keys_.Next();
    T* dst = y_.data<T>();
    int64_t n = y_.num_elements();
    switch (dist_) {
      case Dist::kUniform:  // Two elements per block.
        for (int64_t b = 0; 2 * b < n; ++b) {
          Block w = PhiloxAt(key, b);
          dst[2 * b] = InRange(Unit(w[0], w[1]));
          if (2 * b + 1 < n) dst[2 * b + 1] = InRange(Unit(w[2], w[3]));
        }
        break;
      case Dist::kNormal:  // Two elements per block.
        for (int64_t b = 0; 2 * b < n; ++b) {
          std::array<double, 2> z = Normals(PhiloxAt(key, b));
          dst[2 * b] = static_cast<T>(mean_ + stddev_ * z[0]);
          if (2 * b + 1 < n)
            dst[2 * b + 1] = static_cast<T>(mean_ + stddev_ * z[1]);
        }
        break;
      case Dist::kTruncatedNormal:  // Element i tries blocks (i, attempt).
        for (int64_t i = 0; i < n; ++i) {
          dst[i] = static_cast<T>(mean_ + stddev_ * TruncatedNormal(key, i));
        }
        break;
    }
    return absl::OkStatus();
  }

 private:
  // lo + (hi - lo) * u, kept below hi where rounding to T would reach it.
  T InRange(double u) const {
    T v = static_cast<T>(lo_ + (hi_ - lo_) * u);
    T hi = static_cast<T>(hi_);
    return v < hi || lo_ == hi_ ? v : std::nextafter(hi, static_cast<T>(lo_));
  }

  static double TruncatedNormal(uint64_t key, int64_t i) {
    for (uint32_t attempt = 0; attempt < kMaxAttempts; ++attempt) {
      std::array<double, 2> z = Normals(PhiloxAt(key, i, attempt));
      if (std::abs(z[0]) <= 2) return z[0];
      if (std::abs(z[1]) <= 2) return z[1];
    }
    return 0;
  }

  Tensor y_;
  Dist dist_;
  KeyStream keys_;
  double lo_ = 0, hi_ = 0, mean_ = 0, stddev_ = 0;
};

KernelFactory RandomFactory(Dist dist) {
  return
      [dist](const KernelArgs& a) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
        if (a.outputs[0].dtype() == DType::kF64) {
          return std::make_unique<RandomKernel<double>>(a, dist);
        }
        return std::make_unique<RandomKernel<float>>(a, dist);
      };
}

ShapeFn RandomShapeFn(Dist dist) {
  return [dist](InferenceContext& c) { return RandomShape(c, dist); };
}

// ---- Dropout ----

absl::Status DropoutShape(InferenceContext& c) {
  float rate = c.attrs().GetFloat("rate");
  if (!(rate >= 0 && rate < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("attr 'rate' = ", rate, " must be in [0, 1)"));
  }
  c.SetOutput(0, c.input_dtype(0), c.input_shape(0));
  c.SetOutput(1, c.input_dtype(0), c.input_shape(0));
  return absl::OkStatus();
}

template <typename T>
struct DropoutKernel : OpKernel {
  explicit DropoutKernel(const KernelArgs& a)
      : x(a.inputs[0]),
        y(a.outputs[0]),
        mask(a.outputs[1]),
        keys(a),
        rate(a.attrs.GetFloat("rate")),
        training(a.training),
        active(a.attrs.GetBool("training") && rate > 0),
        // rate < 1, so this is at most 2^32 - 256.
        threshold(static_cast<uint32_t>(static_cast<double>(rate) * 0x1p32)),
        scale(T(1) / (T(1) - static_cast<T>(rate))) {}

  absl::Status Compute() override {
    const T* src = x.data<T>();
    T* dst = y.data<T>();
    T* keep = mask.data<T>();
    int64_t n = x.num_elements();
    if (!active || (training != nullptr && !*training)) {
      std::copy_n(src, n, dst);
      std::fill_n(keep, n, T(1));
      return absl::OkStatus();
    }
    uint64_t key = keys.Next();
    // Element i keeps when word i % 4 of block i / 4 is >= rate * 2^32.
    for (int64_t b = 0; 4 * b < n; ++b) {
      Block w = PhiloxAt(key, b);
      for (int64_t k = 0; k < 4 && 4 * b + k < n; ++k) {
        int64_t i = 4 * b + k;
        keep[i] = w[k] >= threshold ? scale : T(0);
        dst[i] = src[i] * keep[i];
      }
    }
    return absl::OkStatus();
  }

  Tensor x, y, mask;
  KeyStream keys;
  float rate;
  const bool* training;  // The executor's mode; null: training.
  bool active;           // Attr `training` on and a rate to drop at.
  uint32_t threshold;
  T scale;
};

// dx = dy * mask. The mask does not depend on x's values, so a gradient
// reaching it goes nowhere.
absl::Status DropoutGradient(GradContext& g) {
  const std::string& dy = g.output_grad(0);
  g.SetInputGrad(0, dy.empty() ? g.Emit("ZerosLike", {g.input(0)})
                               : g.Emit("Mul", {dy, g.output(1)}));
  return absl::OkStatus();
}

// The attrs every initialiser takes.
OpDef Initialiser(const std::string& name, Dist dist, const std::string& doc) {
  return OpDef(name)
      .Doc(doc +
           " Output `shape` (fully defined) of `dtype` (f32 or f64); values "
           "are drawn in f64 and rounded. `seed` and the per-run stream: see "
           "ops/random_ops.cc (same seed, graph and run count: same values).")
      .Output("y")
      .Attr("shape", AttrType::kShape)
      .Attr("dtype", AttrType::kDType, TypeAttr(DT_FLOAT))
      .Attr("seed", AttrType::kInt, IntAttr(0))
      .Shape(RandomShapeFn(dist))
      .Reference(RandomFactory(dist))
      .NoOneDnnPrimitive()
      .DrawsRandomNumbers()
      .NoGradient();
}

}  // namespace

void RegisterRandomOps(OpRegistry& r) {
  r.Add(Initialiser("RandomUniform", Dist::kUniform,
                    "Uniform in [minval, maxval) (all minval when they are "
                    "equal): minval + (maxval - minval) * u, u from the top 53 "
                    "bits of 64.")
            .Attr("minval", AttrType::kFloat, FloatAttr(0.f))
            .Attr("maxval", AttrType::kFloat, FloatAttr(1.f)));
  r.Add(Initialiser("RandomNormal", Dist::kNormal,
                    "Normal with `mean` and `stddev` (Box-Muller: elements "
                    "2k and 2k+1 are the cos and sin branch of one pair).")
            .Attr("mean", AttrType::kFloat, FloatAttr(0.f))
            .Attr("stddev", AttrType::kFloat, FloatAttr(1.f)));
  r.Add(Initialiser("TruncatedNormal", Dist::kTruncatedNormal,
                    "Normal with `mean` and `stddev`, with every draw more "
                    "than 2 stddev from the mean redrawn, so |y - mean| <= 2 "
                    "stddev; its stddev is therefore about 0.88 `stddev`.")
            .Attr("mean", AttrType::kFloat, FloatAttr(0.f))
            .Attr("stddev", AttrType::kFloat, FloatAttr(1.f)));
  r.Add(OpDef("Dropout")
            .Doc("Inverted dropout. In training mode (an execution choice: "
                 "ExecutorOptions::training, `rill run --training`; the "
                 "default is inference), when attr `training` and `rate` > "
                 "0, each element is kept with probability 1 - `rate`: mask = "
                 "1 / (1 "
                 "- rate) where kept and 0 where dropped, in x's dtype, and y "
                 "= x * mask (so dx = dy * mask; the mask, independent of x, "
                 "passes no gradient). Otherwise y = x and mask = 1. `rate` in "
                 "[0, 1). Seeded like the random initialisers "
                 "(ops/random_ops.cc); a run in inference mode or with attr "
                 "`training` false draws nothing.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Output("y")
            .Output("mask")
            .Attr("rate", AttrType::kFloat, FloatAttr(0.5f))
            .Attr("training", AttrType::kBool, BoolAttr(true))
            .Attr("seed", AttrType::kInt, IntAttr(0))
            .Shape(DropoutShape)
            .Gradient(DropoutGradient)
            .Reference(MakeFloatKernel<DropoutKernel>)
            .NoOneDnnPrimitive()
            .DrawsRandomNumbers());
}

}  // namespace rill
