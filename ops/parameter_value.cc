#include "ops/parameter_value.h"

#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/tensor_proto.h"
#include "ops/registry.h"

namespace rill {
namespace {

using Kind = Distribution::Kind;

// Each initializer and the optional attrs it reads (beyond dtype, shape).
const std::map<std::string, std::vector<std::string>>& InitializerAttrs() {
  static const auto* table =
      new std::map<std::string, std::vector<std::string>>{
          {"zeros", {}},
          {"ones", {}},
          {"constant", {"fill"}},
          {"normal", {"mean", "std", "seed"}},
          {"truncated_normal", {"mean", "std", "a", "b", "seed"}},
          {"uniform", {"a", "b", "seed"}},
          {"xavier_uniform", {"gain", "seed"}},
          {"xavier_normal", {"gain", "seed"}},
          {"kaiming_uniform",
           {"mode", "nonlinearity", "negative_slope", "seed"}},
          {"kaiming_normal",
           {"mode", "nonlinearity", "negative_slope", "seed"}},
      };
  return *table;
}

// The optional attrs, declared unset so that presence can be told.
const std::vector<std::pair<std::string, AttrType>>& OptionalAttrs() {
  static const auto* attrs = new std::vector<std::pair<std::string, AttrType>>{
      {"dtype", AttrType::kDType},
      {"shape", AttrType::kShape},
      {"seed", AttrType::kInt},
      {"fill", AttrType::kFloat},
      {"mean", AttrType::kFloat},
      {"std", AttrType::kFloat},
      {"a", AttrType::kFloat},
      {"b", AttrType::kFloat},
      {"gain", AttrType::kFloat},
      {"mode", AttrType::kString},
      {"nonlinearity", AttrType::kString},
      {"negative_slope", AttrType::kFloat},
  };
  return *attrs;
}

bool Has(const Attrs& attrs, const std::string& name) {
  return attrs.Get(name).value_case() != AttrValue::VALUE_NOT_SET;
}

double FloatOr(const Attrs& attrs, const std::string& name, double fallback) {
  return Has(attrs, name) ? attrs.GetFloat(name) : fallback;
}

absl::Status AttrError(const std::string& attr, const std::string& message) {
  return absl::InvalidArgumentError(
      absl::StrCat("attr '", attr, "': ", message));
}

// Only the attrs `kind` reads may be given; `value` never with `init`.
absl::Status CheckAttrsApply(const Attrs& attrs, const std::string& kind,
                             const std::vector<std::string>& reads) {
  if (Has(attrs, "value")) {
    return AttrError("value", "a Parameter has `value` or `init`, not both");
  }
  for (const auto& [name, type] : OptionalAttrs()) {
    if (name == "dtype" || name == "shape" || !Has(attrs, name)) continue;
    if (std::find(reads.begin(), reads.end(), name) != reads.end()) continue;
    return AttrError(
        name,
        absl::StrCat("does not apply to init '", kind, "' (it takes ",
                     reads.empty() ? "none" : absl::StrJoin(reads, ", "), ")"));
  }
  for (const char* required : {"dtype", "shape"}) {
    if (!Has(attrs, required)) {
      return AttrError(required, absl::StrCat("required with init '", kind,
                                              "' (there is no `value`)"));
    }
  }
  return absl::OkStatus();
}

// PyTorch's torch.nn.init._calculate_fan_in_and_fan_out: a weight [out,
// in, *receptive] has fan_in = in * receptive and fan_out = out * receptive.
absl::StatusOr<std::pair<double, double>> Fans(const Shape& shape) {
  if (shape.rank() < 2) {
    return AttrError("shape",
                     "fan in and fan out need at least 2 dimensions, as in "
                     "PyTorch (a weight [out, in, ...])");
  }
  double receptive = 1;
  for (int i = 2; i < shape.rank(); ++i) receptive *= shape.dim(i);
  return std::make_pair(shape.dim(1) * receptive, shape.dim(0) * receptive);
}

// PyTorch's torch.nn.init.calculate_gain(nonlinearity, negative_slope).
absl::StatusOr<double> Gain(const std::string& nonlinearity, double slope) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2 / (1 + slope * slope));
  if (nonlinearity == "selu") return 0.75;
  return AttrError("nonlinearity",
                   absl::StrCat("unknown nonlinearity '", nonlinearity,
                                "'; choose linear, sigmoid, tanh, relu, "
                                "leaky_relu or selu"));
}

// Xavier (Glorot and Bengio 2010) and Kaiming (He et al. 2015) as
// torch.nn.init defines them: std = gain * sqrt(2 / (fan_in + fan_out)),
// resp. gain / sqrt(fan); uniform bound = sqrt(3) * std.
absl::StatusOr<double> ScaledStd(const Attrs& attrs, const std::string& kind,
                                 const Shape& shape) {
  ASSIGN_OR_RETURN(auto fans, Fans(shape));
  if (kind.rfind("xavier", 0) == 0) {
    return FloatOr(attrs, "gain", 1) *
           std::sqrt(2 / (fans.first + fans.second));
  }
  const std::string mode =
      Has(attrs, "mode") ? attrs.GetString("mode") : "fan_in";
  if (mode != "fan_in" && mode != "fan_out") {
    return AttrError("mode", absl::StrCat("unknown mode '", mode,
                                          "'; choose fan_in or fan_out"));
  }
  ASSIGN_OR_RETURN(double gain, Gain(Has(attrs, "nonlinearity")
                                         ? attrs.GetString("nonlinearity")
                                         : "leaky_relu",
                                     FloatOr(attrs, "negative_slope", 0)));
  return gain / std::sqrt(mode == "fan_in" ? fans.first : fans.second);
}

absl::StatusOr<Distribution> ResolveDistribution(const Attrs& attrs,
                                                 const std::string& kind,
                                                 const Shape& shape) {
  Distribution d;
  d.seed = Has(attrs, "seed") ? static_cast<uint64_t>(attrs.GetInt("seed")) : 0;
  if (kind == "zeros" || kind == "ones" || kind == "constant") {
    if (kind == "constant" && !Has(attrs, "fill")) {
      return AttrError("fill", "required with init 'constant'");
    }
    d.value = kind == "ones" ? 1 : FloatOr(attrs, "fill", 0);
    return d;
  }
  if (kind == "uniform" || kind == "truncated_normal") {
    const bool uniform = kind == "uniform";
    d.low = FloatOr(attrs, "a", uniform ? 0 : -2);
    d.high = FloatOr(attrs, "b", uniform ? 1 : 2);
    if (!(d.low < d.high)) {
      return AttrError(
          "b", absl::StrCat("must be above a (", d.low, "), got ", d.high));
    }
  }
  if (kind == "uniform") {
    d.kind = Kind::kUniform;
    return d;
  }
  if (kind == "normal" || kind == "truncated_normal") {
    d.kind = kind == "normal" ? Kind::kNormal : Kind::kTruncatedNormal;
    d.mean = FloatOr(attrs, "mean", 0);
    d.std = FloatOr(attrs, "std", 1);
    if (!(d.std > 0) || !std::isfinite(d.std) || !std::isfinite(d.mean)) {
      return AttrError(d.std > 0 ? "mean" : "std",
                       absl::StrCat("must be finite (and std > 0), got mean ",
                                    d.mean, ", std ", d.std));
    }
    if (d.kind == Kind::kTruncatedNormal) {
      RETURN_IF_ERROR(Annotate(CheckTruncation(d), "attrs 'a' and 'b'"));
    }
    return d;
  }
  ASSIGN_OR_RETURN(double std, ScaledStd(attrs, kind, shape));
  const bool uniform = kind.find("uniform") != std::string::npos;
  d.kind = uniform ? Kind::kUniform : Kind::kNormal;
  d.std = std;
  d.low = -std::sqrt(3.0) * std;
  d.high = -d.low;
  return d;
}

}  // namespace

Initializer Initializer::Constant(double fill) {
  return {"constant", {{"fill", FloatAttr(fill)}}};
}
Initializer Initializer::Normal(double mean, double std, uint64_t seed) {
  return {"normal",
          {{"mean", FloatAttr(mean)},
           {"std", FloatAttr(std)},
           {"seed", IntAttr(static_cast<int64_t>(seed))}}};
}
Initializer Initializer::Uniform(double a, double b, uint64_t seed) {
  return {"uniform",
          {{"a", FloatAttr(a)},
           {"b", FloatAttr(b)},
           {"seed", IntAttr(static_cast<int64_t>(seed))}}};
}

void SetInitializer(const Initializer& init, DType dtype, const Shape& shape,
                    Node* node) {
  auto& attrs = *node->mutable_attr();
  attrs.erase("value");
  attrs["init"] = StringAttr(init.kind);
  attrs["dtype"] = TypeAttr(DTypeToProto(dtype));
  ShapeProto* dims = attrs["shape"].mutable_shape();
  dims->Clear();
  for (int64_t d : shape.dims()) dims->add_dim(d);
  for (const auto& [name, value] : init.attrs) attrs[name] = value;
}

void SetParameterValue(const Tensor& t, Node* node) {
  auto& attrs = *node->mutable_attr();
  attrs.erase("init");
  for (const auto& [name, type] : OptionalAttrs()) attrs.erase(name);
  *attrs["value"].mutable_tensor() = TensorToProto(t);
}

bool HasInitializer(const Node& node) {
  if (node.op() != "Parameter") return false;
  auto it = node.attr().find("init");
  return it != node.attr().end() && !it->second.s().empty();
}

absl::StatusOr<ParameterInit> ResolveInitializer(const Attrs& attrs) {
  const std::string& kind = attrs.GetString("init");
  auto it = InitializerAttrs().find(kind);
  if (it == InitializerAttrs().end()) {
    std::vector<std::string> kinds;
    for (const auto& [name, reads] : InitializerAttrs()) kinds.push_back(name);
    return AttrError("init",
                     absl::StrCat("unknown initializer '", kind, "'; choose ",
                                  absl::StrJoin(kinds, ", ")));
  }
  RETURN_IF_ERROR(CheckAttrsApply(attrs, kind, it->second));
  ParameterInit p;
  absl::StatusOr<DType> dtype = DTypeFromProto(attrs.GetDType("dtype"));
  if (!dtype.ok()) return Annotate(dtype.status(), "attr 'dtype'");
  p.dtype = *dtype;
  const bool constant = kind == "zeros" || kind == "ones" || kind == "constant";
  if (!constant && p.dtype != DType::kF32 && p.dtype != DType::kF64) {
    return AttrError("dtype", absl::StrCat("init '", kind,
                                           "' draws floats: f32 or f64, not ",
                                           DTypeName(p.dtype)));
  }
  p.shape = ShapeFromProto(attrs.GetShape("shape"));
  RETURN_IF_ERROR(
      Annotate(p.shape.Validate(/*allow_symbolic=*/false), "attr 'shape'"));
  ASSIGN_OR_RETURN(p.distribution, ResolveDistribution(attrs, kind, p.shape));
  return p;
}

absl::Status CheckValueAttrs(const Attrs& attrs) {
  for (const auto& [name, type] : OptionalAttrs()) {
    if (Has(attrs, name)) {
      return AttrError(name,
                       "belongs to an initializer, but attr 'init' is not set");
    }
  }
  if (!Has(attrs, "value")) {
    return AttrError("value",
                     "missing: a Parameter needs `value` (its tensor) or "
                     "`init` (an initializer)");
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<const OpDef*> SourceOp(const Node& node) {
  const OpDef* op = GlobalOpRegistry().Find(node.op());
  if (op == nullptr || !op->FindAttr("value")) {
    return absl::InvalidArgumentError(
        absl::StrCat("node '", node.name(), "' (", node.op(),
                     ") is not a Const or Parameter"));
  }
  return op;
}

}  // namespace

absl::Status SourceType(const Node& node, int64_t max_bytes, DType* dtype,
                        Shape* shape) {
  ASSIGN_OR_RETURN(const OpDef* op, SourceOp(node));
  Attrs attrs(node, op->attrs());
  if (!HasInitializer(node)) {
    if (node.op() == "Parameter") RETURN_IF_ERROR(CheckValueAttrs(attrs));
    return Annotate(
        CheckTensorProto(attrs.GetTensor("value"), max_bytes, dtype, shape),
        "attr 'value'");
  }
  ASSIGN_OR_RETURN(ParameterInit p, ResolveInitializer(attrs));
  ASSIGN_OR_RETURN(int64_t bytes, p.shape.ByteSize(p.dtype));
  if (bytes > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("attr 'shape': the initializer's ", bytes,
                     " bytes exceed the limit of ", max_bytes));
  }
  *dtype = p.dtype;
  *shape = std::move(p.shape);
  return absl::OkStatus();
}

absl::StatusOr<Tensor> SourceValue(const Node& node, int64_t memory_budget,
                                   int threads) {
  std::optional<Distribution> undrawn;
  ASSIGN_OR_RETURN(Tensor t, SourceBuffer(node, memory_budget, &undrawn));
  if (undrawn.has_value()) {
    RETURN_IF_ERROR(FillFromDistribution(*undrawn, threads, &t));
  }
  return t;
}

absl::StatusOr<Tensor> SourceBuffer(const Node& node, int64_t memory_budget,
                                    std::optional<Distribution>* undrawn) {
  undrawn->reset();
  ASSIGN_OR_RETURN(const OpDef* op, SourceOp(node));
  Attrs attrs(node, op->attrs());
  // The validator has checked the size against the budget.
  if (!HasInitializer(node)) {
    return TensorFromProto(attrs.GetTensor("value"), memory_budget);
  }
  ASSIGN_OR_RETURN(ParameterInit p, ResolveInitializer(attrs));
  ASSIGN_OR_RETURN(Tensor t, Tensor::AllocateUninitialized(p.dtype, p.shape));
  *undrawn = p.distribution;
  return t;
}

void AddInitializerAttrs(OpDef& op) {
  op.Attr("init", AttrType::kString, StringAttr(""));
  for (const auto& [name, type] : OptionalAttrs()) {
    op.Attr(name, type, AttrValue());
  }
}

}  // namespace rill
