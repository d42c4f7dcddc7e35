#include "ops/op_def.h"

#include "absl/strings/str_cat.h"

namespace rill {

const char* AttrTypeName(AttrType t) {
  switch (t) {
    case AttrType::kInt:
      return "int";
    case AttrType::kFloat:
      return "float";
    case AttrType::kString:
      return "string";
    case AttrType::kBool:
      return "bool";
    case AttrType::kIntList:
      return "list(int)";
    case AttrType::kFloatList:
      return "list(float)";
    case AttrType::kStringList:
      return "list(string)";
    case AttrType::kBoolList:
      return "list(bool)";
    case AttrType::kShape:
      return "shape";
    case AttrType::kDType:
      return "dtype";
    case AttrType::kTensor:
      return "tensor";
  }
  return "?";
}

bool AttrValueHasType(const AttrValue& v, AttrType t) {
  const AttrValue::ListValue& l = v.list();
  // Which list fields are populated; a list may fill only the one it is.
  int filled =
      (l.i_size() > 0) + (l.f_size() > 0) + (l.s_size() > 0) + (l.b_size() > 0);
  bool is_list = v.value_case() == AttrValue::kList;
  switch (t) {
    case AttrType::kInt:
      return v.value_case() == AttrValue::kI;
    case AttrType::kFloat:
      return v.value_case() == AttrValue::kF ||
             v.value_case() == AttrValue::kF32;
    case AttrType::kString:
      return v.value_case() == AttrValue::kS;
    case AttrType::kBool:
      return v.value_case() == AttrValue::kB;
    case AttrType::kIntList:
      return is_list && filled == (l.i_size() > 0);
    case AttrType::kFloatList:
      return is_list && filled == (l.f_size() > 0);
    case AttrType::kStringList:
      return is_list && filled == (l.s_size() > 0);
    case AttrType::kBoolList:
      return is_list && filled == (l.b_size() > 0);
    case AttrType::kShape:
      return v.value_case() == AttrValue::kShape;
    case AttrType::kDType:
      return v.value_case() == AttrValue::kType;
    case AttrType::kTensor:
      return v.value_case() == AttrValue::kTensor;
  }
  return false;
}

Attrs::Attrs(const Node& node, const std::vector<AttrDef>& defs) {
  for (const AttrDef& def : defs) {
    auto it = node.attr().find(def.name);
    if (it != node.attr().end()) {
      values_.push_back({&def.name, &it->second});
    } else if (def.default_value.has_value()) {
      values_.push_back({&def.name, &*def.default_value});
    }
  }
}

std::string Attrs::Fingerprint() const {
  std::string out;
  for (const auto& [name, value] : values_) {
    absl::StrAppend(&out, *name, "=");
    value->AppendToString(&out);
    out.push_back(';');
  }
  return out;
}

const AttrValue& Attrs::Get(const std::string& name) const {
  for (const auto& [def_name, value] : values_) {
    if (*def_name == name) return *value;
  }
  // Validation guarantees every declared attribute resolves; asking for an
  // undeclared one is a bug in the op, not in the user's graph.
  std::abort();
}
int64_t Attrs::GetInt(const std::string& n) const { return Get(n).i(); }
double Attrs::GetFloat(const std::string& n) const {
  const AttrValue& v = Get(n);
  return v.value_case() == AttrValue::kF32 ? v.f32() : v.f();
}
bool Attrs::GetBool(const std::string& n) const { return Get(n).b(); }
const std::string& Attrs::GetString(const std::string& n) const {
  return Get(n).s();
}
const ShapeProto& Attrs::GetShape(const std::string& n) const {
  return Get(n).shape();
}
DataType Attrs::GetDType(const std::string& n) const { return Get(n).type(); }
std::vector<int64_t> Attrs::GetIntList(const std::string& n) const {
  const auto& l = Get(n).list().i();
  return {l.begin(), l.end()};
}
const TensorProto& Attrs::GetTensor(const std::string& n) const {
  return Get(n).tensor();
}

void InferenceContext::SetOutput(int i, DType dtype, rill::Shape shape) {
  if (static_cast<int>(output_dtypes_.size()) <= i) {
    output_dtypes_.resize(i + 1, DType::kF32);
    output_shapes_.resize(i + 1);
  }
  output_dtypes_[i] = dtype;
  output_shapes_[i] = std::move(shape);
}

OpDef& OpDef::Doc(std::string doc) {
  doc_ = std::move(doc);
  return *this;
}
OpDef& OpDef::TypeVar(std::string var, DTypeSet allowed) {
  type_vars_[std::move(var)] = allowed;
  return *this;
}
OpDef& OpDef::ShapeOnly(const std::string& name) {
  for (ArgDef& arg : inputs_) {
    if (arg.name == name) {
      arg.shape_only = true;
      return *this;
    }
  }
  std::abort();  // A typo in an op declaration.
}

OpDef& OpDef::Input(std::string name, std::string type_var) {
  inputs_.push_back({std::move(name), std::move(type_var)});
  return *this;
}
OpDef& OpDef::VariadicInput(std::string name, std::string type_var,
                            int min_count) {
  inputs_.push_back({std::move(name), std::move(type_var)});
  variadic_min_ = min_count;
  return *this;
}
OpDef& OpDef::VariadicOutput(std::string name, std::string count_attr) {
  outputs_.push_back({std::move(name), ""});
  output_count_attr_ = std::move(count_attr);
  return *this;
}

bool OpDef::AcceptsInputCount(int count) const {
  if (!variadic_input()) return count == static_cast<int>(inputs_.size());
  return count >= static_cast<int>(inputs_.size()) - 1 + variadic_min_;
}

std::string OpDef::InputCountText() const {
  if (!variadic_input()) return std::to_string(inputs_.size());
  return "at least " + std::to_string(inputs_.size() - 1 + variadic_min_);
}

const ArgDef& OpDef::InputArg(int i) const {
  return i < static_cast<int>(inputs_.size()) ? inputs_[i] : inputs_.back();
}

absl::StatusOr<int> OpDef::NumOutputs(const Node& node) const {
  if (output_count_attr_.empty()) return static_cast<int>(outputs_.size());
  int64_t count = Attrs(node, attrs_).GetInt(output_count_attr_);
  if (count < 1 || count > kMaxVariadicOutputs) {
    return absl::InvalidArgumentError(
        absl::StrCat("attr '", output_count_attr_, "' = ", count,
                     " must be between 1 and ", kMaxVariadicOutputs));
  }
  return static_cast<int>(outputs_.size()) - 1 + static_cast<int>(count);
}

OpDef& OpDef::Output(std::string name) {
  outputs_.push_back({std::move(name), ""});
  return *this;
}
OpDef& OpDef::Attr(std::string name, AttrType type) {
  attrs_.push_back({std::move(name), type, std::nullopt});
  return *this;
}
OpDef& OpDef::Attr(std::string name, AttrType type, AttrValue default_value) {
  attrs_.push_back({std::move(name), type, std::move(default_value)});
  return *this;
}
OpDef& OpDef::Shape(ShapeFn fn) {
  shape_fn_ = std::move(fn);
  return *this;
}
OpDef& OpDef::Source() {
  is_source_ = true;
  return *this;
}
OpDef& OpDef::Gradient(GradientFn fn) {
  gradient_state_ = GradientState::kDifferentiable;
  gradient_fn_ = std::move(fn);
  return *this;
}
OpDef& OpDef::NoGradient() {
  gradient_state_ = GradientState::kNotDifferentiable;
  return *this;
}
OpDef& OpDef::Reference(KernelFactory f) {
  reference_ = std::move(f);
  return *this;
}
OpDef& OpDef::NoOneDnnPrimitive() {
  no_onednn_primitive_ = true;
  return *this;
}
OpDef& OpDef::FollowsPrecision() {
  follows_precision_ = true;
  return *this;
}

OpDef& OpDef::OutputViewsInput() {
  output_views_input_ = true;
  return *this;
}

OpDef& OpDef::DrawsRandomNumbers() {
  draws_random_numbers_ = true;
  return *this;
}
OpDef& OpDef::OneDnn(KernelFactory f) {
  onednn_ = std::move(f);
  return *this;
}

const AttrDef* OpDef::FindAttr(const std::string& name) const {
  for (const AttrDef& a : attrs_) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

DTypeSet OpDef::AllowedTypes(const std::string& type_var) const {
  auto it = type_vars_.find(type_var);
  return it == type_vars_.end() ? DTypeSet() : it->second;
}

AttrValue IntAttr(int64_t v) {
  AttrValue a;
  a.set_i(v);
  return a;
}
AttrValue FloatAttr(double v) {
  AttrValue a;
  a.set_f(v);
  return a;
}
AttrValue BoolAttr(bool v) {
  AttrValue a;
  a.set_b(v);
  return a;
}
std::string CanonicalTensorRef(const std::string& ref) {
  return ref.find(':') == std::string::npos ? ref + ":0" : ref;
}

AttrValue StringAttr(std::string v) {
  AttrValue a;
  a.set_s(std::move(v));
  return a;
}
AttrValue IntListAttr(std::vector<int64_t> v) {
  AttrValue a;
  a.mutable_list()->mutable_i()->Add(v.begin(), v.end());
  return a;
}

AttrValue StringListAttr(std::vector<std::string> v) {
  AttrValue a;
  auto* list = a.mutable_list();
  for (std::string& s : v) list->add_s(std::move(s));
  return a;
}

AttrValue TypeAttr(DataType t) {
  AttrValue a;
  a.set_type(t);
  return a;
}

OpDef AnyTypeUnaryOp(const std::string& name, std::string doc, ShapeFn shape,
                     KernelFactory reference) {
  OpDef def(name);
  def.Doc(std::move(doc))
      .TypeVar("T", kAnyType)
      .Input("x", "T")
      .Output("y")
      .Shape(std::move(shape))
      .Reference(std::move(reference));
  return def;
}

}  // namespace rill
