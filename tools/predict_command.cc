// `rill predict`: a text classifier exported by `rill export` (Inputs
// input_ids [, token_type_ids, attention_mask], i64 [B, S]; output logits
// [B, num_labels]) run on lines of text, in inference mode.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/file_io.h"
#include "core/name_list.h"
#include "runtime/model.h"
#include "text/classification_data.h"
#include "text/wordpiece.h"
#include "tools/commands.h"

namespace rill {
namespace {

struct {
  std::string input, output, vocab, labels;
  bool lowercase = false, probabilities = false;
  int64_t batch_size = 32;
} predict_flags;

// What predict reads of the model.
struct Classifier {
  std::unique_ptr<Executor> executor;
  int64_t seq_length = 0, num_labels = 0;
  // The batch the Inputs fix (an exported graph built for one batch size),
  // or 0 when it is symbolic.
  int64_t fixed_batch = 0;
  bool has_types = false, has_mask = false;
};

absl::StatusOr<Classifier> OpenClassifier(const std::string& dir) {
  LoadModelOptions o;
  o.executor = ExecutorOptionsFromFlags();
  o.max_file_bytes = CommonFlags().max_file_bytes;
  o.memory_budget = CommonFlags().memory_budget.bytes;
  Classifier c;
  ASSIGN_OR_RETURN(c.executor, LoadModel(dir, o));
  const ValidGraph& g = c.executor->graph();
  const char* kWant =
      ": not a text classifier (it needs Inputs input_ids and optionally "
      "token_type_ids, attention_mask, i64 [B, S], and an output logits "
      "[B, num_labels])";
  for (const char* name : {"input_ids", "token_type_ids", "attention_mask"}) {
    const int n = g.FindNode(name);
    const bool required = std::string(name) == "input_ids";
    if (n < 0 && !required) continue;
    if (n < 0 || g.node_op(n) != "Input" ||
        g.info(n).dtypes[0] != DType::kI64 || g.info(n).shapes[0].rank() != 2 ||
        g.info(n).shapes[0].dim(1) <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, kWant, "; its '", name, "' is not one"));
    }
    c.seq_length = g.info(n).shapes[0].dim(1);
    c.fixed_batch = std::max<int64_t>(0, g.info(n).shapes[0].dim(0));
    c.has_types |= std::string(name) == "token_type_ids";
    c.has_mask |= std::string(name) == "attention_mask";
  }
  const int logits = g.FindNode("logits");
  if (logits < 0 || g.info(logits).shapes[0].rank() != 2 ||
      g.info(logits).shapes[0].dim(1) <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, kWant, "; it has no such logits"));
  }
  c.num_labels = g.info(logits).shapes[0].dim(1);
  return c;
}

absl::StatusOr<std::vector<std::string>> LabelNames(const std::string& path,
                                                    int64_t num_labels) {
  std::vector<std::string> names;
  if (path.empty()) {
    for (int64_t i = 0; i < num_labels; ++i) names.push_back(absl::StrCat(i));
    return names;
  }
  ASSIGN_OR_RETURN(std::string text,
                   ReadFileCapped(path, CommonFlags().max_file_bytes));
  ASSIGN_OR_RETURN(names, ParseNameList(text, path));
  if (static_cast<int64_t>(names.size()) != num_labels) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", names.size(),
                     " labels, but the model's logits "
                     "have ",
                     num_labels, " columns"));
  }
  return names;
}

// One output line per input row of `logits`.
void AppendPredictions(const Tensor& logits, int64_t rows,
                       const std::vector<std::string>& names,
                       std::string* out) {
  const int64_t width = logits.shape().dim(1);
  std::vector<double> p(width);
  for (int64_t r = 0; r < rows; ++r) {
    double top = -INFINITY, sum = 0;
    for (int64_t k = 0; k < width; ++k) {
      p[k] = logits.ElementAsDouble(r * width + k);
      top = std::max(top, p[k]);
    }
    for (double& v : p) sum += (v = std::exp(v - top));
    const int64_t best = std::max_element(p.begin(), p.end()) - p.begin();
    absl::StrAppend(out, names[best]);
    if (predict_flags.probabilities) {
      for (double v : p)
        absl::StrAppend(out, absl::StrFormat("\t%.6f", v / sum));
    }
    absl::StrAppend(out, "\n");
  }
}

}  // namespace

std::vector<Flag> PredictFlags() {
  auto& f = predict_flags;
  return {WithAlias(StringFlag("input", &f.input,
                               "The texts, one example a line (a TAB "
                               "separates sentence A and B of a pair)."),
                    "i"),
          OutputFlag(&f.output,
                     "The TSV file to write (atomically) instead of stdout."),
          StringFlag("vocab", &f.vocab,
                     "The WordPiece vocabulary. Default: the model's."),
          SwitchFlag("lowercase", &f.lowercase,
                     "Lowercase and strip accents (uncased BERT). Default: "
                     "as the model was exported."),
          StringFlag("labels", &f.labels,
                     "The label names, one a line in logits' column order. "
                     "Default: the model's, or the label ids."),
          SwitchFlag("probabilities", &f.probabilities,
                     "After each label, the softmax probability of every "
                     "label, TAB-separated, in logits' column order."),
          IntFlag("batch_size", &f.batch_size,
                  "Examples per run. A model whose Inputs fix the batch runs "
                  "that many instead."),
          BackendFlag(),
          ThreadsFlag(),
          MemoryBudgetFlag(),
          MaxFileFlag()};
}

absl::Status CheckPredictFlags(const Operands&) {
  if (predict_flags.input.empty()) {
    return absl::InvalidArgumentError("name the texts with -i TEXTS");
  }
  if (predict_flags.batch_size < 1) {
    return absl::InvalidArgumentError("--batch_size must be at least 1");
  }
  return absl::OkStatus();
}

absl::Status RunPredict(const Operands& operands) {
  const auto& f = predict_flags;
  const std::string& dir = operands[0];
  if (!IsModelDir(dir)) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": not a model directory from `rill export` (no ",
                     kModelManifestFile, ")"));
  }
  ASSIGN_OR_RETURN(ModelManifest manifest, ReadModelManifest(dir));
  const std::string vocab_path = f.vocab.empty() ? manifest.vocab : f.vocab;
  if (vocab_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir,
        " bundles no vocabulary; name one with --vocab (or export the "
        "model with --vocab)"));
  }
  ASSIGN_OR_RETURN(Classifier model, OpenClassifier(dir));
  ASSIGN_OR_RETURN(std::vector<std::string> names,
                   LabelNames(f.labels.empty() ? manifest.labels : f.labels,
                              model.num_labels));
  ASSIGN_OR_RETURN(Vocab vocab, Vocab::Load(vocab_path));
  BertTokenizerOptions options;
  options.lowercase = f.lowercase || (f.vocab.empty() && manifest.lowercase);
  BertTokenizer tokenizer(&vocab, options);
  const int32_t cls = vocab.Find("[CLS]"), sep = vocab.Find("[SEP]");
  if (cls < 0 || sep < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(vocab_path, ": the vocabulary has no [CLS] or [SEP]"));
  }
  ASSIGN_OR_RETURN(std::string text,
                   ReadFileCapped(f.input, CommonFlags().max_file_bytes));
  std::vector<std::string> lines =
      absl::StrSplit(absl::StripSuffix(text, "\n"), '\n');
  if (text.empty()) lines.clear();
  const int64_t s = model.seq_length, n = static_cast<int64_t>(lines.size());
  std::string out;
  int64_t truncated = 0;
  // A model built for one batch size runs that many rows at a time, the
  // last batch filled up with empty texts whose predictions are dropped.
  const int64_t batch =
      model.fixed_batch > 0 ? model.fixed_batch : f.batch_size;
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t rows = std::min(batch, n - begin);
    const int64_t fed_rows = model.fixed_batch > 0 ? batch : rows;
    std::map<std::string, Tensor> feeds;
    for (const char* name : {"input_ids", "token_type_ids", "attention_mask"}) {
      ASSIGN_OR_RETURN(Tensor t,
                       Tensor::Allocate(DType::kI64, Shape{fed_rows, s}));
      std::fill_n(t.data<int64_t>(), fed_rows * s, 0);
      feeds[name] = std::move(t);
    }
    for (int64_t r = 0; r < fed_rows; ++r) {
      const std::string line(
          r < rows ? absl::StripSuffix(lines[begin + r], "\r") : "");
      std::vector<std::string> parts = absl::StrSplit(line, '\t');
      if (parts.size() > 2) {
        return absl::InvalidArgumentError(absl::StrCat(
            f.input, ":", begin + r + 1,
            ": more than one TAB (a line is a text, or two joined by a TAB)"));
      }
      std::vector<int32_t> a, b;
      absl::Status encoded = tokenizer.Encode(parts[0], &a);
      if (encoded.ok() && parts.size() == 2)
        encoded = tokenizer.Encode(parts[1], &b);
      if (!encoded.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(f.input, ":", begin + r + 1, ": ", encoded.message()));
      }
      const ClassifierTokens t =
          ClassifierInput(std::move(a), std::move(b), cls, sep, s);
      truncated += r < rows && t.cut;
      for (size_t i = 0; i < t.ids.size(); ++i) {
        feeds["input_ids"].data<int64_t>()[r * s + i] = t.ids[i];
        feeds["token_type_ids"].data<int64_t>()[r * s + i] = i >= t.b_start;
        feeds["attention_mask"].data<int64_t>()[r * s + i] = 1;
      }
    }
    if (!model.has_types) feeds.erase("token_type_ids");
    if (!model.has_mask) feeds.erase("attention_mask");
    ASSIGN_OR_RETURN(std::vector<Tensor> logits,
                     model.executor->RunNoCopy(feeds, {"logits"}));
    AppendPredictions(logits[0], rows, names, &out);
  }
  if (truncated > 0) {
    std::fprintf(stderr, "rill: %lld of %lld lines cut to %lld tokens\n",
                 static_cast<long long>(truncated), static_cast<long long>(n),
                 static_cast<long long>(s));
  }
  if (f.output.empty()) {
    std::fwrite(out.data(), 1, out.size(), stdout);
    return absl::OkStatus();
  }
  return WriteFileAtomic(f.output, out);
}

}  // namespace rill
