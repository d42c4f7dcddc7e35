#include "graph/recurrent_step.h"

#include "ops/op_def.h"

namespace rill {
namespace {

using Ops = std::vector<StepOp>;

StepOp Op(std::string name, std::string op, std::vector<std::string> inputs) {
  return {std::move(name), std::move(op), std::move(inputs), {}};
}

// a . b^T + bias: a MatMul and a bias Add, the last named `name`.
void Affine(Ops& ops, const std::string& name, const std::string& a,
            const std::string& b, const std::string& bias) {
  ops.push_back(
      {name + "_mm", "MatMul", {a, b}, {{"transpose_b", BoolAttr(true)}}});
  ops.push_back(Op(name, "Add", {name + "_mm", bias}));
}

// x [B, n*H] split along its features into n gate blocks.
void SplitGates(Ops& ops, const std::string& name, const std::string& x,
                int64_t n) {
  ops.push_back(
      {name, "Split", {x}, {{"num_splits", IntAttr(n)}, {"axis", IntAttr(1)}}});
}

// from + z (to - from), that is (1 - z) from + z to, the last op named "h".
void BlendIntoH(Ops& ops, const std::string& z, const std::string& from,
                const std::string& to) {
  ops.push_back(Op("h_delta", "Sub", {to, from}));
  ops.push_back(Op("h_step", "Mul", {z, "h_delta"}));
  ops.push_back(Op("h", "Add", {from, "h_step"}));
}

// h = act(xp + h W_hh^T + b_hh).
Ops RnnStep(bool relu) {
  Ops ops;
  Affine(ops, "h_proj", "$h", "$w_hh", "$b_hh");
  ops.push_back(Op("pre", "Add", {"$xp", "h_proj"}));
  ops.push_back(Op("h", relu ? "Relu" : "Tanh", {"pre"}));
  return ops;
}

// Gates i, f, g, o; c = f c + i g; h = o tanh(c).
Ops LstmStep() {
  Ops ops;
  Affine(ops, "h_proj", "$h", "$w_hh", "$b_hh");
  ops.push_back(Op("gates", "Add", {"$xp", "h_proj"}));
  SplitGates(ops, "gates_split", "gates", 4);
  ops.push_back(Op("i", "Sigmoid", {"gates_split:0"}));
  ops.push_back(Op("f", "Sigmoid", {"gates_split:1"}));
  ops.push_back(Op("g", "Tanh", {"gates_split:2"}));
  ops.push_back(Op("o", "Sigmoid", {"gates_split:3"}));
  ops.push_back(Op("f_c", "Mul", {"f", "$c"}));
  ops.push_back(Op("i_g", "Mul", {"i", "g"}));
  ops.push_back(Op("c", "Add", {"f_c", "i_g"}));
  ops.push_back(Op("c_tanh", "Tanh", {"c"}));
  ops.push_back(Op("h", "Mul", {"o", "c_tanh"}));
  return ops;
}

// The two GRUs share the gates r and z; they differ in where r meets the
// recurrent weights of n, and in which way z blends:
//   PyTorch's: n = tanh(x_n + r (h W_hn^T + b_hn)); h' = (1 - z) n + z h;
//   the seed:  n = tanh(x_n + (r h) W_hn^T + b_hn); h' = (1 - z) h + z n.
Ops GruStep(bool pytorch) {
  Ops ops;
  const std::string h_proj = pytorch ? "h_proj" : "h_proj_rz";
  if (pytorch) {
    Affine(ops, h_proj, "$h", "$w_hh", "$b_hh");
  } else {
    Affine(ops, h_proj, "$h", "$w_hrz", "$b_hrz");
  }
  SplitGates(ops, "x_split", "$xp", 3);
  SplitGates(ops, "h_split", h_proj, pytorch ? 3 : 2);
  ops.push_back(Op("r_pre", "Add", {"x_split:0", "h_split:0"}));
  ops.push_back(Op("r", "Sigmoid", {"r_pre"}));
  ops.push_back(Op("z_pre", "Add", {"x_split:1", "h_split:1"}));
  ops.push_back(Op("z", "Sigmoid", {"z_pre"}));
  if (pytorch) {
    ops.push_back(Op("r_hn", "Mul", {"r", "h_split:2"}));
    ops.push_back(Op("n_pre", "Add", {"x_split:2", "r_hn"}));
  } else {
    ops.push_back(Op("r_h", "Mul", {"r", "$h"}));
    Affine(ops, "h_proj_n", "r_h", "$w_hn", "$b_hn");
    ops.push_back(Op("n_pre", "Add", {"x_split:2", "h_proj_n"}));
  }
  ops.push_back(Op("n", "Tanh", {"n_pre"}));
  if (pytorch) {
    BlendIntoH(ops, "z", "n", "$h");
  } else {
    BlendIntoH(ops, "z", "$h", "n");
  }
  return ops;
}

}  // namespace

const std::vector<StepOp>& RecurrentStepOps(RecurrentCell cell) {
  static const Ops* const kTanh = new Ops(RnnStep(false));
  static const Ops* const kRelu = new Ops(RnnStep(true));
  static const Ops* const kLstm = new Ops(LstmStep());
  static const Ops* const kGru = new Ops(GruStep(false));
  static const Ops* const kGruPyTorch = new Ops(GruStep(true));
  switch (cell) {
    case RecurrentCell::kRnnTanh:
      return *kTanh;
    case RecurrentCell::kRnnRelu:
      return *kRelu;
    case RecurrentCell::kLstm:
      return *kLstm;
    case RecurrentCell::kGru:
      return *kGru;
    case RecurrentCell::kGruPyTorch:
      break;
  }
  return *kGruPyTorch;
}

}  // namespace rill
