// ONNX's LSTM, GRU and RNN on rill's fused RecurrentLayer, one per
// direction. The weights are re-ordered by Gathers in the graph (not at
// import), so that an imported layer stays trainable under its ONNX
// initialiser names.
//
// A sequence_lens shorter than the sequence, or fed at run time, makes
// each direction models/rnn.h's unrolled layer instead, which masks the
// padded steps as ONNX does (Y is zero past a sequence's length, Y_h is the
// state at its last valid step, the reverse direction starts there), from
// the same reordered weights. Whole-length sequence_lens keep the fused op.
//
// Gate orders (SPEC.md): ONNX LSTM i, o, f, c -> rill i, f, g, o; ONNX GRU
// z, r, h -> rill r, z, n. linear_before_reset=1 is rill's gru_pytorch;
// linear_before_reset=0 is the seed gru with the update gate negated
// (h = (1 - z) h + z n there, h = z h + (1 - z) n in ONNX; sigmoid(-a) =
// 1 - sigmoid(a)).

#include "absl/strings/str_cat.h"
#include "models/rnn.h"
#include "onnx/translate.h"
#include "ops/op_def.h"

namespace rill {
namespace {

struct CellKind {
  RecurrentCell cell;
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
    return CellKind{RecurrentCell::kLstm, 4, {0, 2, 3, 1}};
  }
  if (op == "GRU") {
    if (n.AttrInt("linear_before_reset", 0) != 0) {
      return CellKind{RecurrentCell::kGruPyTorch, 3, {1, 0, 2}};
    }
    return CellKind{RecurrentCell::kGru, 3, {1, 0, 2}, 1};
  }
  const auto* acts = n.Attr("activations");
  if (acts != nullptr && acts->strings_size() > 0 &&
      acts->strings(0) == "Relu") {
    return CellKind{RecurrentCell::kRnnRelu, 1, {0}};
  }
  return CellKind{RecurrentCell::kRnnTanh, 1, {0}};
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
    want = {kind.cell == RecurrentCell::kRnnRelu ? "Relu" : "Tanh"};
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

// One direction's inputs in rill's layout and gate order.
struct Direction {
  bool reverse = false;
  std::string w, r, bih, bhh;  // [G*H, I], [G*H, H], [G*H], [G*H]
  std::string h0, c0;          // [B, H]; empty where ONNX gives none
};

// One direction's outputs: y [T, B, H], h and c [B, H] (c: LSTM only).
struct DirectionResult {
  std::string y, h, c;
};

// The sizes both layer forms need.
struct Sizes {
  int64_t steps, batch, input, hidden;
};

// The direction on the fused RecurrentLayer (oneDNN's RNN primitives).
absl::StatusOr<DirectionResult> Fused(NodeTranslation& n, const CellKind& kind,
                                      const std::string& x, const Sizes& z,
                                      const Direction& d) {
  const DType t = n.dtype(0);
  auto state = [&](const std::string& s) -> absl::StatusOr<std::string> {
    if (!s.empty()) return s;
    if (z.batch < 0) {
      return n.Unsupported(
          "a symbolic batch without initial_h (and initial_c)");
    }
    return Zeros(n, t, Shape({z.batch, z.hidden}));
  };
  ASSIGN_OR_RETURN(std::string h0, state(d.h0));
  std::vector<std::string> ins = {x, h0, d.w, d.r, d.bih, d.bhh};
  if (kind.gates == 4) {
    ASSIGN_OR_RETURN(std::string c0, state(d.c0));
    ins.push_back(c0);
  }
  ASSIGN_OR_RETURN(std::string layer,
                   n.Emit("RecurrentLayer", ins,
                          {{"cell", StringAttr(RecurrentCellName(kind.cell))},
                           {"reverse", BoolAttr(d.reverse)}}));
  return DirectionResult{absl::StrCat(layer, ":0"), absl::StrCat(layer, ":1"),
                         kind.gates == 4 ? absl::StrCat(layer, ":2") : ""};
}

// The direction unrolled and masked by models/rnn.h's builder, which reads
// the reordered weights rather than making Parameters of its own.
absl::StatusOr<DirectionResult> Unrolled(NodeTranslation& n,
                                         const CellKind& kind,
                                         const std::string& x,
                                         const std::string& lens,
                                         const Sizes& z, const Direction& d) {
  RecurrentLayerOptions o;
  o.cell = kind.cell;
  o.prefix = n.UniqueScope(d.reverse ? "reverse" : "forward");
  o.steps = z.steps;
  o.input_size = z.input;
  o.hidden_size = z.hidden;
  o.dtype = n.dtype(0);
  o.reverse = d.reverse;
  o.sequence_lengths = lens;
  o.weights = {d.w, d.r, d.bih, d.bhh};
  const bool lstm = kind.gates == 4;
  if (!d.h0.empty() || (lstm && !d.c0.empty())) {
    // Given states; one of an LSTM's two may be missing: zeros like the
    // other, whose batch may be symbolic.
    std::string h0 = d.h0, c0 = d.c0;
    if (h0.empty()) {
      ASSIGN_OR_RETURN(h0, n.Emit("ZerosLike", {c0}));
    }
    if (lstm && c0.empty()) {
      ASSIGN_OR_RETURN(c0, n.Emit("ZerosLike", {h0}));
    }
    o.initial_state = InitialState::kGiven;
    o.initial_states = {h0};
    if (lstm) o.initial_states.push_back(c0);
  }
  Graph nodes;
  absl::StatusOr<RecurrentLayer> layer = AddRecurrentLayer(x, o, &nodes);
  if (!layer.ok()) return n.Error(std::string(layer.status().message()));
  RETURN_IF_ERROR(n.EmitNodes(nodes));
  return DirectionResult{layer->output, layer->final_h, layer->final_c};
}

// sequence_lens as the rill tensor of the lengths, or "" when every
// sequence has all `z.steps` steps (the fused layer's case).
absl::StatusOr<std::string> SequenceLens(NodeTranslation& n, const Sizes& z) {
  const int64_t steps = z.steps;
  if (!n.has_input(4)) return std::string();
  const Shape& s = n.shape(4);
  if (s.rank() != 1 ||
      (n.dtype(4) != DType::kI32 && n.dtype(4) != DType::kI64)) {
    return n.Error(
        absl::StrCat("sequence_lens must be an integer vector "
                     "[batch_size], got ",
                     DTypeName(n.dtype(4)), s.ToString()));
  }
  if (s.dim(0) >= 0 && z.batch >= 0 && s.dim(0) != z.batch) {
    return n.Error(absl::StrCat("sequence_lens has ", s.dim(0),
                                " entries for a batch of ", z.batch));
  }
  if (steps < 0) {
    return n.Unsupported(
        "sequence_lens with a symbolic sequence length (X's steps): rill "
        "masks shorter sequences in a layer unrolled over a fixed number of "
        "steps");
  }
  if (n.value(4).constant.has_value()) {
    ASSIGN_OR_RETURN(std::vector<int64_t> lens,
                     n.ConstantInts(4, "sequence_lens"));
    bool whole = true;
    for (size_t b = 0; b < lens.size(); ++b) {
      if (lens[b] < 0 || lens[b] > steps) {
        return n.Error(absl::StrCat("sequence_lens[", b, "] = ", lens[b],
                                    " is outside [0, ", steps, "]"));
      }
      whole = whole && lens[b] == steps;
    }
    if (whole) return std::string();
  }
  return n.in(4);
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
  const Sizes sizes{xs.dim(0), xs.dim(1), ws.dim(2), hidden};
  ASSIGN_OR_RETURN(std::string lens, SequenceLens(n, sizes));
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
  const int64_t gh = kind.gates * hidden;
  std::vector<std::string> ys, hs, cs;
  for (size_t k = 0; k < reverse.size(); ++k) {
    Direction d;
    d.reverse = reverse[k];
    ASSIGN_OR_RETURN(std::string di, IndexConst(n, {(int64_t)k}, true));
    auto pick = [&](const std::string& v) { return n.Emit("Gather", {v, di}); };
    ASSIGN_OR_RETURN(d.w, pick(w));
    ASSIGN_OR_RETURN(d.w, Reorder(n, kind, hidden, d.w));
    ASSIGN_OR_RETURN(d.r, pick(r));
    ASSIGN_OR_RETURN(d.r, Reorder(n, kind, hidden, d.r));
    if (n.has_input(3)) {
      ASSIGN_OR_RETURN(std::string b, n.in(3));
      ASSIGN_OR_RETURN(std::string bd, pick(b));
      ASSIGN_OR_RETURN(std::string parts,
                       n.Emit("Split", {bd}, {{"num_splits", IntAttr(2)}}));
      ASSIGN_OR_RETURN(d.bih,
                       Reorder(n, kind, hidden, absl::StrCat(parts, ":0")));
      ASSIGN_OR_RETURN(d.bhh,
                       Reorder(n, kind, hidden, absl::StrCat(parts, ":1")));
    } else {
      ASSIGN_OR_RETURN(d.bih, Zeros(n, t, Shape({gh})));
      d.bhh = d.bih;
    }
    // initial_h or initial_c (input i) of this direction, if given.
    auto initial = [&](int i) -> absl::StatusOr<std::string> {
      if (!n.has_input(i)) return std::string();
      ASSIGN_OR_RETURN(std::string s, n.in(i));
      if (batchwise) {
        ASSIGN_OR_RETURN(
            s, n.Emit("Transpose", {s}, {{"perm", IntListAttr({1, 0, 2})}}));
      }
      return pick(s);
    };
    ASSIGN_OR_RETURN(d.h0, initial(5));
    if (kind.gates == 4) {
      ASSIGN_OR_RETURN(d.c0, initial(6));
    }
    ASSIGN_OR_RETURN(DirectionResult out,
                     lens.empty() ? Fused(n, kind, x, sizes, d)
                                  : Unrolled(n, kind, x, lens, sizes, d));
    ASSIGN_OR_RETURN(std::string y,
                     n.Emit("ExpandDims", {out.y}, {{"axis", IntAttr(1)}}));
    ASSIGN_OR_RETURN(std::string hn,
                     n.Emit("ExpandDims", {out.h}, {{"axis", IntAttr(0)}}));
    ys.push_back(y);
    hs.push_back(hn);
    if (kind.gates == 4) {
      ASSIGN_OR_RETURN(std::string cn,
                       n.Emit("ExpandDims", {out.c}, {{"axis", IntAttr(0)}}));
      cs.push_back(cn);
    }
  }
  auto join = [&](const std::vector<std::string>& v,
                  int axis) -> absl::StatusOr<std::string> {
    if (v.size() == 1) return v[0];
    return n.Emit("Concat", v, {{"axis", IntAttr(axis)}});
  };
  ASSIGN_OR_RETURN(std::string y, join(ys, 1));   // [T, dirs, B, H]
  ASSIGN_OR_RETURN(std::string hn, join(hs, 0));  // [dirs, B, H]
  if (batchwise) {
    ASSIGN_OR_RETURN(
        y, n.Emit("Transpose", {y}, {{"perm", IntListAttr({2, 0, 1, 3})}}));
    ASSIGN_OR_RETURN(
        hn, n.Emit("Transpose", {hn}, {{"perm", IntListAttr({1, 0, 2})}}));
  }
  RETURN_IF_ERROR(n.SetOutput(0, y));
  RETURN_IF_ERROR(n.SetOutput(1, hn));
  if (kind.gates == 4) {
    ASSIGN_OR_RETURN(std::string cn, join(cs, 0));
    if (batchwise) {
      ASSIGN_OR_RETURN(
          cn, n.Emit("Transpose", {cn}, {{"perm", IntListAttr({1, 0, 2})}}));
    }
    RETURN_IF_ERROR(n.SetOutput(2, cn));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TranslateRecurrent(NodeTranslation& n) { return Recurrent(n); }

}  // namespace rill
