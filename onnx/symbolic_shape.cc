#include "onnx/symbolic_shape.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "ops/op_def.h"

namespace rill {
namespace {

absl::StatusOr<std::string> Reshape(NodeTranslation& n, const std::string& x,
                                    const std::vector<int64_t>& shape) {
  return n.Emit("Reshape", {x}, {{"shape", IntListAttr(shape)}});
}

// A f32 vector of zeros as long as dim `axis` of `ref`.
absl::StatusOr<std::string> DimVector(NodeTranslation& n,
                                      const std::string& ref, int axis) {
  const int rank = n.ctx().shape(ref).rank();
  std::vector<int64_t> start, end, axes;
  for (int a = 0; a < rank; ++a) {
    if (a == axis) continue;
    start.push_back(0);
    end.push_back(1);
    axes.push_back(a);
  }
  std::string v = ref;
  if (!axes.empty()) {
    ASSIGN_OR_RETURN(v, n.Emit("Slice", {v},
                               {{"start", IntListAttr(start)},
                                {"end", IntListAttr(end)},
                                {"axes", IntListAttr(axes)},
                                {"step", IntListAttr({})}}));
  }
  ASSIGN_OR_RETURN(v, Reshape(n, v, {-1}));
  ASSIGN_OR_RETURN(v, n.Emit("ZerosLike", {v}));
  if (n.ctx().dtype(v) != DType::kF32) {
    ASSIGN_OR_RETURN(v, n.Emit("Cast", {v}, {{"dtype", TypeAttr(DT_FLOAT)}}));
  }
  return v;
}

absl::StatusOr<std::string> Zeros(NodeTranslation& n, const Shape& shape) {
  ASSIGN_OR_RETURN(Tensor z, Tensor::Allocate(DType::kF32, shape));
  return n.EmitConst(z);
}

// [a] and [b] as [a * b] (a's index major).
absl::StatusOr<std::string> Outer(NodeTranslation& n, const std::string& a,
                                  const std::string& b) {
  ASSIGN_OR_RETURN(std::string col, Reshape(n, a, {-1, 1}));
  ASSIGN_OR_RETURN(std::string row, Reshape(n, b, {1, -1}));
  ASSIGN_OR_RETURN(std::string grid, n.Emit("Add", {col, row}));
  return Reshape(n, grid, {-1});
}

// A f32 zeros vector as long as `d`.
absl::StatusOr<std::string> EntryVector(NodeTranslation& n,
                                        const SymbolicDim& d) {
  if (d.known()) return Zeros(n, Shape({d.factor}));
  ASSIGN_OR_RETURN(std::string acc,
                   DimVector(n, d.dims[0].first, d.dims[0].second));
  for (size_t k = 1; k < d.dims.size(); ++k) {
    ASSIGN_OR_RETURN(std::string v,
                     DimVector(n, d.dims[k].first, d.dims[k].second));
    ASSIGN_OR_RETURN(acc, Outer(n, acc, v));
  }
  if (d.factor != 1) {
    ASSIGN_OR_RETURN(std::string f, Zeros(n, Shape({d.factor})));
    ASSIGN_OR_RETURN(acc, Outer(n, acc, f));
  }
  return acc;
}

SymbolicDim Known(int64_t v) { return SymbolicDim{v, {}}; }

// Entry-wise with length-1 broadcasting, as ONNX's Mul and Div of shapes.
absl::StatusOr<SymbolicShape> Broadcast(NodeTranslation& n,
                                        const SymbolicShape& a,
                                        const SymbolicShape& b) {
  if (a.size() != b.size() && a.size() != 1 && b.size() != 1) {
    return n.Error(absl::StrCat("shape vectors of ", a.size(), " and ",
                                b.size(), " entries"));
  }
  const size_t len = std::max(a.size(), b.size());
  SymbolicShape out;
  for (size_t i = 0; i < len; ++i) {
    out.push_back(a[a.size() == 1 ? 0 : i]);
    out.push_back(b[b.size() == 1 ? 0 : i]);
  }
  return out;  // Pairs: (a_i, b_i).
}

absl::Status Gather(NodeTranslation& n) {
  ASSIGN_OR_RETURN(SymbolicShape data, ShapeEntries(n, 0, "data"));
  ASSIGN_OR_RETURN(std::vector<int64_t> idx, n.ConstantInts(1, "indices"));
  if (n.shape(0).rank() != 1 || n.shape(1).rank() > 1) {
    return n.Unsupported("a Gather of symbolic dims that is not 1-D");
  }
  const int64_t size = data.size();
  SymbolicShape out;
  for (int64_t i : idx) {
    if (i < -size || i >= size) {
      return n.Error(
          absl::StrCat("index ", i, " is out of range for ", size, " dims"));
    }
    out.push_back(data[i < 0 ? i + size : i]);
  }
  return n.SetOutputSymbolic(0, std::move(out), n.shape(1).rank() == 0);
}

absl::Status Concat(NodeTranslation& n) {
  SymbolicShape out;
  for (int i = 0; i < n.node().input_size(); ++i) {
    if (n.shape(i).rank() != 1) {
      return n.Unsupported("a Concat of symbolic dims that is not 1-D");
    }
    ASSIGN_OR_RETURN(SymbolicShape part, ShapeEntries(n, i, "input"));
    out.insert(out.end(), part.begin(), part.end());
  }
  return n.SetOutputSymbolic(0, std::move(out), false);
}

// Unsqueeze, Squeeze, Cast, Identity: the entries as they are, rank 0 <-> 1.
absl::Status Pass(NodeTranslation& n) {
  ASSIGN_OR_RETURN(SymbolicShape v, ShapeEntries(n, 0, "input"));
  const std::string& op = n.node().op_type();
  bool scalar = n.shape(0).rank() == 0;
  if (op == "Unsqueeze") {
    if (!scalar) return n.Unsupported("an Unsqueeze of a shape vector");
    scalar = false;
  } else if (op == "Squeeze") {
    if (v.size() != 1) return n.Unsupported("a Squeeze of a shape vector");
    scalar = true;
  } else if (op == "Cast") {
    const int64_t to = n.AttrInt("to", 0);
    if (to != 6 && to != 7) {  // INT32, INT64.
      return n.Unsupported("a Cast of symbolic dims to a non-integer type");
    }
  }
  return n.SetOutputSymbolic(0, std::move(v), scalar);
}

absl::Status Arithmetic(NodeTranslation& n) {
  ASSIGN_OR_RETURN(SymbolicShape a, ShapeEntries(n, 0, "A"));
  ASSIGN_OR_RETURN(SymbolicShape b, ShapeEntries(n, 1, "B"));
  ASSIGN_OR_RETURN(SymbolicShape pairs, Broadcast(n, a, b));
  const std::string& op = n.node().op_type();
  SymbolicShape out;
  for (size_t i = 0; i < pairs.size(); i += 2) {
    const SymbolicDim &x = pairs[i], &y = pairs[i + 1];
    SymbolicDim z;
    if (op == "Mul") {
      z.factor = x.factor * y.factor;
      z.dims = x.dims;
      z.dims.insert(z.dims.end(), y.dims.begin(), y.dims.end());
    } else if (y.known() && y.factor != 0 && x.factor % y.factor == 0) {
      // Div: exact when the factor divides (then truncation is moot).
      z.factor = x.factor / y.factor;
      z.dims = x.dims;
    } else if (x.known() && y.known() && y.factor != 0) {
      z.factor = x.factor / y.factor;
    } else {
      return n.Unsupported(
          "a Div of symbolic dims by a value that does not divide them");
    }
    out.push_back(std::move(z));
  }
  return n.SetOutputSymbolic(0, std::move(out),
                             n.shape(0).rank() == 0 && n.shape(1).rank() == 0);
}

}  // namespace

absl::StatusOr<SymbolicShape> ShapeEntries(NodeTranslation& n, int i,
                                           const char* what) {
  if (n.is_symbolic(i)) return *n.value(i).symbolic;
  ASSIGN_OR_RETURN(std::vector<int64_t> v, n.ConstantInts(i, what));
  SymbolicShape out;
  for (int64_t x : v) out.push_back(Known(x));
  return out;
}

SymbolicShape DimsOf(NodeTranslation& n, const std::string& ref) {
  const Shape& s = n.ctx().shape(ref);
  SymbolicShape out;
  for (int a = 0; a < s.rank(); ++a) {
    if (s.dim(a) >= 0) {
      out.push_back(Known(s.dim(a)));
    } else {
      out.push_back(SymbolicDim{1, {{ref, a}}});
    }
  }
  return out;
}

absl::StatusOr<std::string> TensorOfShape(NodeTranslation& n,
                                          const SymbolicShape& shape) {
  const int rank = shape.size();
  std::vector<int64_t> dims(rank, 1);
  std::string like;
  for (int k = 0; k < rank; ++k) {
    if (shape[k].known()) {
      dims[k] = shape[k].factor;
      continue;
    }
    ASSIGN_OR_RETURN(std::string v, EntryVector(n, shape[k]));
    std::vector<int64_t> at(rank, 1);
    at[k] = -1;
    ASSIGN_OR_RETURN(v, Reshape(n, v, at));
    if (like.empty()) {
      like = v;
    } else {
      ASSIGN_OR_RETURN(like, n.Emit("Add", {like, v}));
    }
  }
  ASSIGN_OR_RETURN(std::string known, Zeros(n, Shape(dims)));
  if (like.empty()) return known;
  return n.Emit("Add", {like, known});
}

bool IsShapeArithmetic(const std::string& op) {
  static const auto* ops =
      new std::set<std::string>{"Gather", "Unsqueeze", "Squeeze", "Concat",
                                "Mul",    "Div",       "Cast",    "Identity"};
  return ops->count(op) > 0;
}

absl::Status TranslateShapeArithmetic(NodeTranslation& n) {
  const std::string& op = n.node().op_type();
  if (op == "Gather") return Gather(n);
  if (op == "Concat") return Concat(n);
  if (op == "Mul" || op == "Div") return Arithmetic(n);
  return Pass(n);
}

}  // namespace rill
