#include "onnx/import_context.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/tensor_proto.h"
#include "graph/validate.h"
#include "ops/registry.h"

namespace rill {

void ImportContext::Define(const std::string& onnx_name, OnnxValue value) {
  values_[onnx_name] = std::move(value);
}

const OnnxValue* ImportContext::Find(const std::string& onnx_name) const {
  auto it = values_.find(onnx_name);
  return it == values_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::string> ImportContext::Ref(const std::string& onnx_name) {
  auto it = values_.find(onnx_name);
  if (it == values_.end()) {
    return absl::NotFoundError(absl::StrCat("no value '", onnx_name, "'"));
  }
  OnnxValue& v = it->second;
  if (v.symbolic.has_value()) {
    return absl::UnimplementedError(absl::StrCat(
        "'", onnx_name,
        "' is shape arithmetic on symbolic dimensions, which rill evaluates "
        "at import in Gather, Unsqueeze, Squeeze, Concat, Mul, Div, Cast "
        "and Identity and uses as the shape of Reshape, Expand and "
        "ConstantOfShape only"));
  }
  if (v.ref.empty()) {
    ASSIGN_OR_RETURN(v.ref, EmitConst(onnx_name, *v.constant, v.parameter));
  }
  return v.ref;
}

namespace {

// `base` with the characters a node name may not hold replaced by '_'.
std::string NodeName(const std::string& base) {
  std::string name;
  for (char c : base) {
    name +=
        absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-' || c == '/'
            ? c
            : '_';
  }
  if (name.empty() || !(absl::ascii_isalpha(name[0]) || name[0] == '_')) {
    name = "_" + name;
  }
  return name;
}

}  // namespace

bool ImportContext::Taken(const std::string& name, bool as_scope) const {
  if (names_.count(name)) return true;
  if (!as_scope) return false;
  const std::string scope = name + "/";
  auto it = names_.lower_bound(scope);
  return it != names_.end() && absl::StartsWith(*it, scope);
}

std::string ImportContext::Unique(const std::string& base, bool as_scope) {
  const std::string name = NodeName(base);
  std::string unique = name;
  for (int k = 1; Taken(unique, as_scope); ++k) {
    unique = absl::StrCat(name, "_", k);
  }
  names_.insert(unique);
  return unique;
}

absl::Status ImportContext::EmitNodes(const Graph& nodes) {
  for (const Node& node : nodes.node()) {
    if (Taken(node.name(), false)) {
      return absl::InternalError(
          absl::StrCat("rill node name '", node.name(), "' is taken"));
    }
    names_.insert(node.name());
    std::map<std::string, AttrValue> attrs(node.attr().begin(),
                                           node.attr().end());
    std::vector<std::string> inputs(node.input().begin(), node.input().end());
    RETURN_IF_ERROR(EmitNode(node.name(), node.op(), inputs, attrs).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ImportContext::Emit(
    const std::string& base, const std::string& op,
    const std::vector<std::string>& inputs,
    const std::map<std::string, AttrValue>& attrs) {
  return EmitNode(UniqueName(base), op, inputs, attrs);
}

absl::StatusOr<std::string> ImportContext::EmitReserved(
    const std::string& name, const std::string& op,
    const std::vector<std::string>& inputs) {
  return EmitNode(name, op, inputs, {});
}

absl::StatusOr<std::string> ImportContext::EmitNode(
    const std::string& name, const std::string& op,
    const std::vector<std::string>& inputs,
    const std::map<std::string, AttrValue>& attrs) {
  Node node;
  node.set_name(name);
  node.set_op(op);
  for (const auto& in : inputs) node.add_input(in);
  for (const auto& [k, v] : attrs) (*node.mutable_attr())[k] = v;
  const OpDef* def = GlobalOpRegistry().Find(op);
  if (def == nullptr) return absl::InternalError("no rill op " + op);
  std::vector<DType> in_dtypes;
  std::vector<Shape> in_shapes;
  for (const auto& in : inputs) {
    in_dtypes.push_back(dtype(in));
    in_shapes.push_back(shape(in));
  }
  Info info;
  absl::Status s = CheckNodeAttrs(node, *def);
  if (s.ok()) {
    s = InferNode(*def, node, in_dtypes, in_shapes, memory_budget_,
                  &info.dtypes, &info.shapes);
  }
  if (!s.ok()) {
    return Annotate(s,
                    absl::StrCat("rill node '", node.name(), "' (", op, ")"));
  }
  info_[node.name()] = std::move(info);
  *graph_.add_node() = std::move(node);
  return graph_.node(graph_.node_size() - 1).name();
}

absl::StatusOr<std::string> ImportContext::EmitConst(const std::string& base,
                                                     const Tensor& value,
                                                     bool parameter) {
  AttrValue v;
  *v.mutable_tensor() = TensorToProto(value);
  return Emit(base, parameter ? "Parameter" : "Const", {}, {{"value", v}});
}

const ImportContext::Info& ImportContext::InfoOf(const std::string& ref,
                                                 int* k) const {
  std::string name;
  ParseInputRef(ref, &name, k).IgnoreError();
  return info_.at(name);
}

DType ImportContext::dtype(const std::string& ref) const {
  int k = 0;
  return InfoOf(ref, &k).dtypes.at(k);
}

const Shape& ImportContext::shape(const std::string& ref) const {
  int k = 0;
  return InfoOf(ref, &k).shapes.at(k);
}

bool NodeTranslation::has_input(int i) const {
  return i < node_.input_size() && !node_.input(i).empty();
}

const OnnxValue& NodeTranslation::value(int i) const {
  // The driver checked that every given input is defined.
  return *ctx_->Find(node_.input(i));
}

absl::StatusOr<std::string> NodeTranslation::in(int i) {
  if (!has_input(i)) return Error(absl::StrCat("input ", i, " is required"));
  absl::StatusOr<std::string> r = ctx_->Ref(node_.input(i));
  if (!r.ok()) return Annotate(r.status(), Describe());
  return r;
}

absl::StatusOr<Tensor> NodeTranslation::Constant(int i,
                                                 const char* what) const {
  if (!has_input(i)) {
    return Error(absl::StrCat("input ", i, " (", what, ") is required"));
  }
  const OnnxValue& v = value(i);
  if (!v.constant.has_value()) {
    return Unsupported(absl::StrCat("input ", i, " (", what, ", '",
                                    node_.input(i),
                                    "') must be known at import (a constant "
                                    "or foldable from one)"));
  }
  return *v.constant;
}

absl::StatusOr<std::vector<int64_t>> NodeTranslation::ConstantInts(
    int i, const char* what) const {
  ASSIGN_OR_RETURN(Tensor t, Constant(i, what));
  if (t.dtype() != DType::kI64 && t.dtype() != DType::kI32) {
    return Error(absl::StrCat("input ", i, " (", what, ") must be integer"));
  }
  std::vector<int64_t> out;
  for (int64_t k = 0; k < t.num_elements(); ++k) {
    out.push_back(t.dtype() == DType::kI64 ? t.data<int64_t>()[k]
                                           : t.data<int32_t>()[k]);
  }
  return out;
}

const ::onnx::AttributeProto* NodeTranslation::Attr(
    const std::string& name) const {
  for (const auto& a : node_.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

bool NodeTranslation::has_attr(const std::string& name) const {
  return Attr(name) != nullptr;
}

int64_t NodeTranslation::AttrInt(const std::string& name, int64_t def) const {
  const auto* a = Attr(name);
  return a ? a->i() : def;
}

float NodeTranslation::AttrFloat(const std::string& name, float def) const {
  const auto* a = Attr(name);
  return a ? a->f() : def;
}

std::string NodeTranslation::AttrString(const std::string& name,
                                        const std::string& def) const {
  const auto* a = Attr(name);
  return a ? a->s() : def;
}

std::vector<int64_t> NodeTranslation::AttrInts(const std::string& name) const {
  const auto* a = Attr(name);
  if (a == nullptr) return {};
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

std::string NodeTranslation::BaseName() const {
  return node_.name().empty() ? node_.output(0) : node_.name();
}

absl::StatusOr<std::string> NodeTranslation::Emit(
    const std::string& op, const std::vector<std::string>& inputs,
    const std::map<std::string, AttrValue>& attrs) {
  absl::StatusOr<std::string> r = ctx_->Emit(BaseName(), op, inputs, attrs);
  if (!r.ok()) return Annotate(r.status(), Describe());
  return r;
}

absl::StatusOr<std::string> NodeTranslation::EmitConst(const Tensor& value) {
  return ctx_->EmitConst(BaseName() + "/const", value);
}

std::string NodeTranslation::UniqueScope(const std::string& suffix) {
  return ctx_->UniqueScope(absl::StrCat(BaseName(), "/", suffix));
}

absl::Status NodeTranslation::EmitNodes(const Graph& nodes) {
  absl::Status s = ctx_->EmitNodes(nodes);
  return s.ok() ? s : Annotate(s, Describe());
}

bool NodeTranslation::has_output(int k) const {
  return k < node_.output_size() && !node_.output(k).empty();
}

absl::Status NodeTranslation::SetOutput(int k, const std::string& ref) {
  if (!has_output(k)) return absl::OkStatus();
  OnnxValue v;
  v.ref = ref;
  v.dtype = ctx_->dtype(ref);
  v.shape = ctx_->shape(ref);
  ctx_->Define(node_.output(k), std::move(v));
  return absl::OkStatus();
}

absl::Status NodeTranslation::SetOutputConstant(int k, Tensor value) {
  if (!has_output(k)) return absl::OkStatus();
  OnnxValue v;
  v.dtype = value.dtype();
  v.shape = value.shape();
  v.constant = std::move(value);
  ctx_->Define(node_.output(k), std::move(v));
  return absl::OkStatus();
}

absl::Status NodeTranslation::SetOutputSymbolic(int k, SymbolicShape value,
                                                bool scalar) {
  if (!has_output(k)) return absl::OkStatus();
  bool known = true;
  for (const SymbolicDim& d : value) known = known && d.known();
  const int64_t n = static_cast<int64_t>(value.size());
  if (known) {
    ASSIGN_OR_RETURN(
        Tensor t,
        Tensor::Allocate(DType::kI64, scalar ? Shape({}) : Shape({n})));
    for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = value[i].factor;
    return SetOutputConstant(k, std::move(t));
  }
  OnnxValue v;
  v.dtype = DType::kI64;
  v.shape = scalar ? Shape({}) : Shape({n});
  v.symbolic = std::move(value);
  ctx_->Define(node_.output(k), std::move(v));
  return absl::OkStatus();
}

std::string NodeTranslation::Describe() const {
  return absl::StrCat("node '", node_.name(), "' (", node_.op_type(), ")");
}

absl::Status NodeTranslation::Error(const std::string& message) const {
  return absl::InvalidArgumentError(absl::StrCat(Describe(), ": ", message));
}

absl::Status NodeTranslation::Unsupported(const std::string& message) const {
  return absl::UnimplementedError(absl::StrCat(Describe(), ": ", message));
}

absl::StatusOr<int64_t> NodeTranslation::Axis(int64_t axis,
                                              int64_t rank) const {
  if (axis < -rank || axis >= rank) {
    return Error(
        absl::StrCat("axis ", axis, " is out of range for rank ", rank));
  }
  return axis < 0 ? axis + rank : axis;
}

}  // namespace rill
