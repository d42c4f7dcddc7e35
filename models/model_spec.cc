#include "models/model_spec.h"

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/tensor_proto.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "models/node_writer.h"
#include "models/rnn.h"

namespace rill {
namespace {

constexpr int64_t kMaxSpecBytes = 1 << 20;

absl::Status FieldError(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status AtLeastOne(const std::string& field, int64_t value) {
  if (value >= 1) return absl::OkStatus();
  return FieldError(field, absl::StrCat(value, ": must be >= 1"));
}

std::string OrDefault(const std::string& value, const char* fallback) {
  return value.empty() ? fallback : value;
}

absl::StatusOr<RecurrentCell> ParseCell(const std::string& cell) {
  if (cell.empty() || cell == "gru") return RecurrentCell::kGru;
  if (cell == "gru_pytorch") return RecurrentCell::kGruPyTorch;
  if (cell == "lstm") return RecurrentCell::kLstm;
  if (cell == "rnn_tanh") return RecurrentCell::kRnnTanh;
  if (cell == "rnn_relu") return RecurrentCell::kRnnRelu;
  return FieldError("recurrent.cell",
                    absl::StrCat("'", cell,
                                 "': expected rnn_tanh, rnn_relu, lstm, gru or "
                                 "gru_pytorch"));
}

absl::StatusOr<RecurrentMerge> ParseMerge(const std::string& merge) {
  if (merge.empty() || merge == "concat") return RecurrentMerge::kConcat;
  if (merge == "sum") return RecurrentMerge::kSum;
  return FieldError("recurrent.merge",
                    absl::StrCat("'", merge, "': expected concat or sum"));
}

absl::StatusOr<DType> ParseDType(const std::string& dtype) {
  if (dtype.empty() || dtype == "f32") return DType::kF32;
  if (dtype == "f64") return DType::kF64;
  return FieldError("dtype",
                    absl::StrCat("'", dtype, "': expected f32 or f64"));
}

// Checks the fields that the builders do not check themselves, and maps the
// spec onto the stack's options.
absl::StatusOr<RecurrentStackOptions> StackOptions(const ModelSpec& spec) {
  if (!spec.has_input()) return FieldError("input", "required");
  if (!spec.has_recurrent()) return FieldError("recurrent", "required");
  if (!spec.has_head()) return FieldError("head", "required");
  if (spec.loss().kind_case() == LossSpec::KIND_NOT_SET) {
    return FieldError("loss", "required: mse { } or cross_entropy { }");
  }
  const RecurrentSpec& r = spec.recurrent();
  RETURN_IF_ERROR(AtLeastOne("input.features", spec.input().features()));
  RETURN_IF_ERROR(AtLeastOne("input.steps", spec.input().steps()));
  RETURN_IF_ERROR(AtLeastOne("recurrent.hidden_size", r.hidden_size()));
  RETURN_IF_ERROR(AtLeastOne("head.outputs", spec.head().outputs()));
  if (r.num_layers() < 0) {
    return FieldError("recurrent.num_layers",
                      absl::StrCat(r.num_layers(), ": must be >= 0"));
  }
  if (!(r.dropout() >= 0 && r.dropout() < 1)) {
    return FieldError("recurrent.dropout",
                      absl::StrCat(r.dropout(), ": must be in [0, 1)"));
  }
  if (!r.merge().empty() && !r.bidirectional()) {
    return FieldError("recurrent.merge", "only for a bidirectional stack");
  }
  RecurrentStackOptions o;
  ASSIGN_OR_RETURN(o.layer.cell, ParseCell(r.cell()));
  ASSIGN_OR_RETURN(o.layer.merge, ParseMerge(r.merge()));
  ASSIGN_OR_RETURN(o.layer.dtype, ParseDType(spec.dtype()));
  o.layer.prefix = OrDefault(r.name(), "rnn");
  o.layer.steps = spec.input().steps();
  o.layer.input_size = spec.input().features();
  o.layer.hidden_size = r.hidden_size();
  o.layer.seed = r.seed();
  o.layer.bidirectional = r.bidirectional();
  o.num_layers = std::max<int64_t>(1, r.num_layers());
  o.dropout = r.dropout();
  return o;
}

// A Parameter drawn uniformly from [-k, k], k = 1/sqrt(fan_in), as
// PyTorch's nn.Linear.
absl::Status AddUniformParameter(Graph* g, const std::string& name, DType dtype,
                                 const Shape& shape, int64_t fan_in,
                                 std::mt19937_64& rng) {
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  const double k = 1.0 / std::sqrt(static_cast<double>(fan_in));
  std::uniform_real_distribution<double> dist(-k, k);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (dtype == DType::kF64) {
      t.data<double>()[i] = dist(rng);
    } else {
      t.data<float>()[i] = static_cast<float>(dist(rng));
    }
  }
  Node* n = AddNode(g, name, "Parameter", {});
  *(*n->mutable_attr())["value"].mutable_tensor() = TensorToProto(t);
  return absl::OkStatus();
}

// The head on the stack's output: <head>/output, [B, O] or [B, T, O].
absl::StatusOr<std::string> AddHead(const ModelSpec& spec,
                                    const RecurrentStackOptions& o,
                                    const RecurrentStack& stack, Graph* g) {
  const std::string head = OrDefault(spec.head().name(), "head");
  const int64_t features =
      o.layer.bidirectional && o.layer.merge == RecurrentMerge::kConcat
          ? 2 * o.layer.hidden_size
          : o.layer.hidden_size;
  std::string h = stack.layers.back().step_outputs.back();
  if (spec.head().every_step()) {
    h = absl::StrCat(head, "/batch_major");
    SetInts(AddNode(g, h, "Transpose", {stack.output}), "perm", {1, 0, 2});
  }
  std::mt19937_64 rng(o.layer.seed + o.num_layers);
  const std::string weight = absl::StrCat(head, "/weight");
  const std::string bias = absl::StrCat(head, "/bias");
  RETURN_IF_ERROR(AddUniformParameter(g, weight, o.layer.dtype,
                                      Shape{spec.head().outputs(), features},
                                      features, rng));
  RETURN_IF_ERROR(AddUniformParameter(
      g, bias, o.layer.dtype, Shape{spec.head().outputs()}, features, rng));
  Node* mm = AddNode(g, absl::StrCat(head, "/matmul"), "MatMul", {h, weight});
  (*mm->mutable_attr())["transpose_b"].set_b(true);
  const std::string out = absl::StrCat(head, "/output");
  AddNode(g, out, "Add", {mm->name(), bias});
  return out;
}

// The loss's Input (target or labels) and the scalar `loss`.
void AddLoss(const ModelSpec& spec, DType dtype, const std::string& output,
             Graph* g) {
  const int64_t steps = spec.input().steps();
  const bool every = spec.head().every_step();
  if (spec.loss().has_mse()) {
    const std::string target = OrDefault(spec.loss().mse().target(), "target");
    std::vector<int64_t> dims = {-1, spec.head().outputs()};
    if (every) dims.insert(dims.begin() + 1, steps);
    AddInputNode(g, target, dtype, dims);
    AddNode(g, "loss", "MeanSquaredError", {output, target});
  } else {
    const std::string labels =
        OrDefault(spec.loss().cross_entropy().labels(), "labels");
    AddInputNode(
        g, labels, DType::kI64,
        every ? std::vector<int64_t>{-1, steps} : std::vector<int64_t>{-1});
    AddNode(g, "loss", "SoftmaxCrossEntropy", {output, labels});
  }
  g->add_output("loss");
}

absl::StatusOr<TransformerActivation> ParseActivation(const std::string& a) {
  if (a.empty() || a == "relu") return TransformerActivation::kRelu;
  if (a == "gelu") return TransformerActivation::kGelu;
  return FieldError("seq2seq.activation",
                    absl::StrCat("'", a, "': expected relu or gelu"));
}

absl::StatusOr<PositionalKind> ParsePositional(const std::string& p) {
  if (p.empty() || p == "sinusoidal") return PositionalKind::kSinusoidal;
  if (p == "learned") return PositionalKind::kLearned;
  return FieldError("seq2seq.positional",
                    absl::StrCat("'", p, "': expected sinusoidal or learned"));
}

}  // namespace

SpecialTokens SpecialTokensOf(const Seq2SeqSpec& spec) {
  SpecialTokens t;
  if (spec.has_pad_id()) t.pad = spec.pad_id();
  if (spec.has_bos_id()) t.bos = spec.bos_id();
  if (spec.has_eos_id()) t.eos = spec.eos_id();
  return t;
}

absl::StatusOr<Seq2SeqOptions> Seq2SeqOptionsFromSpec(const ModelSpec& spec) {
  if (!spec.has_seq2seq()) return FieldError("seq2seq", "required");
  if (spec.has_input() || spec.has_recurrent() || spec.has_head() ||
      spec.has_loss()) {
    return FieldError("seq2seq",
                      "stands alone: no input, recurrent, head or loss");
  }
  const Seq2SeqSpec& s = spec.seq2seq();
  const std::pair<const char*, int64_t> required[] = {
      {"seq2seq.vocab_size", s.vocab_size()},
      {"seq2seq.d_model", s.d_model()},
      {"seq2seq.heads", s.heads()},
      {"seq2seq.ff", s.ff()},
      {"seq2seq.src_length", s.src_length()},
      {"seq2seq.tgt_length", s.tgt_length()}};
  for (const auto& [field, value] : required) {
    RETURN_IF_ERROR(AtLeastOne(field, value));
  }
  const std::pair<const char*, int64_t> layers[] = {
      {"seq2seq.encoder_layers", s.encoder_layers()},
      {"seq2seq.decoder_layers", s.decoder_layers()}};
  for (const auto& [field, value] : layers) {
    if (value < 0)
      return FieldError(field, absl::StrCat(value, ": must be >= 0"));
  }
  Seq2SeqOptions o;
  o.vocab_size = s.vocab_size();
  o.d_model = s.d_model();
  o.heads = s.heads();
  o.ff = s.ff();
  o.encoder_layers = std::max<int64_t>(1, s.encoder_layers());
  o.decoder_layers = std::max<int64_t>(1, s.decoder_layers());
  o.src_length = s.src_length();
  o.tgt_length = s.tgt_length();
  ASSIGN_OR_RETURN(o.activation, ParseActivation(s.activation()));
  o.norm_first = s.norm_first();
  o.dropout = s.dropout();
  ASSIGN_OR_RETURN(o.positional, ParsePositional(s.positional()));
  o.tie_output = !s.untied_output();
  o.label_smoothing = s.label_smoothing();
  ASSIGN_OR_RETURN(o.dtype, ParseDType(spec.dtype()));
  o.seed = s.seed();
  const SpecialTokens tokens = SpecialTokensOf(s);
  o.pad_id = tokens.pad;
  const std::pair<const char*, int64_t> ids[] = {
      {"seq2seq.pad_id", tokens.pad},
      {"seq2seq.bos_id", tokens.bos},
      {"seq2seq.eos_id", tokens.eos}};
  for (const auto& [field, id] : ids) {
    if (id < 0 || id >= o.vocab_size) {
      return FieldError(field, absl::StrCat(id, ": must be in [0, vocab_size ",
                                            o.vocab_size, ")"));
    }
  }
  if (tokens.pad == tokens.bos || tokens.pad == tokens.eos ||
      tokens.bos == tokens.eos) {
    return FieldError("seq2seq", "pad_id, bos_id and eos_id must differ");
  }
  return o;
}

absl::StatusOr<Graph> BuildModel(const ModelSpec& spec) {
  if (spec.has_seq2seq()) {
    ASSIGN_OR_RETURN(Seq2SeqOptions o, Seq2SeqOptionsFromSpec(spec));
    return BuildSeq2SeqTrainingGraph(o);
  }
  ASSIGN_OR_RETURN(RecurrentStackOptions options, StackOptions(spec));
  Graph g;
  const std::string x = OrDefault(spec.input().name(), "x");
  AddInputNode(&g, x, options.layer.dtype,
               {-1, spec.input().steps(), spec.input().features()});
  const std::string time_major = absl::StrCat(x, "/time_major");
  SetInts(AddNode(&g, time_major, "Transpose", {x}), "perm", {1, 0, 2});
  absl::StatusOr<RecurrentStack> stack =
      AddRecurrentStack(time_major, options, &g);
  if (!stack.ok()) return Annotate(stack.status(), "recurrent");
  ASSIGN_OR_RETURN(std::string output, AddHead(spec, options, *stack, &g));
  AddLoss(spec, options.layer.dtype, output, &g);
  // Names chosen in the spec may collide (an input called "loss", a head
  // named like the stack): the validator names the duplicate.
  ASSIGN_OR_RETURN(ValidGraph valid,
                   ValidateGraph(LoadedGraph{g, SourceMap("model spec")}));
  return std::move(valid).Release().first.graph;
}

absl::StatusOr<ModelSpec> LoadModelSpec(const std::string& path) {
  ModelSpec spec;
  RETURN_IF_ERROR(ReadTextProto(path, kMaxSpecBytes, &spec));
  return spec;
}

absl::StatusOr<Graph> BuildModelFile(const std::string& path) {
  ASSIGN_OR_RETURN(ModelSpec spec, LoadModelSpec(path));
  absl::StatusOr<Graph> g = BuildModel(spec);
  if (!g.ok()) return Annotate(g.status(), path);
  return g;
}

}  // namespace rill
