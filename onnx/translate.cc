#include "onnx/translate.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx/onnx_tensor.h"
#include "onnx/symbolic_shape.h"
#include "ops/op_def.h"

namespace rill {
namespace {

using Attrs = std::map<std::string, AttrValue>;

bool IsFloat(DType t) { return t == DType::kF32 || t == DType::kF64; }

absl::Status Unary(NodeTranslation& n, const char* op) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  ASSIGN_OR_RETURN(std::string y, n.Emit(op, {x}));
  return n.SetOutput(0, y);
}

// rill's arithmetic is float only: integer operands (shape arithmetic)
// go through f64 and back, where integer division truncates as ONNX's.
absl::StatusOr<std::string> BinaryOp(NodeTranslation& n, const char* op,
                                     const std::string& a,
                                     const std::string& b) {
  DType t = n.ctx().dtype(a);
  if (n.ctx().dtype(b) != t) {
    return n.Error(absl::StrCat("operands have different dtypes ", DTypeName(t),
                                " and ", DTypeName(n.ctx().dtype(b))));
  }
  if (IsFloat(t)) return n.Emit(op, {a, b});
  if (t == DType::kBool) return n.Unsupported("bool arithmetic");
  Attrs to_f64 = {{"dtype", TypeAttr(DT_DOUBLE)}};
  ASSIGN_OR_RETURN(std::string fa, n.Emit("Cast", {a}, to_f64));
  ASSIGN_OR_RETURN(std::string fb, n.Emit("Cast", {b}, to_f64));
  ASSIGN_OR_RETURN(std::string z, n.Emit(op, {fa, fb}));
  return n.Emit("Cast", {z}, {{"dtype", TypeAttr(DTypeToProto(t))}});
}

absl::Status Binary(NodeTranslation& n, const char* op) {
  ASSIGN_OR_RETURN(std::string a, n.in(0));
  ASSIGN_OR_RETURN(std::string b, n.in(1));
  ASSIGN_OR_RETURN(std::string z, BinaryOp(n, op, a, b));
  return n.SetOutput(0, z);
}

// Max, Min, Sum: variadic, folded left to right.
absl::Status Variadic(NodeTranslation& n, const char* op) {
  ASSIGN_OR_RETURN(std::string acc, n.in(0));
  for (int i = 1; i < n.node().input_size(); ++i) {
    ASSIGN_OR_RETURN(std::string x, n.in(i));
    ASSIGN_OR_RETURN(acc, BinaryOp(n, op, acc, x));
  }
  if (n.node().input_size() == 1) {
    ASSIGN_OR_RETURN(acc, n.Emit("Identity", {acc}));
  }
  return n.SetOutput(0, acc);
}

absl::StatusOr<std::string> Scalar(NodeTranslation& n, DType t, double v) {
  ASSIGN_OR_RETURN(Tensor s, Tensor::Allocate(t, Shape({})));
  if (t == DType::kF32) {
    s.data<float>()[0] = static_cast<float>(v);
  } else {
    s.data<double>()[0] = v;
  }
  return n.EmitConst(s);
}

// ONNX's Pow takes an exponent of any numeric type; the result has the
// base's.
absl::Status Pow(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string a, n.in(0));
  ASSIGN_OR_RETURN(std::string b, n.in(1));
  if (n.dtype(1) != n.dtype(0)) {
    ASSIGN_OR_RETURN(
        b,
        n.Emit("Cast", {b}, {{"dtype", TypeAttr(DTypeToProto(n.dtype(0)))}}));
  }
  ASSIGN_OR_RETURN(std::string z, BinaryOp(n, "Pow", a, b));
  return n.SetOutput(0, z);
}

absl::Status Compare(NodeTranslation& n, const char* op) {
  ASSIGN_OR_RETURN(std::string a, n.in(0));
  ASSIGN_OR_RETURN(std::string b, n.in(1));
  if (n.dtype(0) == DType::kBool) {
    // Booleans compare as i32 (rill's comparisons take numbers).
    Attrs to_i32 = {{"dtype", TypeAttr(DT_INT32)}};
    ASSIGN_OR_RETURN(a, n.Emit("Cast", {a}, to_i32));
    ASSIGN_OR_RETURN(b, n.Emit("Cast", {b}, to_i32));
  }
  ASSIGN_OR_RETURN(std::string z, n.Emit(op, {a, b}));
  return n.SetOutput(0, z);
}

absl::Status MatMul(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string a, n.in(0));
  ASSIGN_OR_RETURN(std::string b, n.in(1));
  // numpy.matmul: a 1-D operand gains an axis that the result loses.
  const bool a1 = n.shape(0).rank() == 1, b1 = n.shape(1).rank() == 1;
  if (a1) {
    ASSIGN_OR_RETURN(a, n.Emit("ExpandDims", {a}, {{"axis", IntAttr(0)}}));
  }
  if (b1) {
    ASSIGN_OR_RETURN(b, n.Emit("ExpandDims", {b}, {{"axis", IntAttr(1)}}));
  }
  ASSIGN_OR_RETURN(std::string y, n.Emit("MatMul", {a, b}));
  if (a1 || b1) {
    std::vector<int64_t> axes;
    int rank = n.ctx().shape(y).rank();
    if (a1) axes.push_back(rank - 2);
    if (b1) axes.push_back(rank - 1);
    ASSIGN_OR_RETURN(y, n.Emit("Squeeze", {y}, {{"axes", IntListAttr(axes)}}));
  }
  return n.SetOutput(0, y);
}

absl::Status Gemm(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string a, n.in(0));
  ASSIGN_OR_RETURN(std::string b, n.in(1));
  const DType t = n.dtype(0);
  ASSIGN_OR_RETURN(
      std::string y,
      n.Emit("MatMul", {a, b},
             {{"transpose_a", BoolAttr(n.AttrInt("transA", 0) != 0)},
              {"transpose_b", BoolAttr(n.AttrInt("transB", 0) != 0)}}));
  const float alpha = n.AttrFloat("alpha", 1.0f);
  const float beta = n.AttrFloat("beta", 1.0f);
  if (alpha != 1.0f) {
    ASSIGN_OR_RETURN(std::string s, Scalar(n, t, alpha));
    ASSIGN_OR_RETURN(y, n.Emit("Mul", {y, s}));
  }
  if (n.has_input(2) && beta != 0.0f) {
    ASSIGN_OR_RETURN(std::string c, n.in(2));
    if (beta != 1.0f) {
      ASSIGN_OR_RETURN(std::string s, Scalar(n, t, beta));
      ASSIGN_OR_RETURN(c, n.Emit("Mul", {c, s}));
    }
    ASSIGN_OR_RETURN(y, n.Emit("Add", {y, c}));
  }
  return n.SetOutput(0, y);
}

// Product of dims [from, to), or -1 when one is symbolic.
int64_t Product(const Shape& s, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; ++i) {
    if (s.dim(i) < 0) return -1;
    p *= s.dim(i);
  }
  return p;
}

// Softmax and LogSoftmax: opset 13 takes one axis; earlier opsets flatten
// to 2-D at `axis` (default 1) and normalise the second part.
absl::Status SoftmaxLike(NodeTranslation& n, const char* op) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  const Shape& s = n.shape(0);
  const bool v13 = n.opset() >= 13;
  ASSIGN_OR_RETURN(int64_t axis,
                   n.Axis(n.AttrInt("axis", v13 ? -1 : 1), s.rank()));
  if (v13 || axis == s.rank() - 1) {
    ASSIGN_OR_RETURN(std::string y, n.Emit(op, {x}, {{"axis", IntAttr(axis)}}));
    return n.SetOutput(0, y);
  }
  const int64_t inner = Product(s, axis, s.rank());
  if (inner < 0) {
    return n.Unsupported("a symbolic dimension after `axis` (opset < 13)");
  }
  ASSIGN_OR_RETURN(
      std::string flat,
      n.Emit("Reshape", {x}, {{"shape", IntListAttr({-1, inner})}}));
  ASSIGN_OR_RETURN(std::string y, n.Emit(op, {flat}));
  ASSIGN_OR_RETURN(y, n.Emit("ReshapeLike", {y, x}));
  return n.SetOutput(0, y);
}

absl::Status LayerNormalization(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  ASSIGN_OR_RETURN(std::string gamma, n.in(1));
  const Shape& s = n.shape(0);
  const DType t = n.dtype(0);
  ASSIGN_OR_RETURN(int64_t axis, n.Axis(n.AttrInt("axis", -1), s.rank()));
  const int64_t inner = Product(s, axis, s.rank());
  if (inner < 0) return n.Unsupported("a symbolic dimension after `axis`");
  std::string beta;
  if (n.has_input(2)) {
    ASSIGN_OR_RETURN(beta, n.in(2));
  } else {
    ASSIGN_OR_RETURN(beta, n.Emit("ZerosLike", {gamma}));
  }
  // rill normalises the last axis: flatten the normalised axes into one.
  const bool flatten = axis != s.rank() - 1;
  std::string xf = x;
  if (flatten) {
    std::vector<int64_t> dims(s.dims().begin(), s.dims().begin() + axis);
    dims.push_back(inner);
    ASSIGN_OR_RETURN(xf,
                     n.Emit("Reshape", {x}, {{"shape", IntListAttr(dims)}}));
  }
  // Scale and bias broadcast to the normalised shape (ONNX allows fewer axes).
  std::vector<int64_t> norm(s.dims().begin() + axis, s.dims().end());
  Attrs to_norm = {{"shape", IntListAttr(norm)}};
  Attrs to_flat = {{"shape", IntListAttr({inner})}};
  ASSIGN_OR_RETURN(gamma, n.Emit("BroadcastTo", {gamma}, to_norm));
  ASSIGN_OR_RETURN(gamma, n.Emit("Reshape", {gamma}, to_flat));
  ASSIGN_OR_RETURN(beta, n.Emit("BroadcastTo", {beta}, to_norm));
  ASSIGN_OR_RETURN(beta, n.Emit("Reshape", {beta}, to_flat));
  const float eps = n.AttrFloat("epsilon", 1e-5f);
  ASSIGN_OR_RETURN(std::string ln, n.Emit("LayerNorm", {xf, gamma, beta},
                                          {{"epsilon", FloatAttr(eps)}}));
  std::string y = absl::StrCat(ln, ":0");
  if (flatten) {
    ASSIGN_OR_RETURN(y, n.Emit("ReshapeLike", {y, x}));
  }
  RETURN_IF_ERROR(n.SetOutput(0, y));
  if (!n.has_output(1) && !n.has_output(2)) return absl::OkStatus();
  // Mean and InvStdDev keep the normalised axes as size 1.
  std::vector<int64_t> kept(s.dims().begin(), s.dims().begin() + axis);
  kept.resize(s.rank(), 1);
  Attrs to_kept = {{"shape", IntListAttr(kept)}};
  ASSIGN_OR_RETURN(std::string mean,
                   n.Emit("Reshape", {absl::StrCat(ln, ":1")}, to_kept));
  RETURN_IF_ERROR(n.SetOutput(1, mean));
  ASSIGN_OR_RETURN(std::string e, Scalar(n, t, eps));
  ASSIGN_OR_RETURN(std::string var, n.Emit("Add", {absl::StrCat(ln, ":2"), e}));
  ASSIGN_OR_RETURN(std::string inv, n.Emit("Rsqrt", {var}));
  ASSIGN_OR_RETURN(inv, n.Emit("Reshape", {inv}, to_kept));
  return n.SetOutput(2, inv);
}

// Where(i < 0, i + size, i) for integer indices i.
absl::StatusOr<std::string> WrapNegative(NodeTranslation& n,
                                         const std::string& i, int64_t size) {
  const DType t = n.ctx().dtype(i);
  ASSIGN_OR_RETURN(Tensor zero, Tensor::Allocate(t, Shape({})));
  ASSIGN_OR_RETURN(Tensor count, Tensor::Allocate(t, Shape({})));
  if (t == DType::kI64) {
    count.data<int64_t>()[0] = size;
  } else {
    count.data<int32_t>()[0] = static_cast<int32_t>(size);
  }
  ASSIGN_OR_RETURN(std::string zero_ref, n.EmitConst(zero));
  ASSIGN_OR_RETURN(std::string count_ref, n.EmitConst(count));
  ASSIGN_OR_RETURN(std::string negative, n.Emit("Less", {i, zero_ref}));
  ASSIGN_OR_RETURN(std::string wrapped, BinaryOp(n, "Add", i, count_ref));
  return n.Emit("Where", {negative, wrapped, i});
}

absl::Status Gather(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string data, n.in(0));
  ASSIGN_OR_RETURN(int64_t axis,
                   n.Axis(n.AttrInt("axis", 0), n.shape(0).rank()));
  std::string indices;
  const OnnxValue& iv = n.value(1);
  const int64_t size = n.shape(0).dim(axis);
  if (iv.constant.has_value() && size >= 0) {
    // ONNX counts negative indices from the end; rill does not wrap.
    ASSIGN_OR_RETURN(Tensor idx, iv.constant->Clone());
    for (int64_t k = 0; k < idx.num_elements(); ++k) {
      if (idx.dtype() == DType::kI64) {
        int64_t& v = idx.data<int64_t>()[k];
        if (v < 0) v += size;
      } else {
        int32_t& v = idx.data<int32_t>()[k];
        if (v < 0) v += static_cast<int32_t>(size);
      }
    }
    ASSIGN_OR_RETURN(indices, n.EmitConst(idx));
  } else {
    ASSIGN_OR_RETURN(indices, n.in(1));
    // Known at run time only: wrapped in the graph, where the size is known
    // (else rill's Gather rejects a negative index when it runs).
    if (size >= 0) {
      ASSIGN_OR_RETURN(indices, WrapNegative(n, indices, size));
    }
  }
  ASSIGN_OR_RETURN(std::string y, n.Emit("Gather", {data, indices},
                                         {{"axis", IntAttr(axis)}}));
  return n.SetOutput(0, y);
}

absl::Status Transpose(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  ASSIGN_OR_RETURN(
      std::string y,
      n.Emit("Transpose", {x}, {{"perm", IntListAttr(n.AttrInts("perm"))}}));
  return n.SetOutput(0, y);
}

// The -1 entry of a Reshape target `shape` as the size of the input (of
// dims `dims`) over the other entries', when that is known at import:
// every run-time dim of the other entries is one of the input's own (a 0
// copies it), and the input has no other. A bidirectional RNN export's
// [T, B, 2, H] -> [0, 0, -1] with B symbolic is one.
std::optional<int64_t> KnownFill(const SymbolicShape& dims,
                                 const SymbolicShape& shape) {
  int64_t in = 1, out = 1;
  std::multiset<std::pair<std::string, int>> runtime;
  for (const SymbolicDim& d : dims) {
    in *= d.factor;
    runtime.insert(d.dims.begin(), d.dims.end());
  }
  for (const SymbolicDim& e : shape) {
    if (e.known() && e.factor == -1) continue;
    out *= e.factor;
    for (const auto& d : e.dims) {
      auto it = runtime.find(d);
      if (it == runtime.end()) return std::nullopt;
      runtime.erase(it);
    }
  }
  if (!runtime.empty() || out <= 0 || in % out != 0) return std::nullopt;
  return in / out;
}

absl::Status Reshape(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  ASSIGN_OR_RETURN(SymbolicShape shape, ShapeEntries(n, 1, "shape"));
  const SymbolicShape dims = DimsOf(n, x);
  const bool allowzero = n.AttrInt("allowzero", 0) != 0;
  int unknowns = 0, inferred = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i].known() && shape[i].factor == 0 && !allowzero) {
      // 0 copies the input's dimension.
      if (i >= dims.size()) {
        return n.Error(absl::StrCat(
            "shape[", i, "] = 0 but the input has rank ", dims.size()));
      }
      shape[i] = dims[i];
    }
    unknowns += !shape[i].known() || shape[i].factor == -1;
    inferred += shape[i].known() && shape[i].factor == -1;
  }
  if (unknowns > 1 && inferred == 1) {
    if (std::optional<int64_t> fill = KnownFill(dims, shape)) {
      for (SymbolicDim& e : shape) {
        if (e.known() && e.factor == -1) e.factor = *fill;
      }
      --unknowns;
      inferred = 0;
    }
  }
  std::string y;
  if (unknowns <= 1) {
    std::vector<int64_t> attr;
    for (const SymbolicDim& d : shape)
      attr.push_back(d.known() ? d.factor : -1);
    ASSIGN_OR_RETURN(y, n.Emit("Reshape", {x}, {{"shape", IntListAttr(attr)}}));
  } else if (inferred == 0) {
    // Several dims known only at run time: the shape of a tensor made to
    // have it.
    ASSIGN_OR_RETURN(std::string like, TensorOfShape(n, shape));
    ASSIGN_OR_RETURN(y, n.Emit("ReshapeLike", {x, like}));
  } else {
    return n.Unsupported(
        "a target shape with -1 and a dimension known only at run time");
  }
  return n.SetOutput(0, y);
}

absl::StatusOr<std::vector<int64_t>> AxesOf(NodeTranslation& n, int input) {
  if (n.has_attr("axes")) return n.AttrInts("axes");
  if (n.has_input(input)) return n.ConstantInts(input, "axes");
  return std::vector<int64_t>{};
}

absl::Status Squeeze(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, AxesOf(n, 1));
  ASSIGN_OR_RETURN(std::string y,
                   n.Emit("Squeeze", {x}, {{"axes", IntListAttr(axes)}}));
  return n.SetOutput(0, y);
}

absl::Status Unsqueeze(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string y, n.in(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, AxesOf(n, 1));
  const int64_t out_rank = n.shape(0).rank() + axes.size();
  for (int64_t& a : axes) {
    ASSIGN_OR_RETURN(a, n.Axis(a, out_rank));
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) {
    return n.Error("axes repeat an axis");
  }
  // Inserting in increasing order puts each at its final position.
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(y, n.Emit("ExpandDims", {y}, {{"axis", IntAttr(a)}}));
  }
  if (axes.empty()) {
    ASSIGN_OR_RETURN(y, n.Emit("Identity", {y}));
  }
  return n.SetOutput(0, y);
}

absl::Status Concat(NodeTranslation& n) {
  std::vector<std::string> xs;
  for (int i = 0; i < n.node().input_size(); ++i) {
    ASSIGN_OR_RETURN(std::string x, n.in(i));
    xs.push_back(x);
  }
  if (!n.has_attr("axis")) return n.Error("attribute 'axis' is required");
  ASSIGN_OR_RETURN(int64_t axis,
                   n.Axis(n.AttrInt("axis", 0), n.shape(0).rank()));
  ASSIGN_OR_RETURN(std::string y,
                   n.Emit("Concat", xs, {{"axis", IntAttr(axis)}}));
  return n.SetOutput(0, y);
}

absl::Status Slice(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  std::vector<int64_t> starts, ends, axes, steps;
  if (n.opset() < 10) {
    starts = n.AttrInts("starts");
    ends = n.AttrInts("ends");
    axes = n.AttrInts("axes");
  } else {
    ASSIGN_OR_RETURN(starts, n.ConstantInts(1, "starts"));
    ASSIGN_OR_RETURN(ends, n.ConstantInts(2, "ends"));
    if (n.has_input(3)) {
      ASSIGN_OR_RETURN(axes, n.ConstantInts(3, "axes"));
    }
    if (n.has_input(4)) {
      ASSIGN_OR_RETURN(steps, n.ConstantInts(4, "steps"));
    }
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      (!steps.empty() && steps.size() != starts.size())) {
    return n.Error("starts, ends, axes and steps differ in length");
  }
  ASSIGN_OR_RETURN(std::string y, n.Emit("Slice", {x},
                                         {{"start", IntListAttr(starts)},
                                          {"end", IntListAttr(ends)},
                                          {"axes", IntListAttr(axes)},
                                          {"step", IntListAttr(steps)}}));
  return n.SetOutput(0, y);
}

absl::Status Split(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  ASSIGN_OR_RETURN(int64_t axis,
                   n.Axis(n.AttrInt("axis", 0), n.shape(0).rank()));
  std::vector<int64_t> sizes = n.AttrInts("split");
  if (n.opset() >= 13 && n.has_input(1)) {
    ASSIGN_OR_RETURN(sizes, n.ConstantInts(1, "split"));
  }
  const int parts = n.node().output_size();
  if (!sizes.empty() && static_cast<int>(sizes.size()) != parts) {
    return n.Error(absl::StrCat("split has ", sizes.size(), " sizes for ",
                                parts, " outputs"));
  }
  ASSIGN_OR_RETURN(std::string y, n.Emit("Split", {x},
                                         {{"num_splits", IntAttr(parts)},
                                          {"axis", IntAttr(axis)},
                                          {"sizes", IntListAttr(sizes)}}));
  for (int k = 0; k < parts; ++k) {
    RETURN_IF_ERROR(n.SetOutput(k, absl::StrCat(y, ":", k)));
  }
  return absl::OkStatus();
}

absl::Status Where(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string c, n.in(0));
  ASSIGN_OR_RETURN(std::string a, n.in(1));
  ASSIGN_OR_RETURN(std::string b, n.in(2));
  ASSIGN_OR_RETURN(std::string y, n.Emit("Where", {c, a, b}));
  return n.SetOutput(0, y);
}

absl::Status Cast(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  absl::StatusOr<DType> to = DTypeFromOnnx(n.AttrInt("to", 0));
  if (!to.ok()) return n.Unsupported(std::string(to.status().message()));
  ASSIGN_OR_RETURN(
      std::string y,
      n.Emit("Cast", {x}, {{"dtype", TypeAttr(DTypeToProto(*to))}}));
  return n.SetOutput(0, y);
}

absl::Status Identity(NodeTranslation& n) { return Unary(n, "Identity"); }

// Inference: the identity. A requested mask is all true.
absl::Status Dropout(NodeTranslation& n) {
  if (n.opset() >= 12 && n.has_input(2)) {
    const OnnxValue& mode = n.value(2);
    if (!mode.constant.has_value() || mode.constant->data<bool>()[0]) {
      return n.Unsupported("training mode (rill imports for inference)");
    }
  }
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  ASSIGN_OR_RETURN(std::string y, n.Emit("Identity", {x}));
  RETURN_IF_ERROR(n.SetOutput(0, y));
  if (n.has_output(1)) {
    ASSIGN_OR_RETURN(std::string ones, n.Emit("OnesLike", {x}));
    ASSIGN_OR_RETURN(std::string mask,
                     n.Emit("Cast", {ones}, {{"dtype", TypeAttr(DT_BOOL)}}));
    RETURN_IF_ERROR(n.SetOutput(1, mask));
  }
  return absl::OkStatus();
}

absl::Status Reduce(NodeTranslation& n, const char* op) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, AxesOf(n, 1));
  if (axes.empty() && n.AttrInt("noop_with_empty_axes", 0) != 0) {
    return Identity(n);
  }
  ASSIGN_OR_RETURN(
      std::string y,
      n.Emit(op, {x},
             {{"axes", IntListAttr(axes)},
              {"keepdims", BoolAttr(n.AttrInt("keepdims", 1) != 0)}}));
  return n.SetOutput(0, y);
}

absl::StatusOr<Tensor> IntTensor(const std::vector<int64_t>& v) {
  ASSIGN_OR_RETURN(
      Tensor t,
      Tensor::Allocate(DType::kI64, Shape({static_cast<int64_t>(v.size())})));
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

absl::Status ShapeOp(NodeTranslation& n) {
  const Shape& s = n.shape(0);
  const int64_t rank = s.rank();
  int64_t start = n.AttrInt("start", 0), end = n.AttrInt("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  std::vector<int64_t> dims(s.dims().begin() + start, s.dims().begin() + end);
  if (std::count(dims.begin(), dims.end(), -1) > 0) {
    ASSIGN_OR_RETURN(std::string x, n.in(0));
    SymbolicShape all = DimsOf(n, x);
    return n.SetOutputSymbolic(
        0, SymbolicShape(all.begin() + start, all.begin() + end), false);
  }
  ASSIGN_OR_RETURN(Tensor t, IntTensor(dims));
  return n.SetOutputConstant(0, std::move(t));
}

absl::Status ConstantOfShape(NodeTranslation& n) {
  Tensor fill;
  if (const auto* a = n.Attr("value")) {
    ASSIGN_OR_RETURN(fill, TensorFromOnnx(a->t(), "attribute 'value'", ".",
                                          n.ctx().memory_budget()));
  } else {
    ASSIGN_OR_RETURN(fill, Tensor::Allocate(DType::kF32, Shape({1})));
  }
  if (fill.num_elements() != 1) return n.Error("value must hold one element");
  if (n.is_symbolic(0)) {
    ASSIGN_OR_RETURN(std::string like, TensorOfShape(n, *n.value(0).symbolic));
    ASSIGN_OR_RETURN(Tensor scalar, Tensor::Allocate(fill.dtype(), Shape({})));
    std::memcpy(scalar.raw_data(), fill.raw_data(), DTypeSize(fill.dtype()));
    ASSIGN_OR_RETURN(std::string value, n.EmitConst(scalar));
    ASSIGN_OR_RETURN(std::string y, n.Emit("BroadcastLike", {value, like}));
    return n.SetOutput(0, y);
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, n.ConstantInts(0, "shape"));
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(fill.dtype(), Shape(dims)));
  const int64_t size = DTypeSize(t.dtype());
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    std::memcpy(static_cast<char*>(t.raw_data()) + i * size, fill.raw_data(),
                size);
  }
  return n.SetOutputConstant(0, std::move(t));
}

absl::Status ConstantOp(NodeTranslation& n) {
  const auto* a = n.Attr("value");
  if (a == nullptr) {
    if (const auto* f = n.Attr("value_float")) {
      ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, Shape({})));
      t.data<float>()[0] = f->f();
      return n.SetOutputConstant(0, std::move(t));
    }
    if (const auto* i = n.Attr("value_int")) {
      ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kI64, Shape({})));
      t.data<int64_t>()[0] = i->i();
      return n.SetOutputConstant(0, std::move(t));
    }
    if (const auto* is = n.Attr("value_ints")) {
      ASSIGN_OR_RETURN(Tensor t, IntTensor(std::vector<int64_t>(
                                     is->ints().begin(), is->ints().end())));
      return n.SetOutputConstant(0, std::move(t));
    }
    return n.Unsupported(
        "a Constant without `value`, value_float, "
        "value_int or value_ints");
  }
  absl::StatusOr<Tensor> t =
      TensorFromOnnx(a->t(), "attribute 'value'", ".", n.ctx().memory_budget());
  if (!t.ok()) return n.Error(std::string(t.status().message()));
  return n.SetOutputConstant(0, *std::move(t));
}

// Known at import only (the causal masks of exports are Trilu of a
// ConstantOfShape): rill has no triangle op, and a run-time one is not
// needed yet.
absl::Status Trilu(NodeTranslation& n) {
  ASSIGN_OR_RETURN(Tensor x, n.Constant(0, "input"));
  int64_t k = 0;
  if (n.has_input(1)) {
    ASSIGN_OR_RETURN(std::vector<int64_t> ks, n.ConstantInts(1, "k"));
    if (ks.size() != 1) return n.Error("k must hold one value");
    k = ks[0];
  }
  const bool upper = n.AttrInt("upper", 1) != 0;
  const Shape& s = x.shape();
  if (s.rank() < 2) return n.Error("input must have rank 2 or more");
  ASSIGN_OR_RETURN(Tensor y, x.Clone());
  const int64_t rows = s.dim(s.rank() - 2), cols = s.dim(s.rank() - 1);
  const int64_t size = DTypeSize(y.dtype());
  char* data = static_cast<char*>(y.raw_data());
  for (int64_t e = 0; e < y.num_elements(); ++e) {
    const int64_t i = (e / cols) % rows, j = e % cols;
    const bool keep = upper ? j - i >= k : j - i <= k;
    if (!keep) std::memset(data + e * size, 0, size);
  }
  return n.SetOutputConstant(0, std::move(y));
}

// ONNX's Expand broadcasts both ways: the result has the broadcast of the
// input's shape and `shape`.
absl::Status Expand(NodeTranslation& n) {
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  if (n.is_symbolic(1)) {
    // The broadcast of x's shape and the target's, as a tensor.
    ASSIGN_OR_RETURN(std::string like, TensorOfShape(n, *n.value(1).symbolic));
    ASSIGN_OR_RETURN(std::string zeros, n.Emit("ZerosLike", {x}));
    if (n.dtype(0) != DType::kF32) {
      ASSIGN_OR_RETURN(
          zeros, n.Emit("Cast", {zeros}, {{"dtype", TypeAttr(DT_FLOAT)}}));
    }
    ASSIGN_OR_RETURN(like, n.Emit("Add", {like, zeros}));
    ASSIGN_OR_RETURN(std::string y, n.Emit("BroadcastLike", {x, like}));
    return n.SetOutput(0, y);
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> target, n.ConstantInts(1, "shape"));
  const Shape& s = n.shape(0);
  const size_t rank = std::max<size_t>(target.size(), s.rank());
  std::vector<int64_t> out(rank, -1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t ti = static_cast<int64_t>(i + target.size()) - rank;
    const int64_t xi = static_cast<int64_t>(i + s.rank()) - rank;
    const int64_t td = ti >= 0 ? target[ti] : 1;
    const int64_t xd = xi >= 0 ? s.dim(xi) : 1;
    if (td == 1) {
      out[i] = xi >= 0 ? -1 : 1;  // -1 keeps x's dimension.
    } else if (xd == 1 || xd == td || xd < 0) {
      out[i] = td;
    } else {
      return n.Error(absl::StrCat("cannot expand ", s.ToString(), " to [",
                                  absl::StrJoin(target, ","), "]"));
    }
  }
  ASSIGN_OR_RETURN(std::string y,
                   n.Emit("BroadcastTo", {x}, {{"shape", IntListAttr(out)}}));
  return n.SetOutput(0, y);
}

#define UNARY(name, op)                                   \
  {                                                       \
    name, [](NodeTranslation& n) { return Unary(n, op); } \
  }
#define BINARY(name, op)                                   \
  {                                                        \
    name, [](NodeTranslation& n) { return Binary(n, op); } \
  }

}  // namespace

const std::map<std::string, OnnxTranslator>& OnnxTranslators() {
  static const auto* table = new std::map<std::string, OnnxTranslator>{
      UNARY("Abs", "Abs"),
      UNARY("Erf", "Erf"),
      UNARY("Exp", "Exp"),
      UNARY("Log", "Log"),
      UNARY("Neg", "Neg"),
      UNARY("Reciprocal", "Reciprocal"),
      UNARY("Relu", "Relu"),
      UNARY("Sigmoid", "Sigmoid"),
      UNARY("Softplus", "Softplus"),
      UNARY("Sqrt", "Sqrt"),
      UNARY("Tanh", "Tanh"),
      BINARY("Add", "Add"),
      BINARY("Sub", "Sub"),
      BINARY("Mul", "Mul"),
      BINARY("Div", "Div"),
      {"Pow", Pow},
      {"Max", [](NodeTranslation& n) { return Variadic(n, "Maximum"); }},
      {"Min", [](NodeTranslation& n) { return Variadic(n, "Minimum"); }},
      {"Sum", [](NodeTranslation& n) { return Variadic(n, "Add"); }},
      {"Equal", [](NodeTranslation& n) { return Compare(n, "Equal"); }},
      {"Greater", [](NodeTranslation& n) { return Compare(n, "Greater"); }},
      {"Less", [](NodeTranslation& n) { return Compare(n, "Less"); }},
      {"MatMul", MatMul},
      {"Gemm", Gemm},
      {"Softmax", [](NodeTranslation& n) { return SoftmaxLike(n, "Softmax"); }},
      {"LogSoftmax",
       [](NodeTranslation& n) { return SoftmaxLike(n, "LogSoftmax"); }},
      {"LayerNormalization", LayerNormalization},
      {"Gather", Gather},
      {"Transpose", Transpose},
      {"Reshape", Reshape},
      {"Squeeze", Squeeze},
      {"Unsqueeze", Unsqueeze},
      {"Concat", Concat},
      {"Slice", Slice},
      {"Split", Split},
      {"Where", Where},
      {"Cast", Cast},
      {"Identity", Identity},
      {"Dropout", Dropout},
      {"ReduceMean",
       [](NodeTranslation& n) { return Reduce(n, "ReduceMean"); }},
      {"ReduceSum", [](NodeTranslation& n) { return Reduce(n, "ReduceSum"); }},
      {"ReduceMax", [](NodeTranslation& n) { return Reduce(n, "ReduceMax"); }},
      {"Shape", ShapeOp},
      {"ConstantOfShape", ConstantOfShape},
      {"Constant", ConstantOp},
      {"Expand", Expand},
      {"Trilu", Trilu},
      {"LSTM", TranslateRecurrent},
      {"GRU", TranslateRecurrent},
      {"RNN", TranslateRecurrent},
  };
  return *table;
}

const std::map<std::string, OnnxTranslator>& FusedOnnxTranslators() {
  static const auto* table = new std::map<std::string, OnnxTranslator>{
      UNARY("Gelu", "Gelu"),
  };
  return *table;
}

}  // namespace rill
