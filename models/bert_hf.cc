#include "models/bert_hf.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "core/npy.h"
#include "core/status.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "models/bert.h"
#include "models/rnn_weights.h"

namespace rill {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr int64_t kMaxConfigBytes = 1 << 20;
constexpr char kWordEmbeddings[] = "bert.embeddings.word_embeddings.weight";
constexpr char kPositionIds[] = "bert.embeddings.position_ids";

// Reads the fields of a parsed config.json, each error naming its key.
class ConfigReader {
 public:
  ConfigReader(const Struct& json, std::string source)
      : json_(json), source_(std::move(source)) {}

  absl::Status Error(const std::string& key, const std::string& why) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", key, ": ", why));
  }

  absl::StatusOr<const Value*> Find(const std::string& key) const {
    auto it = json_.fields().find(key);
    if (it == json_.fields().end()) return Error(key, "missing");
    return &it->second;
  }

  absl::StatusOr<double> Number(const std::string& key) const {
    ASSIGN_OR_RETURN(const Value* v, Find(key));
    if (v->kind_case() != Value::kNumberValue) {
      return Error(key, "expected a number");
    }
    return v->number_value();
  }

  absl::StatusOr<int64_t> Int(const std::string& key) const {
    ASSIGN_OR_RETURN(double d, Number(key));
    if (!(d >= 1 && d <= 1e15 && d == std::floor(d))) {
      return Error(key, absl::StrCat(d, ": expected a whole number >= 1"));
    }
    return static_cast<int64_t>(d);
  }

  absl::StatusOr<std::string> String(const std::string& key) const {
    ASSIGN_OR_RETURN(const Value* v, Find(key));
    if (v->kind_case() != Value::kStringValue) {
      return Error(key, "expected a string");
    }
    return v->string_value();
  }

  bool Has(const std::string& key) const {
    return json_.fields().contains(key);
  }

 private:
  const Struct& json_;
  std::string source_;
};

// The .npy stems in `dir`.
absl::StatusOr<std::set<std::string>> NpyStems(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": cannot list the directory: ", ec.message()));
  }
  std::set<std::string> stems;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".npy")) {
      stems.insert(name.substr(0, name.size() - 4));
    }
  }
  return stems;
}

// The Parameters of a BERT graph, in graph order; fails on a graph that is
// not one.
absl::StatusOr<std::vector<std::string>> BertParameterNodes(
    const Graph& graph) {
  std::vector<std::string> nodes;
  bool has_word = false;
  for (const Node& n : graph.node()) {
    if (n.op() != "Parameter") continue;
    if (!absl::StartsWith(n.name(), "bert.") &&
        !absl::StartsWith(n.name(), "cls.") &&
        !absl::StartsWith(n.name(), "classifier.")) {
      return absl::InvalidArgumentError(
          absl::StrCat("Parameter ", n.name(),
                       ": not a BERT parameter (bert.*, cls.* or "
                       "classifier.*)"));
    }
    has_word |= n.name() == kWordEmbeddings;
    nodes.push_back(n.name());
  }
  if (!has_word) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a BERT graph: it has no Parameter ", kWordEmbeddings));
  }
  return nodes;
}

// The tied entries, in a pretraining graph (one with the MLM head's
// bias); none in a classifier's.
std::vector<BertTiedEntry> TiedEntriesOf(
    const std::vector<std::string>& nodes) {
  const bool pretraining = std::find(nodes.begin(), nodes.end(),
                                     "cls.predictions.bias") != nodes.end();
  return pretraining ? BertTiedEntries() : std::vector<BertTiedEntry>();
}

// A Parameter's shape attr (set by BuildBertGraph's initializers or by
// SetParameterValue's tensor), as dims.
absl::StatusOr<std::vector<int64_t>> ParameterDims(const Node& n) {
  auto shape = n.attr().find("shape");
  if (shape != n.attr().end()) {
    return std::vector<int64_t>(shape->second.shape().dim().begin(),
                                shape->second.shape().dim().end());
  }
  auto value = n.attr().find("value");
  if (value != n.attr().end()) {
    return std::vector<int64_t>(value->second.tensor().dims().begin(),
                                value->second.tensor().dims().end());
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Parameter ", n.name(), ": no shape"));
}

double FloatAttrOr(const Node& n, const std::string& name, double fallback) {
  auto it = n.attr().find(name);
  return it == n.attr().end() ? fallback : it->second.f();
}

// A tied entry present in `dir` must hold its source's values.
absl::Status CheckTied(const std::string& dir, const std::string& name,
                       const std::string& source_key) {
  const std::string path = WeightFilePath(dir, name);
  ASSIGN_OR_RETURN(Tensor tied, ReadNpy(path, int64_t{16} << 30));
  ASSIGN_OR_RETURN(Tensor source,
                   ReadNpy(WeightFilePath(dir, source_key), int64_t{16} << 30));
  const std::string where =
      absl::StrCat(path, ": entry '", name, "' (tied to ", source_key, ")");
  if (!(tied.shape() == source.shape())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": shape ", tied.shape().ToString(), ", expected ",
                     source.shape().ToString()));
  }
  for (int64_t i = 0; i < tied.num_elements(); ++i) {
    if (tied.ElementAsDouble(i) != source.ElementAsDouble(i)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": element ", i, " is ", tied.ElementAsDouble(i), ", not ",
          source.ElementAsDouble(i), ": the entries must be equal"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BertSpec> BertSpecFromHfConfig(absl::string_view json,
                                              const std::string& source) {
  Struct parsed;
  google::protobuf::util::JsonParseOptions options;
  const auto status = google::protobuf::util::JsonStringToMessage(
      std::string(json), &parsed, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not a JSON object: ", std::string(status.message())));
  }
  ConfigReader r(parsed, source);
  if (r.Has("model_type")) {
    ASSIGN_OR_RETURN(std::string type, r.String("model_type"));
    if (type != "bert") {
      return r.Error("model_type", absl::StrCat("'", type, "', not 'bert'"));
    }
  }
  BertSpec spec;
  using IntSetter = void (BertSpec::*)(int64_t);
  const std::pair<const char*, IntSetter> ints[] = {
      {"vocab_size", &BertSpec::set_vocab_size},
      {"hidden_size", &BertSpec::set_hidden_size},
      {"num_hidden_layers", &BertSpec::set_num_hidden_layers},
      {"num_attention_heads", &BertSpec::set_num_attention_heads},
      {"intermediate_size", &BertSpec::set_intermediate_size},
      {"max_position_embeddings", &BertSpec::set_max_position_embeddings},
      {"type_vocab_size", &BertSpec::set_type_vocab_size}};
  for (const auto& [key, set] : ints) {
    ASSIGN_OR_RETURN(int64_t v, r.Int(key));
    (spec.*set)(v);
  }
  ASSIGN_OR_RETURN(std::string act, r.String("hidden_act"));
  spec.set_hidden_act(act);
  using DoubleSetter = void (BertSpec::*)(double);
  const std::pair<const char*, DoubleSetter> doubles[] = {
      {"layer_norm_eps", &BertSpec::set_layer_norm_eps},
      {"hidden_dropout_prob", &BertSpec::set_hidden_dropout_prob},
      {"attention_probs_dropout_prob",
       &BertSpec::set_attention_probs_dropout_prob}};
  for (const auto& [key, set] : doubles) {
    ASSIGN_OR_RETURN(double d, r.Number(key));
    (spec.*set)(d);
  }
  // HF writes null for "as hidden_dropout_prob".
  if (r.Has("classifier_dropout") &&
      parsed.fields().at("classifier_dropout").kind_case() !=
          Value::kNullValue) {
    ASSIGN_OR_RETURN(double d, r.Number("classifier_dropout"));
    spec.set_classifier_dropout(d);
  }
  if (r.Has("initializer_range")) {
    ASSIGN_OR_RETURN(double d, r.Number("initializer_range"));
    spec.set_initializer_range(d);
  }
  // The checks of a spec, with sizes that the config does not fix chosen
  // so that only its own fields can fail.
  ModelSpec check;
  *check.mutable_bert() = spec;
  check.mutable_bert()->set_seq_length(spec.max_position_embeddings());
  check.mutable_bert()->set_max_predictions_per_seq(1);
  absl::StatusOr<BertOptions> o = BertOptionsFromSpec(check);
  if (!o.ok()) {
    std::string message(o.status().message());
    if (absl::StartsWith(message, "bert.")) message = message.substr(5);
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", message));
  }
  return spec;
}

absl::StatusOr<BertSpec> ReadHfBertConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxConfigBytes));
  return BertSpecFromHfConfig(text, path);
}

absl::Status ImportHfBertWeights(const std::string& dir, Graph* graph) {
  ASSIGN_OR_RETURN(std::vector<std::string> nodes, BertParameterNodes(*graph));
  ASSIGN_OR_RETURN(std::set<std::string> stems, NpyStems(dir));
  // A BertModel's keys lack "bert." and its files leave the heads alone.
  const bool bert_model = !stems.count(kWordEmbeddings) &&
                          stems.count("embeddings.word_embeddings.weight");
  std::vector<PyTorchWeight> names;
  std::set<std::string> known;
  for (const std::string& node : nodes) {
    std::string key = node;
    if (bert_model) {
      if (!absl::StartsWith(node, "bert.")) continue;
      key = node.substr(5);
    }
    names.push_back({node, key});
    known.insert(key);
    if (!stems.count(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, ": missing entry '", key, "' (", key,
                       ".npy) for Parameter ", node));
    }
  }
  const std::string position_ids =
      bert_model ? std::string(kPositionIds).substr(5) : kPositionIds;
  for (const std::string& stem : stems) {
    if (known.count(stem) || stem == position_ids) continue;
    bool tied = false;
    for (const BertTiedEntry& t : TiedEntriesOf(nodes)) {
      if (bert_model || stem != t.name) continue;
      RETURN_IF_ERROR(CheckTied(dir, t.name, t.same_as));
      tied = true;
    }
    if (!tied) {
      return absl::InvalidArgumentError(absl::StrCat(
          WeightFilePath(dir, stem), ": extra entry '", stem,
          "': not a parameter of ",
          bert_model                     ? "BertModel"
          : TiedEntriesOf(nodes).empty() ? "BertForSequenceClassification"
                                         : "BertForPreTraining",
          " for this graph"));
    }
  }
  return Annotate(ImportWeightFiles(dir, names, graph), dir);
}

absl::Status ExportHfBertWeights(const Graph& graph,
                                 const std::map<std::string, Tensor>& values,
                                 const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> nodes, BertParameterNodes(graph));
  std::vector<PyTorchWeight> names;
  for (const std::string& node : nodes) names.push_back({node, node});
  for (const BertTiedEntry& t : TiedEntriesOf(nodes)) {
    names.push_back({t.same_as, t.name});
  }
  return ExportWeightFiles(graph, names, values, dir);
}

absl::StatusOr<BertSpec> BertSpecFromGraph(const Graph& graph) {
  RETURN_IF_ERROR(BertParameterNodes(graph).status());
  std::map<std::string, std::vector<int64_t>> dims;
  BertSpec spec;
  spec.set_hidden_dropout_prob(0);
  spec.set_attention_probs_dropout_prob(0);
  int64_t layers = 0;
  for (const Node& n : graph.node()) {
    if (n.op() == "Parameter") {
      ASSIGN_OR_RETURN(dims[n.name()], ParameterDims(n));
      while (n.name().rfind(absl::StrCat("bert.encoder.layer.", layers, "."),
                            0) == 0) {
        ++layers;
      }
      // The normal initializer's std; 0.02, HF's default, for values.
      if (n.name() == kWordEmbeddings) {
        spec.set_initializer_range(FloatAttrOr(n, "std", 0.02));
      }
    } else if (n.op() == "Gelu" || n.op() == "GeluTanh") {
      spec.set_hidden_act(n.op() == "Gelu" ? "gelu" : "gelu_new");
    } else if (n.op() == "LayerNorm") {
      spec.set_layer_norm_eps(FloatAttrOr(n, "epsilon", 1e-5));
    } else if (n.op() == "Dropout") {
      const double rate = FloatAttrOr(n, "rate", 0);
      if (absl::StrContains(n.name(), "weights_dropout")) {
        spec.set_attention_probs_dropout_prob(rate);
      } else if (absl::StartsWith(n.name(), "classifier")) {
        spec.set_classifier_dropout(rate);
      } else {
        spec.set_hidden_dropout_prob(rate);
      }
    } else if (n.op() == "Split" && absl::StrContains(n.name(), "q_heads") &&
               spec.num_attention_heads() == 0) {
      auto it = n.attr().find("num_splits");
      if (it != n.attr().end()) spec.set_num_attention_heads(it->second.i());
    }
  }
  auto dim = [&](const std::string& name, int axis) -> absl::StatusOr<int64_t> {
    auto it = dims.find(name);
    if (it == dims.end() || static_cast<int>(it->second.size()) <= axis) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a BERT graph: no 2-d Parameter ", name));
    }
    return it->second[axis];
  };
  ASSIGN_OR_RETURN(int64_t vocab, dim(kWordEmbeddings, 0));
  ASSIGN_OR_RETURN(int64_t hidden, dim(kWordEmbeddings, 1));
  ASSIGN_OR_RETURN(int64_t positions,
                   dim("bert.embeddings.position_embeddings.weight", 0));
  ASSIGN_OR_RETURN(int64_t types,
                   dim("bert.embeddings.token_type_embeddings.weight", 0));
  spec.set_vocab_size(vocab);
  spec.set_hidden_size(hidden);
  spec.set_max_position_embeddings(positions);
  spec.set_type_vocab_size(types);
  spec.set_num_hidden_layers(layers);
  // A classifier without a dropout node was built with rate 0.
  if (dims.count("classifier.weight")) {
    ASSIGN_OR_RETURN(int64_t labels, dim("classifier.weight", 0));
    spec.set_num_labels(labels);
    if (!spec.has_classifier_dropout()) spec.set_classifier_dropout(0);
  }
  if (layers > 0) {
    ASSIGN_OR_RETURN(int64_t ff,
                     dim("bert.encoder.layer.0.intermediate.dense.weight", 0));
    spec.set_intermediate_size(ff);
  }
  if (layers == 0 || spec.num_attention_heads() == 0 ||
      spec.hidden_act().empty()) {
    return absl::InvalidArgumentError(
        "not a BERT graph of models/bert.h: no encoder layer 0 with its "
        "attention heads and activation");
  }
  return spec;
}

std::string HfBertConfigJson(const BertSpec& spec) {
  Struct json;
  auto& f = *json.mutable_fields();
  f["architectures"].mutable_list_value()->add_values()->set_string_value(
      spec.num_labels() > 0 ? "BertForSequenceClassification"
                            : "BertForPreTraining");
  if (spec.num_labels() > 0) {
    f["num_labels"].set_number_value(spec.num_labels());
    f["classifier_dropout"].set_number_value(spec.classifier_dropout());
  }
  f["model_type"].set_string_value("bert");
  f["vocab_size"].set_number_value(spec.vocab_size());
  f["hidden_size"].set_number_value(spec.hidden_size());
  f["num_hidden_layers"].set_number_value(spec.num_hidden_layers());
  f["num_attention_heads"].set_number_value(spec.num_attention_heads());
  f["intermediate_size"].set_number_value(spec.intermediate_size());
  f["hidden_act"].set_string_value(spec.hidden_act());
  f["max_position_embeddings"].set_number_value(spec.max_position_embeddings());
  f["type_vocab_size"].set_number_value(spec.type_vocab_size());
  f["layer_norm_eps"].set_number_value(spec.layer_norm_eps());
  f["hidden_dropout_prob"].set_number_value(spec.hidden_dropout_prob());
  f["attention_probs_dropout_prob"].set_number_value(
      spec.attention_probs_dropout_prob());
  f["initializer_range"].set_number_value(
      spec.has_initializer_range() ? spec.initializer_range() : 0.02);
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string text;
  // A Struct of numbers and strings always prints.
  (void)google::protobuf::util::MessageToJsonString(json, &text, options);
  return text;
}

}  // namespace rill
