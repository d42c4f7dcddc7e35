#ifndef RILL_OPS_OP_DEF_H_
#define RILL_OPS_OP_DEF_H_

// The declaration of an op, in one place: its schema (inputs, outputs, typed
// attributes with defaults, dtype constraints), its shape function, its
// gradient state, and its two kernels.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/onednn_context.h"
#include "core/shape.h"
#include "core/status.h"
#include "core/tensor.h"
#include "proto/graph.pb.h"

namespace rill {

enum class AttrType {
  kInt,
  kFloat,
  kString,
  kBool,
  kIntList,
  kFloatList,
  kStringList,
  kBoolList,
  kShape,
  kDType,
  kTensor,
};
const char* AttrTypeName(AttrType t);
// Whether `value` holds a value of type `t`. An empty list fits every list
// type.
bool AttrValueHasType(const AttrValue& value, AttrType t);

struct AttrDef {
  std::string name;
  AttrType type;
  std::optional<AttrValue> default_value;  // Unset: the attribute is required.
};

// An input or output. Inputs sharing a `type_var` must have the same dtype;
// that dtype must be in the var's allowed set.
struct ArgDef {
  std::string name;
  std::string type_var;
  // Only the input's dtype and shape are read, never its values: the
  // executor need not keep its buffer alive for this consumer (the *Like
  // ops that gradients use on forward activations).
  bool shape_only = false;
};

// A node's attributes with the op's defaults filled in. The validator has
// checked presence and types, so the getters cannot fail.
class Attrs {
 public:
  Attrs(const Node& node, const std::vector<AttrDef>& defs);
  int64_t GetInt(const std::string& name) const;
  // Double, whatever the graph's dtype: f32 kernels narrow it themselves.
  double GetFloat(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  const std::string& GetString(const std::string& name) const;
  const ShapeProto& GetShape(const std::string& name) const;
  DataType GetDType(const std::string& name) const;
  const TensorProto& GetTensor(const std::string& name) const;
  std::vector<int64_t> GetIntList(const std::string& name) const;
  const AttrValue& Get(const std::string& name) const;
  // Every value (defaults included) as bytes, in declaration order: equal
  // for nodes of one op whose attributes are equal.
  std::string Fingerprint() const;

 private:
  // In declaration order; ops have a handful, so a scan beats a map (this
  // is built for every node the validator or executor looks at).
  std::vector<std::pair<const std::string*, const AttrValue*>> values_;
};

// What a shape function sees: input dtypes and shapes (possibly with
// symbolic dims), the attributes; it sets every output's dtype and shape.
class InferenceContext {
 public:
  // Refers to the inputs, which must outlive it.
  InferenceContext(const Attrs& attrs, const std::vector<DType>& input_dtypes,
                   const std::vector<Shape>& input_shapes,
                   int64_t memory_budget)
      : attrs_(attrs),
        input_dtypes_(input_dtypes),
        input_shapes_(input_shapes),
        memory_budget_(memory_budget) {}

  const Attrs& attrs() const { return attrs_; }
  int num_inputs() const { return static_cast<int>(input_shapes_.size()); }
  DType input_dtype(int i) const { return input_dtypes_[i]; }
  const Shape& input_shape(int i) const { return input_shapes_[i]; }
  int64_t memory_budget() const { return memory_budget_; }

  void SetOutput(int i, DType dtype, Shape shape);
  const std::vector<DType>& output_dtypes() const { return output_dtypes_; }
  const std::vector<Shape>& output_shapes() const { return output_shapes_; }
  std::vector<DType> TakeOutputDTypes() { return std::move(output_dtypes_); }
  std::vector<Shape> TakeOutputShapes() { return std::move(output_shapes_); }

 private:
  const Attrs& attrs_;
  const std::vector<DType>& input_dtypes_;
  const std::vector<Shape>& input_shapes_;
  int64_t memory_budget_;
  std::vector<DType> output_dtypes_;
  std::vector<Shape> output_shapes_;
};
using ShapeFn = std::function<absl::Status(InferenceContext&)>;

// A kernel is created once per compiled signature, with its input and output
// buffers already bound (they never move between runs), so Compute() only
// computes.
class OpKernel {
 public:
  virtual ~OpKernel() = default;
  [[nodiscard]] virtual absl::Status Compute() = 0;
};

class KernelLinks;  // ops/kernel_links.h

struct KernelArgs {
  const Node& node;
  const Attrs& attrs;
  std::vector<Tensor> inputs;  // Concrete shapes, bound buffers.
  std::vector<Tensor> outputs;
  OneDnnContext* onednn = nullptr;  // Set for the oneDNN backend only.
  // For ops that draw random numbers: how many draws the node has made in
  // its executor. The executor owns it, across all its plans, so that a
  // checkpoint can save it and a resumed run continues the same stream;
  // null gives the kernel a count of its own, starting at 0.
  int64_t* random_draws = nullptr;
  // Training mode (ExecutorOptions::training), read by kernels as they run
  // so that the executor can switch it without recompiling; null: training.
  const bool* training = nullptr;
  // How f32 matrix products run (ExecutorOptions::precision).
  Precision precision = Precision::kF32;
  // The plan's links between kernels (ops/kernel_links.h); null: none.
  KernelLinks* links = nullptr;
};
// Returns a kernel, or nullptr when this backend does not handle the case
// (e.g. f64 on oneDNN); the executor then uses the reference kernel.
using KernelFactory =
    std::function<absl::StatusOr<std::unique_ptr<OpKernel>>(const KernelArgs&)>;

// How an op takes part in autodiff (DESIGN.md, decision 3).
enum class GradientState { kMissing, kDifferentiable, kNotDifferentiable };
class GradContext;  // Defined by the autodiff pass.
using GradientFn = std::function<absl::Status(GradContext&)>;

// Source ops (Input, Const, Parameter) have no kernel: the executor binds
// their outputs to feeds and stored values.
class OpDef {
 public:
  explicit OpDef(std::string name) : name_(std::move(name)) {}

  OpDef& Doc(std::string doc);
  OpDef& TypeVar(std::string var, DTypeSet allowed);
  OpDef& Input(std::string name, std::string type_var);
  // The last input may repeat: a node passes at least `min_count` of it.
  OpDef& VariadicInput(std::string name, std::string type_var, int min_count);
  OpDef& Output(std::string name);
  // The last output repeats as many times as the int attr `count_attr` says.
  OpDef& VariadicOutput(std::string name, std::string count_attr);
  OpDef& Attr(std::string name, AttrType type);  // Required.
  OpDef& Attr(std::string name, AttrType type, AttrValue default_value);
  OpDef& Shape(ShapeFn fn);
  OpDef& Source();
  OpDef& Gradient(GradientFn fn);
  OpDef& NoGradient();
  OpDef& Reference(KernelFactory f);
  OpDef& OneDnn(KernelFactory f);
  // oneDNN has no primitive for this op: both backends run the reference
  // kernel (a plain loop), and the completeness test accepts that.
  OpDef& NoOneDnnPrimitive();
  // Marks the declared input `name` as read for its shape only.
  OpDef& ShapeOnly(const std::string& name);
  // The kernel draws random numbers from a per-node stream whose position
  // (KernelArgs::random_draws) is state that checkpoints must keep.
  OpDef& DrawsRandomNumbers();
  // Its oneDNN kernel follows KernelArgs::precision: with bf16, its f32
  // matrix products run on bf16 operands (PlanStats::bf16_kernels).
  OpDef& FollowsPrecision();
  // Output 0 is input 0's bytes unchanged, in another shape (a copy when
  // run alone), whenever the two have the same byte size: the executor
  // then lets it share input 0's buffer and runs no kernel for it.
  OpDef& OutputViewsInput();

  const std::string& name() const { return name_; }
  const std::string& doc() const { return doc_; }
  const std::vector<ArgDef>& inputs() const { return inputs_; }
  const std::vector<ArgDef>& outputs() const { return outputs_; }
  bool variadic_input() const { return variadic_min_ >= 0; }
  // Whether a node may pass `count` inputs; "2", "at least 1" otherwise.
  bool AcceptsInputCount(int count) const;
  std::string InputCountText() const;
  // The declared input that node input `i` binds to.
  const ArgDef& InputArg(int i) const;
  // Outputs of a node whose attrs have been checked; an error when the
  // count attr is below 1 or above kMaxVariadicOutputs.
  absl::StatusOr<int> NumOutputs(const Node& node) const;
  static constexpr int kMaxVariadicOutputs = 1 << 16;
  const std::vector<AttrDef>& attrs() const { return attrs_; }
  const AttrDef* FindAttr(const std::string& name) const;
  DTypeSet AllowedTypes(const std::string& type_var) const;
  const ShapeFn& shape_fn() const { return shape_fn_; }
  bool is_source() const { return is_source_; }
  GradientState gradient_state() const { return gradient_state_; }
  const GradientFn& gradient_fn() const { return gradient_fn_; }
  const KernelFactory& reference() const { return reference_; }
  const KernelFactory& onednn() const { return onednn_; }
  bool no_onednn_primitive() const { return no_onednn_primitive_; }
  bool draws_random_numbers() const { return draws_random_numbers_; }
  bool follows_precision() const { return follows_precision_; }
  bool output_views_input() const { return output_views_input_; }

 private:
  std::string name_;
  std::string doc_;
  std::map<std::string, DTypeSet> type_vars_;
  std::vector<ArgDef> inputs_;
  std::vector<ArgDef> outputs_;
  int variadic_min_ = -1;          // -1: fixed arity.
  std::string output_count_attr_;  // Empty: fixed output count.
  std::vector<AttrDef> attrs_;
  ShapeFn shape_fn_;
  bool is_source_ = false;
  GradientState gradient_state_ = GradientState::kMissing;
  GradientFn gradient_fn_;
  KernelFactory reference_;
  KernelFactory onednn_;
  bool no_onednn_primitive_ = false;
  bool draws_random_numbers_ = false;
  bool follows_precision_ = false;
  bool output_views_input_ = false;
};

// AttrValue constructors, for defaults and for building graphs in code.
AttrValue IntAttr(int64_t v);
AttrValue FloatAttr(double v);
AttrValue BoolAttr(bool v);
AttrValue StringAttr(std::string v);
AttrValue IntListAttr(std::vector<int64_t> v);
AttrValue StringListAttr(std::vector<std::string> v);
AttrValue TypeAttr(DataType t);

// A node's input reference in one spelling: "node" and "node:0" are one
// tensor (node names never hold ':'), so "node" becomes "node:0".
std::string CanonicalTensorRef(const std::string& ref);

// An op with one input "x" of any dtype and one output "y".
OpDef AnyTypeUnaryOp(const std::string& name, std::string doc, ShapeFn shape,
                     KernelFactory reference);

}  // namespace rill

#endif  // RILL_OPS_OP_DEF_H_
