// MatMul, and its fused form with a bias and an activation.

#include "ops/matmul_ops.h"

#include "ops/gradient.h"
#include "ops/kernel_links.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// The operand shapes of a MatMul, with transposes resolved: the output is
// [batch..., m, n] and the reduction runs over k.
struct MatMulDims {
  Shape a_batch, b_batch;
  int64_t m, k, n;
};

MatMulDims GetMatMulDims(const Shape& a, const Shape& b, bool ta, bool tb) {
  MatMulDims d;
  d.a_batch = Shape(std::vector<int64_t>(a.dims().begin(), a.dims().end() - 2));
  d.b_batch = Shape(std::vector<int64_t>(b.dims().begin(), b.dims().end() - 2));
  d.m = ta ? a.dim(a.rank() - 1) : a.dim(a.rank() - 2);
  d.k = ta ? a.dim(a.rank() - 2) : a.dim(a.rank() - 1);
  int64_t bk = tb ? b.dim(b.rank() - 1) : b.dim(b.rank() - 2);
  d.n = tb ? b.dim(b.rank() - 2) : b.dim(b.rank() - 1);
  if (d.k == kSymbolicDim) d.k = bk;  // Keep the known one for the check.
  return d;
}

absl::Status MatMulShape(InferenceContext& c) {
  const Shape& a = c.input_shape(0);
  const Shape& b = c.input_shape(1);
  if (a.rank() < 2 || b.rank() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("MatMul needs inputs of rank >= 2, got ", a.ToString(),
                     " and ", b.ToString()));
  }
  bool ta = c.attrs().GetBool("transpose_a");
  bool tb = c.attrs().GetBool("transpose_b");
  MatMulDims d = GetMatMulDims(a, b, ta, tb);
  int64_t bk = tb ? b.dim(b.rank() - 1) : b.dim(b.rank() - 2);
  if (d.k != kSymbolicDim && bk != kSymbolicDim && d.k != bk) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MatMul inner dimensions differ: ", a.ToString(),
        ta ? " (transposed)" : "", " x ", b.ToString(),
        tb ? " (transposed)" : "", " contracts ", d.k, " with ", bk));
  }
  ASSIGN_OR_RETURN(Shape batch, BroadcastShapes(d.a_batch, d.b_batch));
  std::vector<int64_t> out = batch.dims();
  out.push_back(d.m);
  out.push_back(d.n);
  c.SetOutput(0, c.input_dtype(0), Shape(std::move(out)));
  return absl::OkStatus();
}

template <typename T>
struct MatMulReference : OpKernel {
  explicit MatMulReference(const KernelArgs& args)
      : a(args.inputs[0]),
        b(args.inputs[1]),
        y(args.outputs[0]),
        ta(args.attrs.GetBool("transpose_a")),
        tb(args.attrs.GetBool("transpose_b")),
        d(GetMatMulDims(a.shape(), b.shape(), ta, tb)),
        out_batch(std::vector<int64_t>(y.shape().dims().begin(),
                                       y.shape().dims().end() - 2)),
        walk(out_batch, {&d.a_batch, &d.b_batch}) {}

  absl::Status Compute() override {
    walk.Run([&](int64_t o, const std::array<int64_t, 2>& at) {
      Multiply(a.data<T>() + at[0] * d.m * d.k, b.data<T>() + at[1] * d.k * d.n,
               y.data<T>() + o * d.m * d.n);
    });
    return absl::OkStatus();
  }

  // Each output sums its even and its odd terms apart, then adds the two
  // and, for an odd k, the last term: the order of Eigen's SSE2
  // matrix-vector product, so that the ESN's graph (models/esn.h) keeps the
  // states the ESN computed with Eigen; two chains of additions also run
  // faster than one.
  void Multiply(const T* pa, const T* pb, T* py) const {
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        auto term = [&](int64_t p) {
          return (ta ? pa[p * d.m + i] : pa[i * d.k + p]) *
                 (tb ? pb[j * d.k + p] : pb[p * d.n + j]);
        };
        T even = 0, odd = 0;
        int64_t p = 0;
        for (; p + 1 < d.k; p += 2) {
          even += term(p);
          odd += term(p + 1);
        }
        T sum = even + odd;
        if (p < d.k) sum += term(p);
        py[i * d.n + j] = sum;
      }
    }
  }

  Tensor a, b, y;
  bool ta, tb;
  MatMulDims d;
  Shape out_batch;
  BroadcastWalk<2> walk;  // Matrix index in a and b per output batch.
};

// A [batch..., rows, cols] view of a matrix stored C-order as [rows, cols],
// or as [cols, rows] when `transposed`; batch padded to `rank - 2` dims.
dnnl::memory::desc MatrixDesc(
    const Shape& batch, int rank, int64_t rows, int64_t cols, bool transposed,
    dnnl::memory::data_type type = dnnl::memory::data_type::f32) {
  dnnl::memory::dims dims(rank - 2 - batch.rank(), 1);
  dims.insert(dims.end(), batch.dims().begin(), batch.dims().end());
  dims.push_back(rows);
  dims.push_back(cols);
  dnnl::memory::dims strides(rank);
  strides[rank - 2] = transposed ? 1 : cols;
  strides[rank - 1] = transposed ? rows : 1;
  int64_t stride = rows * cols;
  for (int i = rank - 3; i >= 0; --i) {
    strides[i] = stride;
    stride *= dims[i];
  }
  return dnnl::memory::desc(dims, type, strides);
}

// The bf16 copy of one f32 tensor, element for element in its order, that
// the bf16 products of a plan read. The first kernel to read the tensor
// offers it (KernelLinks) and fills it on each of its runs; the later
// kernels that read the same tensor (KernelLinks::input_value) read it in
// place, in their own layout, so each tensor is rounded once per run. The
// f32 values can change between runs (parameters, after each optimizer
// step), never within one, so a copy made on the same run is never stale.
struct Bf16Copy {
  dnnl::memory buffer;  // bf16 [elements]; owns the memory.
};

// A matmul kernel that holds the bf16 copies it reads, which earlier
// kernels of its plan may fill.
class MatMulKernel : public PrimitiveKernel {
 public:
  using PrimitiveKernel::PrimitiveKernel;
  void Hold(std::shared_ptr<Bf16Copy> copy) {
    held_.push_back(std::move(copy));
  }

 private:
  std::vector<std::shared_ptr<Bf16Copy>> held_;
};

// The matmul primitive over a {a, b[, bias]} -> y kernel, with optional
// post-ops, which `variant` names for the primitive cache.
std::unique_ptr<OpKernel> MatMulPrimitive(const KernelArgs& a,
                                          const Tensor* bias,
                                          const dnnl::post_ops& post_ops,
                                          const std::string& variant) {
  bool ta = a.attrs.GetBool("transpose_a");
  bool tb = a.attrs.GetBool("transpose_b");
  MatMulDims d =
      GetMatMulDims(a.inputs[0].shape(), a.inputs[1].shape(), ta, tb);
  const Shape& out = a.outputs[0].shape();
  Shape out_batch(
      std::vector<int64_t>(out.dims().begin(), out.dims().end() - 2));
  int rank = out.rank();
  // With bf16 precision the operands are read from bf16 copies of the same
  // layout (Bf16Copy), and the product accumulates and lands in f32, as
  // PyTorch's CPU autocast runs it.
  const bool bf16 = a.precision == Precision::kBf16;
  const auto operand_type =
      bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
  auto src = MatrixDesc(d.a_batch, rank, d.m, d.k, ta, operand_type);
  auto wei = MatrixDesc(d.b_batch, rank, d.k, d.n, tb, operand_type);
  auto dst = MatrixDesc(out_batch, rank, d.m, d.n, false);
  const dnnl::engine& eng = a.onednn->engine;
  const std::string key = absl::StrCat(variant, bf16 ? "bf16" : "");
  // Made only when the primitive cache misses: creating one allocates.
  auto attr = [&post_ops] {
    dnnl::primitive_attr attr;
    attr.set_post_ops(post_ops);
    return attr;
  };
  // The reorders this kernel runs first, filling the copies it made.
  std::vector<std::pair<dnnl::primitive, DnnlArgs>> conversions;
  std::vector<std::shared_ptr<Bf16Copy>> copies;
  // Operand k as the matmul reads it: the tensor itself, or its bf16 copy,
  // an earlier kernel's or one made here.
  auto operand = [&](int k, const dnnl::memory::desc& desc) {
    if (!bf16) return MemoryFor(a, a.inputs[k], desc);
    const std::string& value =
        a.links != nullptr ? a.links->input_value(k) : std::string();
    const std::string offer = absl::StrCat("bf16 copy of ", value);
    std::shared_ptr<Bf16Copy> copy;
    if (!value.empty()) copy = a.links->Find<Bf16Copy>(offer);
    if (copy != nullptr) {
      a.links->CountReused();
    } else {
      const std::vector<int64_t> flat = {a.inputs[k].num_elements()};
      dnnl::memory f32 = MemoryFor(a, a.inputs[k], PlainDesc(flat));
      copy = std::make_shared<Bf16Copy>();
      copy->buffer =
          dnnl::memory(PlainDesc(flat, dnnl::memory::data_type::bf16), eng);
      dnnl::primitive reorder = CachedPrimitive(
          a, [&] { return dnnl::reorder(f32, copy->buffer); },
          absl::StrCat(key, "operand", k));
      conversions.push_back(
          {reorder, {{DNNL_ARG_FROM, f32}, {DNNL_ARG_TO, copy->buffer}}});
      if (!value.empty()) a.links->Offer(offer, copy);
    }
    copies.push_back(copy);
    return dnnl::memory(desc, eng, copy->buffer.get_data_handle());
  };
  DnnlArgs args{{DNNL_ARG_SRC, operand(0, src)},
                {DNNL_ARG_WEIGHTS, operand(1, wei)},
                {DNNL_ARG_DST, MemoryFor(a, a.outputs[0], dst)}};
  dnnl::primitive p;
  if (bias == nullptr) {
    p = CachedPrimitive(
        a,
        [&] {
          return dnnl::matmul({{src, wei, dst}, attr(), eng});
        },
        key);
  } else {
    auto bias_md = PlainDesc(PaddedDims(bias->shape(), rank));
    args.push_back({DNNL_ARG_BIAS, MemoryFor(a, *bias, bias_md)});
    p = CachedPrimitive(
        a,
        [&] {
          return dnnl::matmul({{src, wei, bias_md, dst}, attr(), eng});
        },
        key);
  }
  auto kernel = std::make_unique<MatMulKernel>(a, p, args);
  for (auto& [reorder, reorder_args] : conversions) {
    kernel->RunFirst(std::move(reorder), std::move(reorder_args));
  }
  for (auto& copy : copies) kernel->Hold(std::move(copy));
  return kernel;
}

absl::StatusOr<std::unique_ptr<OpKernel>> MatMulOneDnn(const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&] { return MatMulPrimitive(a, nullptr, {}, ""); });
}

// y = op(a) . op(b) gives da = dy . op(b)^T, transposed back when
// transpose_a, and db = op(a)^T . dy, likewise; each is written as one
// MatMul with the transposes folded into its attrs. Their batch axes are
// the output's, summed back to the input's where it broadcast.
// The gradient of a matrix b [K, N] (or [N, K] with transpose_b) that a
// [..., M, K] with batch axes shares: with a and dy flattened to [R, K] and
// [R, N], one matmul a^T . dy (dy^T . a) sums over the batch as it
// multiplies, where the batched form would make a [..., K, N] product per
// batch element and then reduce it (a Transformer layer's weight gradients
// took a quarter of its training step that way). nullopt where it does not
// apply: b batched, a transposed, or K or N unknown when the graph is
// built.
std::optional<std::string> FlatWeightGradient(GradContext& g, bool ta,
                                              bool tb) {
  const Shape& a = g.shape_of(g.input(0));
  const Shape& b = g.shape_of(g.input(1));
  if (ta || b.rank() != 2 || a.rank() < 3) return std::nullopt;
  const int64_t k = a.dim(a.rank() - 1);
  const int64_t n = b.dim(tb ? 0 : 1);
  if (k == kSymbolicDim || n == kSymbolicDim) return std::nullopt;
  auto flat = [&g](const std::string& x, int64_t cols) {
    return g.Emit("Reshape", {x}, {{"shape", IntListAttr({-1, cols})}});
  };
  const std::string a2 = flat(g.input(0), k);
  const std::string dy2 = flat(g.output_grad(0), n);
  const std::map<std::string, AttrValue> transpose_a = {
      {"transpose_a", BoolAttr(true)}};
  return tb ? g.Emit("MatMul", {dy2, a2}, transpose_a)   // dy^T . a: [N, K]
            : g.Emit("MatMul", {a2, dy2}, transpose_a);  // a^T . dy: [K, N]
}

absl::Status MatMulGradient(GradContext& g) {
  bool ta = g.attrs().GetBool("transpose_a");
  bool tb = g.attrs().GetBool("transpose_b");
  const std::string& a = g.input(0);
  const std::string& b = g.input(1);
  const std::string& dy = g.output_grad(0);
  auto matmul = [&g](const std::string& x, const std::string& y, bool tx,
                     bool ty) {
    std::map<std::string, AttrValue> attrs;
    if (tx) attrs["transpose_a"] = BoolAttr(true);
    if (ty) attrs["transpose_b"] = BoolAttr(true);
    return g.Emit("MatMul", {x, y}, attrs);
  };
  if (g.Wants(0)) {
    g.SetInputGradSummed(0, ta ? matmul(b, dy, tb, true)      // op(b) . dy^T
                               : matmul(dy, b, false, !tb));  // dy . op(b)^T
  }
  if (g.Wants(1)) {
    std::optional<std::string> flat = FlatWeightGradient(g, ta, tb);
    if (flat.has_value()) {
      g.SetInputGrad(1, *flat);
    } else {
      g.SetInputGradSummed(1, tb ? matmul(dy, a, true, ta)      // dy^T . op(a)
                                 : matmul(a, dy, !ta, false));  // op(a)^T . dy
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<FusedActivation> FusableActivation(const std::string& op) {
  if (op == "Tanh") return FusedActivation::kTanh;
  if (op == "Sigmoid") return FusedActivation::kSigmoid;
  if (op == "Relu") return FusedActivation::kRelu;
  if (op == "Gelu") return FusedActivation::kGelu;
  return std::nullopt;
}

bool IsMatMulBias(const Shape& bias, const Shape& out) {
  if (bias.rank() > out.rank() || out.rank() < 2) return false;
  for (int i = 0; i < bias.rank(); ++i) {
    int64_t want = i == bias.rank() - 1 ? out.dim(out.rank() - 1) : 1;
    if (bias.dim(i) != want && bias.dim(i) != 1) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<OpKernel>> MakeFusedMatMulKernel(
    const KernelArgs& a, FusedActivation activation) {
  return CatchDnnl(a, [&] {
    dnnl::post_ops post_ops;
    switch (activation) {
      case FusedActivation::kNone:
        break;
      case FusedActivation::kTanh:
        post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_tanh, 0, 0);
        break;
      case FusedActivation::kSigmoid:
        post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0, 0);
        break;
      case FusedActivation::kRelu:
        post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0, 0);
        break;
      case FusedActivation::kGelu:
        post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0, 0);
        break;
    }
    return MatMulPrimitive(a, &a.inputs[2], post_ops,
                           absl::StrCat("fused", static_cast<int>(activation)));
  });
}

void RegisterMatMulOps(OpRegistry& r) {
  r.Add(OpDef("MatMul")
            .Doc("y = op(a) . op(b) over the last two axes, where op "
                 "transposes when `transpose_a`/`transpose_b`; leading batch "
                 "axes broadcast. On oneDNN, a MatMul whose only consumer is "
                 "a bias Add, optionally followed by Tanh, Sigmoid, Relu or "
                 "Gelu, runs as one primitive with post-ops. Inputs have rank "
                 ">= 2. Gradient: da = dy . op(b)^T (transposed when "
                 "transpose_a), db = op(a)^T . dy (transposed when "
                 "transpose_b), each summed over its broadcast batch axes. "
                 "With bf16 "
                 "precision, oneDNN multiplies bf16 copies of a and b and "
                 "accumulates in f32.")
            .TypeVar("T", kFloatTypes)
            .Input("a", "T")
            .Input("b", "T")
            .Output("y")
            .Attr("transpose_a", AttrType::kBool, BoolAttr(false))
            .Attr("transpose_b", AttrType::kBool, BoolAttr(false))
            .Shape(MatMulShape)
            .Gradient(MatMulGradient)
            .Reference(MakeFloatKernel<MatMulReference>)
            .OneDnn(MatMulOneDnn)
            .FollowsPrecision());
}

}  // namespace rill
