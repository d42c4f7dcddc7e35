// ONNX's LSTM, GRU and RNN on rill's fused RecurrentLayer, one per
// direction. The weights are re-ordered by Gathers in the graph (not at
// import), so that an imported layer stays trainable under its ONNX
// initialiser names.
//
// Gate orders (SPEC.md): ONNX LSTM i, o, f, c -> rill i, f, g, o; ONNX GRU
// z, r, h -> rill r, z, n. linear_before_reset=1 is rill's gru_pytorch;
// linear_before_reset=0 is the seed gru with the update gate negated
// (h = (1 - z) h + z n there, h = z h + (1 - z) n in ONNX; sigmoid(-a) =
// 1 - sigmoid(a)).

#include "absl/strings/str_cat.h"
#include "onnx/translate.h"
#include "ops/op_def.h"

namespace rill {
namespace {

struct CellKind {
  const char* rill_cell;
  int gates;
  std::vector<int> onnx_block;  // rill gate k comes from ONNX block [k].
  int negated_block = -1;       // The rill gate whose sign flips.
};

absl::StatusOr<CellKind> Kind(NodeTranslation& n) {
  const std::string& op = n.node().op_type();
  if (op == "LSTM") {
    if (n.has_input(7)) return n.Unsupported("peepholes (input P)");
    if (n.AttrInt("input_forget", 0) != 0) {
      return n.Unsupported("input_forget = 1");
    }
    return CellKind{"lstm", 4, {0, 2, 3, 1}};
  }
  if (op == "GRU") {
    if (n.AttrInt("linear_before_reset", 0) != 0) {
      return CellKind{"gru_pytorch", 3, {1, 0, 2}};
    }
    return CellKind{"gru", 3, {1, 0, 2}, 1};
  }
  const auto* acts = n.Attr("activations");
  if (acts != nullptr && acts->strings_size() > 0 &&
      acts->strings(0) == "Relu") {
    return CellKind{"rnn_relu", 1, {0}};
  }
  return CellKind{"rnn_tanh", 1, {0}};
}

// Default activations only (the RNN's Relu is its own cell).
absl::Status CheckActivations(NodeTranslation& n, const CellKind& kind) {
  if (n.has_attr("clip")) return n.Unsupported("clip");
  const auto* acts = n.Attr("activations");
  if (acts == nullptr) return absl::OkStatus();
  std::vector<std::string> want;
  const std::string op = n.node().op_type();
  if (op == "LSTM") want = {"Sigmoid", "Tanh", "Tanh"};
  if (op == "GRU") want = {"Sigmoid", "Tanh"};
  if (op == "RNN")
    want = {kind.rill_cell == std::string("rnn_relu") ? "Relu" : "Tanh"};
  for (int i = 0; i < acts->strings_size(); ++i) {
    if (acts->strings(i) != want[i % want.size()]) {
      return n.Unsupported(
          absl::StrCat("activation '", acts->strings(i), "' at ", i));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> IndexConst(NodeTranslation& n,
                                       const std::vector<int64_t>& v,
                                       bool scalar) {
  ASSIGN_OR_RETURN(
      Tensor t,
      Tensor::Allocate(DType::kI64,
                       scalar ? Shape({}) : Shape({(int64_t)v.size()})));
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return n.EmitConst(t);
}

// Rows of `w` ([G*H, ...], ONNX block order) in rill's gate order, the
// negated gate's rows times -1.
absl::StatusOr<std::string> Reorder(NodeTranslation& n, const CellKind& kind,
                                    int64_t hidden, const std::string& w) {
  std::vector<int64_t> rows;
  for (int g = 0; g < kind.gates; ++g) {
    for (int64_t h = 0; h < hidden; ++h) {
      rows.push_back(kind.onnx_block[g] * hidden + h);
    }
  }
  ASSIGN_OR_RETURN(std::string idx, IndexConst(n, rows, false));
  ASSIGN_OR_RETURN(std::string y, n.Emit("Gather", {w, idx}));
  if (kind.negated_block < 0) return y;
  const Shape& s = n.ctx().shape(y);
  std::vector<int64_t> sign_dims(s.rank(), 1);
  sign_dims[0] = s.dim(0);
  ASSIGN_OR_RETURN(Tensor sign,
                   Tensor::Allocate(n.ctx().dtype(y), Shape(sign_dims)));
  for (int64_t r = 0; r < s.dim(0); ++r) {
    const double v = r / hidden == kind.negated_block ? -1.0 : 1.0;
    if (sign.dtype() == DType::kF32) {
      sign.data<float>()[r] = static_cast<float>(v);
    } else {
      sign.data<double>()[r] = v;
    }
  }
  ASSIGN_OR_RETURN(std::string sign_ref, n.EmitConst(sign));
  return n.Emit("Mul", {y, sign_ref});
}

absl::StatusOr<std::string> Zeros(NodeTranslation& n, DType t,
                                  const Shape& shape) {
  ASSIGN_OR_RETURN(Tensor z, Tensor::Allocate(t, shape));
  return n.EmitConst(z);
}

absl::Status Recurrent(NodeTranslation& n) {
  ASSIGN_OR_RETURN(CellKind kind, Kind(n));
  RETURN_IF_ERROR(CheckActivations(n, kind));
  ASSIGN_OR_RETURN(std::string x, n.in(0));
  ASSIGN_OR_RETURN(std::string w, n.in(1));
  ASSIGN_OR_RETURN(std::string r, n.in(2));
  const DType t = n.dtype(0);
  const bool batchwise = n.AttrInt("layout", 0) != 0;
  if (batchwise) {
    ASSIGN_OR_RETURN(
        x, n.Emit("Transpose", {x}, {{"perm", IntListAttr({1, 0, 2})}}));
  }
  const Shape& xs = n.ctx().shape(x);
  const Shape& ws = n.shape(1);
  if (xs.rank() != 3 || ws.rank() != 3) {
    return n.Error("X and W must have rank 3");
  }
  const int64_t hidden = n.AttrInt("hidden_size", ws.dim(1) / kind.gates);
  if (ws.dim(1) != kind.gates * hidden) {
    return n.Error(absl::StrCat("W has ", ws.dim(1), " rows, not ", kind.gates,
                                " * hidden_size ", hidden));
  }
  const int64_t batch = xs.dim(1), steps = xs.dim(0);
  if (n.has_input(4)) {
    ASSIGN_OR_RETURN(std::vector<int64_t> lens,
                     n.ConstantInts(4, "sequence_lens"));
    for (int64_t len : lens) {
      if (len != steps) {
        return n.Unsupported(absl::StrCat(
            "sequence_lens ", len, " shorter than the ", steps,
            " steps (rill runs whole sequences; mask or bucket instead)"));
      }
    }
  }
  const std::string direction = n.AttrString("direction", "forward");
  std::vector<bool> reverse;
  if (direction == "forward") {
    reverse = {false};
  } else if (direction == "reverse") {
    reverse = {true};
  } else if (direction == "bidirectional") {
    reverse = {false, true};
  } else {
    return n.Error("direction '" + direction + "'");
  }
  if (ws.dim(0) != static_cast<int64_t>(reverse.size())) {
    return n.Error(absl::StrCat("W has ", ws.dim(0), " directions, '",
                                direction, "' needs ", reverse.size()));
  }
  if (batch < 0 && (!n.has_input(5) || (kind.gates == 4 && !n.has_input(6)))) {
    return n.Unsupported("a symbolic batch without initial_h (and initial_c)");
  }
  const int64_t gh = kind.gates * hidden;
  std::vector<std::string> ys, hs, cs;
  for (size_t d = 0; d < reverse.size(); ++d) {
    ASSIGN_OR_RETURN(std::string di, IndexConst(n, {(int64_t)d}, true));
    auto pick = [&](const std::string& v) { return n.Emit("Gather", {v, di}); };
    ASSIGN_OR_RETURN(std::string wd, pick(w));
    ASSIGN_OR_RETURN(wd, Reorder(n, kind, hidden, wd));
    ASSIGN_OR_RETURN(std::string rd, pick(r));
    ASSIGN_OR_RETURN(rd, Reorder(n, kind, hidden, rd));
    std::string bih, bhh;
    if (n.has_input(3)) {
      ASSIGN_OR_RETURN(std::string b, n.in(3));
      ASSIGN_OR_RETURN(std::string bd, pick(b));
      ASSIGN_OR_RETURN(std::string parts,
                       n.Emit("Split", {bd}, {{"num_splits", IntAttr(2)}}));
      ASSIGN_OR_RETURN(bih,
                       Reorder(n, kind, hidden, absl::StrCat(parts, ":0")));
      ASSIGN_OR_RETURN(bhh,
                       Reorder(n, kind, hidden, absl::StrCat(parts, ":1")));
    } else {
      ASSIGN_OR_RETURN(bih, Zeros(n, t, Shape({gh})));
      bhh = bih;
    }
    // initial_h or initial_c (input k) of this direction, or zeros.
    auto initial = [&](int k) -> absl::StatusOr<std::string> {
      if (!n.has_input(k)) return Zeros(n, t, Shape({batch, hidden}));
      ASSIGN_OR_RETURN(std::string s, n.in(k));
      if (batchwise) {
        ASSIGN_OR_RETURN(
            s, n.Emit("Transpose", {s}, {{"perm", IntListAttr({1, 0, 2})}}));
      }
      return pick(s);
    };
    ASSIGN_OR_RETURN(std::string h0, initial(5));
    std::vector<std::string> ins = {x, h0, wd, rd, bih, bhh};
    if (kind.gates == 4) {
      ASSIGN_OR_RETURN(std::string c0, initial(6));
      ins.push_back(c0);
    }
    ASSIGN_OR_RETURN(std::string layer,
                     n.Emit("RecurrentLayer", ins,
                            {{"cell", StringAttr(kind.rill_cell)},
                             {"reverse", BoolAttr(reverse[d])}}));
    ASSIGN_OR_RETURN(std::string y,
                     n.Emit("ExpandDims", {absl::StrCat(layer, ":0")},
                            {{"axis", IntAttr(1)}}));
    ASSIGN_OR_RETURN(std::string hn,
                     n.Emit("ExpandDims", {absl::StrCat(layer, ":1")},
                            {{"axis", IntAttr(0)}}));
    ASSIGN_OR_RETURN(std::string cn,
                     n.Emit("ExpandDims", {absl::StrCat(layer, ":2")},
                            {{"axis", IntAttr(0)}}));
    ys.push_back(y);
    hs.push_back(hn);
    cs.push_back(cn);
  }
  auto join = [&](const std::vector<std::string>& v,
                  int axis) -> absl::StatusOr<std::string> {
    if (v.size() == 1) return v[0];
    return n.Emit("Concat", v, {{"axis", IntAttr(axis)}});
  };
  ASSIGN_OR_RETURN(std::string y, join(ys, 1));   // [T, dirs, B, H]
  ASSIGN_OR_RETURN(std::string hn, join(hs, 0));  // [dirs, B, H]
  ASSIGN_OR_RETURN(std::string cn, join(cs, 0));
  if (batchwise) {
    ASSIGN_OR_RETURN(
        y, n.Emit("Transpose", {y}, {{"perm", IntListAttr({2, 0, 1, 3})}}));
    ASSIGN_OR_RETURN(
        hn, n.Emit("Transpose", {hn}, {{"perm", IntListAttr({1, 0, 2})}}));
    ASSIGN_OR_RETURN(
        cn, n.Emit("Transpose", {cn}, {{"perm", IntListAttr({1, 0, 2})}}));
  }
  RETURN_IF_ERROR(n.SetOutput(0, y));
  RETURN_IF_ERROR(n.SetOutput(1, hn));
  if (kind.gates == 4) RETURN_IF_ERROR(n.SetOutput(2, cn));
  return absl::OkStatus();
}

}  // namespace

absl::Status TranslateRecurrent(NodeTranslation& n) { return Recurrent(n); }

}  // namespace rill
