#include "models/model_spec.h"

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "core/limits.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph_builder.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "models/bert.h"
#include "models/rnn.h"
#include "models/torch_layer_spec.h"

namespace rill {
namespace {

constexpr int64_t kMaxSpecBytes = 1 << 20;

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

// Checks the fields that only a model with a head and a loss, or only a
// bare stack, may set.
absl::Status CheckHeadOrBare(const ModelSpec& spec) {
  const RecurrentSpec& r = spec.recurrent();
  const bool loss = spec.loss().kind_case() != LossSpec::KIND_NOT_SET;
  if (!spec.has_head()) {
    if (spec.has_loss()) {
      return FieldError("loss",
                        "needs a head; a bare stack (no head) has no loss");
    }
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(AtLeastOne("head.outputs", spec.head().outputs()));
  if (!loss)
    return FieldError("loss", "required: mse { } or cross_entropy { }");
  const char* why = "only for a bare stack (no head, no loss)";
  if (!spec.input().sequence_lengths().empty()) {
    return FieldError("input.sequence_lengths",
                      absl::StrCat(why,
                                   ": the head and loss do not skip "
                                   "padded steps"));
  }
  if (!r.initial_state().empty() && r.initial_state() != "zeros") {
    return FieldError(
        "recurrent.initial_state",
        absl::StrCat("'", r.initial_state(), "': ", why,
                     ": the trainer cannot batch h0 [L*D, B, H]"));
  }
  if (r.has_batch_first() && !r.batch_first()) {
    return FieldError("recurrent.batch_first",
                      absl::StrCat("false: ", why,
                                   ": the trainer batches along the first "
                                   "axis"));
  }
  return absl::OkStatus();
}

// Checks the fields that the builders do not check themselves, and maps the
// spec onto the stack's options.
absl::StatusOr<RecurrentStackOptions> StackOptions(const ModelSpec& spec) {
  if (!spec.has_input()) return FieldError("input", "required");
  if (!spec.has_recurrent()) return FieldError("recurrent", "required");
  const RecurrentSpec& r = spec.recurrent();
  RETURN_IF_ERROR(AtLeastOne("input.features", spec.input().features()));
  RETURN_IF_ERROR(AtLeastOne("input.steps", spec.input().steps()));
  RETURN_IF_ERROR(AtLeastOne("recurrent.hidden_size", r.hidden_size()));
  RETURN_IF_ERROR(CheckHeadOrBare(spec));
  if (r.initial_state() != "" && r.initial_state() != "zeros" &&
      r.initial_state() != "inputs") {
    return FieldError(
        "recurrent.initial_state",
        absl::StrCat("'", r.initial_state(), "': expected zeros or inputs"));
  }
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

// The head on the stack's output: <head>/output, [B, O] or [B, T, O], an
// nn.Linear whose Parameters are drawn as PyTorch draws them.
std::string AddHead(const ModelSpec& spec, const RecurrentStackOptions& o,
                    const RecurrentStack& stack, GraphBuilder& root) {
  GraphBuilder b = root.Scope(OrDefault(spec.head().name(), "head"));
  const int64_t features =
      o.layer.bidirectional && o.layer.merge == RecurrentMerge::kConcat
          ? 2 * o.layer.hidden_size
          : o.layer.hidden_size;
  std::string h = stack.layers.back().step_outputs.back();
  if (spec.head().every_step()) {
    h = b.Op("batch_major", "Transpose", {stack.output})
            .AttrInts("perm", {1, 0, 2});
  }
  std::mt19937_64 rng(o.layer.seed + o.num_layers);
  const double bound = 1.0 / std::sqrt(static_cast<double>(features));
  const int64_t outputs = spec.head().outputs();
  std::string weight = b.Parameter(
      "weight",
      UniformTensor(o.layer.dtype, Shape{outputs, features}, bound, rng));
  std::string bias = b.Parameter(
      "bias", UniformTensor(o.layer.dtype, Shape{outputs}, bound, rng));
  return b.Linear("output", h, weight, bias, "matmul");
}

// A bare stack's optional Inputs: the sequence lengths, and h0 (c0)
// [L*D, B, H] when initial_state is "inputs".
void AddStackInputs(const ModelSpec& spec, GraphBuilder& b,
                    RecurrentStackOptions* o) {
  const std::string& lengths = spec.input().sequence_lengths();
  if (!lengths.empty()) {
    o->layer.sequence_lengths = b.Input(lengths, DType::kI64, {-1});
  }
  if (spec.recurrent().initial_state() != "inputs") return;
  const std::vector<int64_t> dims = {
      o->num_layers * (o->layer.bidirectional ? 2 : 1), -1,
      o->layer.hidden_size};
  o->initial_h = b.Input("h0", o->layer.dtype, dims);
  if (o->layer.cell == RecurrentCell::kLstm) {
    o->initial_c = b.Input("c0", o->layer.dtype, dims);
  }
}

// Every layer's final states (one per direction, [B, H]) as PyTorch's
// [L*D, B, H]: layer by layer, forward before reverse.
std::string PackFinalStates(const std::string& name,
                            const std::vector<std::string>& states,
                            GraphBuilder& b) {
  std::vector<std::string> rows;
  for (size_t k = 0; k < states.size(); ++k) {
    rows.push_back(
        b.Op(absl::StrCat(name, "/row", k), "ExpandDims", {states[k]})
            .AttrInt("axis", 0));
  }
  return b.Op(name, "Concat", rows);
}

// A bare stack's graph outputs `output`, `h_n` and, for an LSTM, `c_n`.
std::vector<std::string> AddStackOutputs(const RecurrentStackOptions& o,
                                         const RecurrentStack& stack,
                                         bool batch_first, GraphBuilder& b) {
  if (batch_first) {
    b.Op("output", "Transpose", {stack.output}).AttrInts("perm", {1, 0, 2});
  } else {
    b.Op("output", "Identity", {stack.output});
  }
  std::vector<std::string> h, c;
  for (const RecurrentLayer& layer : stack.layers) {
    h.push_back(layer.final_h);
    c.push_back(layer.final_c);
    if (o.layer.bidirectional) {
      h.push_back(layer.final_h_reverse);
      c.push_back(layer.final_c_reverse);
    }
  }
  std::vector<std::string> outputs = {"output", PackFinalStates("h_n", h, b)};
  if (o.layer.cell == RecurrentCell::kLstm) {
    outputs.push_back(PackFinalStates("c_n", c, b));
  }
  return outputs;
}

// The loss's Input (target or labels) and the scalar `loss`.
void AddLoss(const ModelSpec& spec, DType dtype, const std::string& output,
             GraphBuilder& b) {
  const int64_t steps = spec.input().steps();
  const bool every = spec.head().every_step();
  if (spec.loss().has_mse()) {
    const std::string target = OrDefault(spec.loss().mse().target(), "target");
    std::vector<int64_t> dims = {-1, spec.head().outputs()};
    if (every) dims.insert(dims.begin() + 1, steps);
    b.Op("loss", "MeanSquaredError", {output, b.Input(target, dtype, dims)});
  } else {
    const std::string labels =
        OrDefault(spec.loss().cross_entropy().labels(), "labels");
    b.Op("loss", "SoftmaxCrossEntropy",
         {output, b.Input(labels, DType::kI64,
                          every ? std::vector<int64_t>{-1, steps}
                                : std::vector<int64_t>{-1})});
  }
}

absl::StatusOr<PositionalKind> ParsePositional(const std::string& p) {
  if (p.empty() || p == "sinusoidal") return PositionalKind::kSinusoidal;
  if (p == "learned") return PositionalKind::kLearned;
  return FieldError("seq2seq.positional",
                    absl::StrCat("'", p, "': expected sinusoidal or learned"));
}

// Sane maxima for what unrolls into nodes: past these a graph takes
// minutes to build and gigabytes to write, long before it could train.
constexpr int64_t kMaxUnrolledLayerSteps = int64_t{1} << 16;
constexpr int64_t kMaxTransformerLayers = 1024;

// Of the fields a size estimate multiplies, the one with the largest value:
// the one to name when the product is too big.
std::pair<const char*, int64_t> LargestField(
    std::initializer_list<std::pair<const char*, int64_t>> fields) {
  std::pair<const char*, int64_t> largest = *fields.begin();
  for (const auto& f : fields) {
    if (f.second > largest.second) largest = f;
  }
  return largest;
}

// Checks what the stack and head will cost before any of it is built:
// the unrolled layer steps (each a handful of nodes), and the parameters,
// which are drawn in memory and then written into the graph.
absl::Status CheckStackLimits(const ModelSpec& spec,
                              const RecurrentStackOptions& o,
                              const MemoryBudget& budget) {
  const int64_t dirs = o.layer.bidirectional ? 2 : 1;
  // Steps x layers x directions, checked with the larger field named and
  // its largest value given the others.
  const bool steps_larger = o.layer.steps >= o.num_layers;
  const int64_t others =
      SaturatingMul(dirs, steps_larger ? o.num_layers : o.layer.steps);
  RETURN_IF_ERROR(CheckAtMost(
      steps_larger ? "input.steps" : "recurrent.num_layers",
      steps_larger ? o.layer.steps : o.num_layers,
      kMaxUnrolledLayerSteps / others,
      absl::StrCat("the stack unrolls into steps x layers x directions "
                   "layer steps, at most ",
                   kMaxUnrolledLayerSteps, " of them")));
  const int64_t gates = GateCount(o.layer.cell);
  const int64_t h = o.layer.hidden_size;
  const int64_t above =  // The input size of layers after the first.
      o.layer.merge == RecurrentMerge::kConcat ? SaturatingMul(dirs, h) : h;
  auto layer_params = [&](int64_t in) {  // W_ih, W_hh and two biases.
    return SaturatingMul(
        SaturatingMul(gates, h),
        SaturatingMul(dirs, SaturatingAdd(SaturatingAdd(in, h), 2)));
  };
  int64_t params = layer_params(o.layer.input_size);
  params = SaturatingAdd(params,
                         SaturatingMul(o.num_layers - 1, layer_params(above)));
  const int64_t outputs = spec.head().outputs();
  params =
      SaturatingAdd(params, SaturatingMul(outputs, SaturatingAdd(above, 1)));
  const auto [field, value] =
      LargestField({{"input.features", o.layer.input_size},
                    {"recurrent.hidden_size", h},
                    {"head.outputs", outputs}});
  return CheckFitsBudget(field, value, "parameters",
                         SaturatingMul(params, DTypeSize(o.layer.dtype)),
                         budget);
}

}  // namespace

absl::Status CheckSeq2SeqLimits(const Seq2SeqOptions& o,
                                const MemoryBudget& budget) {
  const std::pair<const char*, int64_t> layers[] = {
      {"seq2seq.encoder_layers", o.encoder_layers},
      {"seq2seq.decoder_layers", o.decoder_layers}};
  for (const auto& [field, value] : layers) {
    RETURN_IF_ERROR(CheckAtMost(field, value, kMaxTransformerLayers,
                                "Transformer layers per stack"));
  }
  const int64_t d = o.d_model, v = o.vocab_size;
  const int64_t rows = std::max(o.src_length, o.tgt_length);
  // Embedding (and an untied output layer), positional table, and per layer
  // the attention projections (4 D^2, twice in a decoder layer) and the
  // feed-forward block (2 D F); biases and norms are a few D more.
  int64_t params = SaturatingMul(v, SaturatingAdd(d, o.tie_output ? 0 : d + 1));
  params = SaturatingAdd(params, SaturatingMul(rows, d));
  const int64_t attention =
      SaturatingMul(4, SaturatingAdd(SaturatingMul(d, d), d));
  const int64_t ff = SaturatingMul(2, SaturatingAdd(SaturatingMul(d, o.ff), d));
  const int64_t norms = SaturatingMul(6, d);
  const int64_t per_encoder =
      SaturatingAdd(SaturatingAdd(attention, ff), norms);
  const int64_t per_decoder = SaturatingAdd(per_encoder, attention);
  params = SaturatingAdd(params, SaturatingMul(o.encoder_layers, per_encoder));
  params = SaturatingAdd(params, SaturatingMul(o.decoder_layers, per_decoder));
  const int64_t dtype = DTypeSize(o.dtype);
  const auto [field, value] =
      LargestField({{"seq2seq.vocab_size", v},
                    {"seq2seq.d_model", d},
                    {"seq2seq.ff", o.ff},
                    {"seq2seq.src_length", o.src_length},
                    {"seq2seq.tgt_length", o.tgt_length}});
  RETURN_IF_ERROR(CheckFitsBudget(field, value, "parameters",
                                  SaturatingMul(params, dtype), budget));
  // One sentence's attention scores, [heads, n, m] for self- and
  // cross-attention: the least a single training or decoding step holds.
  const int64_t s = o.src_length, t = o.tgt_length;
  const int64_t scores = SaturatingMul(
      o.heads,
      SaturatingAdd(SaturatingAdd(SaturatingMul(s, s), SaturatingMul(t, t)),
                    SaturatingMul(s, t)));
  const auto [len_field, len] =
      LargestField({{"seq2seq.src_length", s}, {"seq2seq.tgt_length", t}});
  return CheckFitsBudget(len_field, len,
                         "attention scores for a single sentence",
                         SaturatingMul(scores, dtype), budget);
}

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
  ASSIGN_OR_RETURN(o.activation, ParseTransformerActivation(
                                     "seq2seq.activation", s.activation()));
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

absl::StatusOr<Graph> BuildModel(const ModelSpec& spec,
                                 const MemoryBudget& budget) {
  if (spec.has_bert()) {
    ASSIGN_OR_RETURN(BertOptions o, BertOptionsFromSpec(spec));
    return BuildBertGraph(o, budget);
  }
  if (IsTorchLayerSpec(spec)) {
    ASSIGN_OR_RETURN(DType dtype, ParseDType(spec.dtype()));
    return BuildTorchLayerModel(spec, dtype, budget);
  }
  if (spec.has_seq2seq()) {
    ASSIGN_OR_RETURN(Seq2SeqOptions o, Seq2SeqOptionsFromSpec(spec));
    RETURN_IF_ERROR(CheckSeq2SeqLimits(o, budget));
    return BuildSeq2SeqTrainingGraph(o);
  }
  ASSIGN_OR_RETURN(RecurrentStackOptions options, StackOptions(spec));
  RETURN_IF_ERROR(CheckStackLimits(spec, options, budget));
  const int64_t steps = spec.input().steps(),
                features = spec.input().features();
  const bool batch_first =
      !spec.recurrent().has_batch_first() || spec.recurrent().batch_first();
  GraphBuilder b("model spec", "");
  const std::string x =
      b.Input(OrDefault(spec.input().name(), "x"), options.layer.dtype,
              batch_first ? std::vector<int64_t>{-1, steps, features}
                          : std::vector<int64_t>{steps, -1, features});
  const std::string time_major =
      batch_first ? b.Op(absl::StrCat(x, "/time_major"), "Transpose", {x})
                        .AttrInts("perm", {1, 0, 2})
                  : x;
  const bool bare = !spec.has_head();
  if (bare) AddStackInputs(spec, b, &options);
  absl::StatusOr<RecurrentStack> stack =
      AddRecurrentStack(time_major, options, b.staging());
  if (!stack.ok()) return Annotate(stack.status(), "recurrent");
  std::vector<std::string> outputs = {"loss"};
  if (bare) {
    outputs = AddStackOutputs(options, *stack, batch_first, b);
  } else {
    AddLoss(spec, options.layer.dtype, AddHead(spec, options, *stack, b), b);
  }
  // Names chosen in the spec may collide (an input called "loss", a head
  // named like the stack): Commit names the duplicate.
  Graph g;
  RETURN_IF_ERROR(b.Commit(&g));
  for (const std::string& output : outputs) g.add_output(output);
  ASSIGN_OR_RETURN(ValidGraph valid,
                   ValidateGraph(LoadedGraph{g, SourceMap("model spec")}));
  return std::move(valid).Release().first.graph;
}

std::vector<Metric> DefaultMetrics(const ModelSpec& spec) {
  auto metric = [](const char* name, const std::string& logits,
                   const std::string& labels, const std::string& weights,
                   const char* kind = "") {
    Metric m;
    m.set_name(name);
    m.set_logits(logits);
    m.set_labels(labels);
    m.set_weights(weights);
    m.set_kind(kind);
    return m;
  };
  if (spec.has_bert() && spec.bert().num_labels() > 0) {
    return {metric("accuracy", "logits", "labels", ""),
            metric("macro_f1", "logits", "labels", "", "macro_f1")};
  }
  if (spec.has_bert()) {
    return {metric("mlm_accuracy", "mlm_logits", "masked_lm_ids",
                   "masked_lm_weights"),
            metric("nsp_accuracy", "nsp_logits", "next_sentence_labels", "")};
  }
  if (spec.has_seq2seq() || !spec.loss().has_cross_entropy()) return {};
  return {metric("accuracy", OrDefault(spec.head().name(), "head") + "/output",
                 OrDefault(spec.loss().cross_entropy().labels(), "labels"),
                 "")};
}

absl::StatusOr<ModelSpec> ParseModelSpec(absl::string_view text,
                                         const std::string& name) {
  ModelSpec spec;
  RETURN_IF_ERROR(ParseTextProto(text, name, kMaxSpecBytes, &spec));
  return spec;
}

absl::StatusOr<ModelSpec> LoadModelSpec(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxSpecBytes));
  return ParseModelSpec(text, path);
}

absl::StatusOr<Graph> BuildModelFile(const std::string& path,
                                     const MemoryBudget& budget) {
  ASSIGN_OR_RETURN(ModelSpec spec, LoadModelSpec(path));
  absl::StatusOr<Graph> g = BuildModel(spec, budget);
  if (!g.ok()) return Annotate(g.status(), path);
  return g;
}

}  // namespace rill
