#include "onnx/import.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/file_io.h"
#include "graph/validate.h"
#include "onnx/fuse_gelu.h"
#include "onnx/import_context.h"
#include "onnx/onnx_tensor.h"
#include "onnx/symbolic_shape.h"
#include "onnx/translate.h"
#include "ops/op_def.h"
#include "runtime/executor.h"

namespace rill {
namespace {

bool IsDefaultDomain(const std::string& d) {
  return d.empty() || d == "ai.onnx";
}

std::string DescribeNode(const ::onnx::NodeProto& node, int index) {
  return absl::StrCat("node ", index, " '", node.name(), "' (", node.op_type(),
                      ", domain '",
                      node.domain().empty() ? "ai.onnx" : node.domain(), "')");
}

// The default-domain opset, checked.
absl::StatusOr<int64_t> CheckVersions(const ::onnx::ModelProto& model) {
  if (!model.has_ir_version()) {
    return absl::InvalidArgumentError(
        "not an ONNX model: no ir_version (a truncated or non-ONNX file?)");
  }
  if (model.ir_version() < kMinOnnxIrVersion ||
      model.ir_version() > kMaxOnnxIrVersion) {
    return absl::UnimplementedError(
        absl::StrCat("ir_version ", model.ir_version(), " is not supported (",
                     kMinOnnxIrVersion, " to ", kMaxOnnxIrVersion, ")"));
  }
  int64_t opset = -1;
  for (const auto& o : model.opset_import()) {
    if (IsDefaultDomain(o.domain())) opset = o.version();
  }
  if (opset < 0) {
    return absl::InvalidArgumentError(
        "opset_import has no entry for the default domain (ai.onnx)");
  }
  if (opset < kMinOnnxOpset || opset > kMaxOnnxOpset) {
    return absl::UnimplementedError(absl::StrCat(
        "opset_import: ai.onnx opset ", opset, " is not supported (",
        kMinOnnxOpset, " to ", kMaxOnnxOpset, ")"));
  }
  return opset;
}

// Every node that the importer cannot translate, in one error.
absl::Status CheckSupported(const ::onnx::GraphProto& g) {
  const auto& table = OnnxTranslators();
  std::vector<std::string> bad;
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& node = g.node(i);
    if (!IsDefaultDomain(node.domain()) || !table.count(node.op_type())) {
      bad.push_back(DescribeNode(node, i));
    }
  }
  if (bad.empty()) return absl::OkStatus();
  return absl::UnimplementedError(
      absl::StrCat(bad.size(),
                   " ONNX node(s) use ops that rill does not "
                   "import: ",
                   absl::StrJoin(bad, "; ")));
}

absl::StatusOr<OnnxValue> GraphInput(const ::onnx::ValueInfoProto& in) {
  const std::string what = absl::StrCat("graph input '", in.name(), "'");
  if (!in.type().has_tensor_type()) {
    return absl::UnimplementedError(what + ": not a tensor");
  }
  const auto& tt = in.type().tensor_type();
  absl::StatusOr<DType> dtype = DTypeFromOnnx(tt.elem_type());
  if (!dtype.ok()) return Annotate(dtype.status(), what);
  if (!tt.has_shape()) {
    return absl::UnimplementedError(what + ": no shape (rank unknown)");
  }
  std::vector<int64_t> dims;
  for (const auto& d : tt.shape().dim()) {
    // dim_param (or nothing): symbolic, bound by the feed.
    dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    if (d.has_dim_value() && d.dim_value() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": negative dimension ", d.dim_value()));
    }
  }
  OnnxValue v;
  v.dtype = *dtype;
  v.shape = Shape(dims);
  return v;
}

// The declared type of a graph output against what the nodes give.
absl::Status CheckOutput(const ::onnx::ValueInfoProto& out,
                         const OnnxValue& v) {
  if (!out.type().has_tensor_type()) return absl::OkStatus();
  const auto& tt = out.type().tensor_type();
  const std::string what = absl::StrCat("graph output '", out.name(), "'");
  if (tt.elem_type() != 0) {
    absl::StatusOr<DType> dtype = DTypeFromOnnx(tt.elem_type());
    if (!dtype.ok()) return Annotate(dtype.status(), what);
    if (*dtype != v.dtype) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": declared ", DTypeName(*dtype),
                       " but the nodes give ", DTypeName(v.dtype)));
    }
  }
  if (!tt.has_shape()) return absl::OkStatus();
  bool agree = tt.shape().dim_size() == v.shape.rank();
  for (int i = 0; agree && i < v.shape.rank(); ++i) {
    const auto& d = tt.shape().dim(i);
    agree = !d.has_dim_value() || v.shape.dim(i) < 0 ||
            d.dim_value() == v.shape.dim(i);
  }
  if (agree) return absl::OkStatus();
  std::vector<std::string> dims;
  for (const auto& d : tt.shape().dim()) {
    dims.push_back(d.has_dim_value() ? absl::StrCat(d.dim_value())
                                     : d.dim_param());
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": declared shape [", absl::StrJoin(dims, ","),
                   "] but the nodes give ", v.shape.ToString()));
}

// A node whose inputs are all known: translated into a scratch graph of
// Consts and run now, so that its outputs are constants too.
absl::Status Fold(const ::onnx::NodeProto& node, int64_t opset,
                  OnnxTranslator translate, ImportContext* ctx) {
  ImportContext scratch(ctx->memory_budget());
  for (const auto& in : node.input()) {
    if (in.empty()) continue;
    OnnxValue v = *ctx->Find(in);
    v.ref.clear();
    scratch.Define(in, std::move(v));
  }
  NodeTranslation nt(node, opset, &scratch);
  RETURN_IF_ERROR(translate(nt));
  std::vector<std::string> fetches, names;
  for (const auto& out : node.output()) {
    if (out.empty()) continue;
    const OnnxValue* v = scratch.Find(out);
    if (v->constant.has_value()) {
      ctx->Define(out, *v);
    } else {
      fetches.push_back(v->ref);
      names.push_back(out);
    }
  }
  if (fetches.empty()) return absl::OkStatus();
  LoadedGraph loaded;
  loaded.graph = scratch.graph();
  ValidateOptions vo;
  vo.memory_budget = ctx->memory_budget();
  ASSIGN_OR_RETURN(ValidGraph valid, ValidateGraph(std::move(loaded), vo));
  ExecutorOptions eo;
  eo.backend = Backend::kReference;
  ASSIGN_OR_RETURN(auto exec, Executor::Create(std::move(valid), eo));
  absl::StatusOr<std::vector<Tensor>> values = exec->Run({}, fetches);
  if (!values.ok()) {
    return Annotate(values.status(), absl::StrCat("folding node '", node.name(),
                                                  "' (", node.op_type(), ")"));
  }
  for (size_t k = 0; k < names.size(); ++k) {
    OnnxValue v;
    v.dtype = (*values)[k].dtype();
    v.shape = (*values)[k].shape();
    v.constant = std::move((*values)[k]);
    ctx->Define(names[k], std::move(v));
  }
  return absl::OkStatus();
}

absl::Status TranslateNodes(const ::onnx::GraphProto& g, int64_t opset,
                            ImportContext* ctx) {
  const auto& table = OnnxTranslators();
  const OnnxFusions fusions = FindGeluPatterns(g);
  for (int i = 0; i < g.node_size(); ++i) {
    if (fusions.absorbed.count(i)) continue;
    auto fused = fusions.fused.find(i);
    const bool is_fused = fused != fusions.fused.end();
    const auto& node = is_fused ? fused->second : g.node(i);
    bool foldable = node.input_size() > 0, symbolic = false;
    for (const auto& in : node.input()) {
      if (in.empty()) continue;
      const OnnxValue* v = ctx->Find(in);
      if (v == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            DescribeNode(node, i), ": input '", in,
            "' is not an initializer, a graph input or an earlier node's "
            "output"));
      }
      foldable = foldable && v->constant.has_value() && !v->parameter;
      symbolic = symbolic || v->symbolic.has_value();
    }
    OnnxTranslator translate = is_fused
                                   ? FusedOnnxTranslators().at(node.op_type())
                                   : table.at(node.op_type());
    if (symbolic && IsShapeArithmetic(node.op_type())) {
      translate = TranslateShapeArithmetic;
    }
    if (foldable) {
      RETURN_IF_ERROR(Fold(node, opset, translate, ctx));
    } else {
      NodeTranslation nt(node, opset, ctx);
      RETURN_IF_ERROR(translate(nt));
    }
    for (const auto& out : node.output()) {
      if (!out.empty() && ctx->Find(out) == nullptr) {
        return absl::UnimplementedError(absl::StrCat(
            DescribeNode(node, i), ": output '", out, "' is not translated"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> SupportedOnnxOps() {
  std::vector<std::string> ops;
  for (const auto& [name, fn] : OnnxTranslators()) ops.push_back(name);
  return ops;
}

absl::StatusOr<Graph> ImportOnnx(const ::onnx::ModelProto& model,
                                 const OnnxImportOptions& options) {
  ASSIGN_OR_RETURN(int64_t opset, CheckVersions(model));
  const ::onnx::GraphProto& g = model.graph();
  RETURN_IF_ERROR(CheckSupported(g));
  if (g.sparse_initializer_size() > 0) {
    return absl::UnimplementedError("sparse initializers are not supported");
  }
  ImportContext ctx(options.memory_budget);
  int64_t budget = options.memory_budget;
  for (const auto& init : g.initializer()) {
    const std::string what = absl::StrCat("initializer '", init.name(), "'");
    ASSIGN_OR_RETURN(Tensor t,
                     TensorFromOnnx(init, what, options.model_dir, budget));
    budget -= t.byte_size();
    OnnxValue v;
    v.dtype = t.dtype();
    v.shape = t.shape();
    v.parameter = v.dtype == DType::kF32 || v.dtype == DType::kF64;
    v.constant = std::move(t);
    ctx.Define(init.name(), std::move(v));
  }
  for (const auto& in : g.input()) {
    // Before IR 4 initialisers are listed as inputs too (their defaults).
    if (ctx.Find(in.name()) != nullptr) continue;
    auto bound = options.bound_inputs.find(in.name());
    if (bound != options.bound_inputs.end()) {
      OnnxValue v;
      v.dtype = bound->second.dtype();
      v.shape = bound->second.shape();
      v.constant = bound->second;
      ctx.Define(in.name(), std::move(v));
      continue;
    }
    ASSIGN_OR_RETURN(OnnxValue v, GraphInput(in));
    ShapeProto shape;
    for (int64_t d : v.shape.dims()) shape.add_dim(d);
    AttrValue shape_attr;
    *shape_attr.mutable_shape() = shape;
    ASSIGN_OR_RETURN(v.ref,
                     ctx.Emit(in.name(), "Input", {},
                              {{"dtype", TypeAttr(DTypeToProto(v.dtype))},
                               {"shape", shape_attr}}));
    ctx.Define(in.name(), std::move(v));
  }
  std::vector<std::string> output_names;
  for (const auto& out : g.output()) {
    output_names.push_back(ctx.Reserve(out.name()));
  }
  RETURN_IF_ERROR(TranslateNodes(g, opset, &ctx));
  for (int k = 0; k < g.output_size(); ++k) {
    const auto& out = g.output(k);
    const OnnxValue* v = ctx.Find(out.name());
    if (v == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("graph output '", out.name(),
                       "' is not produced by any node, initializer or input"));
    }
    RETURN_IF_ERROR(CheckOutput(out, *v));
    ASSIGN_OR_RETURN(std::string ref, ctx.Ref(out.name()));
    // Outputs are fetched by their ONNX names.
    ASSIGN_OR_RETURN(std::string name,
                     ctx.EmitReserved(output_names[k], "Identity", {ref}));
    ctx.graph().add_output(name);
  }
  LoadedGraph loaded;
  loaded.graph = ctx.graph();
  ValidateOptions vo;
  vo.memory_budget = options.memory_budget;
  RETURN_IF_ERROR(ValidateGraph(std::move(loaded), vo).status());
  return std::move(ctx.graph());
}

absl::StatusOr<Graph> ImportOnnxBytes(const std::string& bytes,
                                      const std::string& source,
                                      const OnnxImportOptions& options) {
  ::onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": not an ONNX model (the protobuf does not "
                     "parse: truncated or another format)"));
  }
  absl::StatusOr<Graph> g = ImportOnnx(model, options);
  if (!g.ok()) return Annotate(g.status(), source);
  return g;
}

absl::StatusOr<Graph> ImportOnnxFile(const std::string& path,
                                     OnnxImportOptions options) {
  ASSIGN_OR_RETURN(std::string bytes,
                   ReadFileCapped(path, options.max_file_bytes));
  if (options.model_dir == ".") {
    std::string dir = std::filesystem::path(path).parent_path().string();
    options.model_dir = dir.empty() ? "." : dir;
  }
  return ImportOnnxBytes(bytes, path, options);
}

}  // namespace rill
