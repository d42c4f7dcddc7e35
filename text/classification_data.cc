#include "text/classification_data.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/name_list.h"

namespace rill {
namespace {

bool Blank(std::string_view s) {
  return absl::StripAsciiWhitespace(absl::string_view(s.data(), s.size()))
      .empty();
}

// One line's columns before the labels are known.
struct Row {
  std::string label;
  std::vector<int32_t> a, b;
  int64_t line = 0;
};

absl::StatusOr<std::vector<int32_t>> Tokens(std::string_view text,
                                            const char* column,
                                            const std::string& source,
                                            int64_t line,
                                            const BertTokenizer& tokenizer) {
  std::vector<int32_t> ids;
  absl::Status s = tokenizer.Encode(text, &ids);
  if (!s.ok()) {
    return LineError(source, line, absl::StrCat(column, ": ", s.message()));
  }
  if (ids.empty()) {
    return LineError(source, line,
                     absl::StrCat(column, " is empty (no token in it)"));
  }
  return ids;
}

absl::StatusOr<Row> ParseRow(std::string_view line, const std::string& source,
                             int64_t number, const BertTokenizer& tokenizer) {
  std::vector<absl::string_view> columns =
      absl::StrSplit(absl::string_view(line.data(), line.size()), '\t');
  if (columns.size() < 2 || columns.size() > 3) {
    return LineError(source, number,
                     absl::StrCat(columns.size(),
                                  " columns: expected label<TAB>text or "
                                  "label<TAB>text<TAB>text_b"));
  }
  Row row;
  row.line = number;
  row.label = std::string(absl::StripAsciiWhitespace(columns[0]));
  if (row.label.empty()) return LineError(source, number, "empty label");
  ASSIGN_OR_RETURN(
      row.a, Tokens(std::string_view(columns[1].data(), columns[1].size()),
                    "text", source, number, tokenizer));
  if (columns.size() == 3) {
    ASSIGN_OR_RETURN(
        row.b, Tokens(std::string_view(columns[2].data(), columns[2].size()),
                      "text_b", source, number, tokenizer));
  }
  return row;
}

}  // namespace

absl::StatusOr<LabelledText> ReadLabelledText(
    std::string_view text, const std::string& source,
    const BertTokenizer& tokenizer, std::vector<std::string>* label_names) {
  std::vector<Row> rows;
  int64_t number = 0;
  for (std::string_view line : TextLines(text)) {
    ++number;
    if (Blank(line)) {
      return LineError(source, number, "empty line: expected label<TAB>text");
    }
    ASSIGN_OR_RETURN(Row row, ParseRow(line, source, number, tokenizer));
    rows.push_back(std::move(row));
  }
  if (rows.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no examples (label<TAB>text lines)"));
  }
  if (label_names->empty()) {
    std::set<std::string> found;
    for (const Row& r : rows) found.insert(r.label);
    label_names->assign(found.begin(), found.end());
  }
  std::map<std::string, int64_t> ids;
  for (size_t i = 0; i < label_names->size(); ++i) ids[(*label_names)[i]] = i;
  LabelledText out;
  for (Row& r : rows) {
    auto it = ids.find(r.label);
    if (it == ids.end()) {
      return LineError(
          source, r.line,
          absl::StrCat("unknown label '", r.label, "': the labels are ",
                       absl::StrJoin(*label_names, ", ")));
    }
    out.pairs |= !r.b.empty();
    out.examples.push_back(
        {it->second, std::move(r.a), std::move(r.b), r.line});
  }
  return out;
}

std::vector<int32_t> MostFrequentPieces(
    const std::vector<LabelledExample>& examples, int64_t n) {
  std::map<int32_t, int64_t> counts;
  for (const LabelledExample& e : examples) {
    for (const auto* text : {&e.a, &e.b}) {
      for (int32_t id : *text) ++counts[id];
    }
  }
  std::vector<std::pair<int64_t, int32_t>> order;  // (-count, id)
  for (const auto& [id, count] : counts) order.push_back({-count, id});
  std::sort(order.begin(), order.end());
  std::vector<int32_t> pieces;
  for (size_t i = 0; i < order.size() && static_cast<int64_t>(i) < n; ++i) {
    pieces.push_back(order[i].second);
  }
  return pieces;
}

ClassifierTokens ClassifierInput(std::vector<int32_t> a, std::vector<int32_t> b,
                                 int32_t cls, int32_t sep,
                                 int64_t max_seq_length) {
  ClassifierTokens t;
  const bool pair = !b.empty();
  // Tokens from the end of the longer segment (B's on a tie), as
  // run_classifier.py's _truncate_seq_pair, until the pair fits.
  const size_t room = static_cast<size_t>(max_seq_length) - (pair ? 3 : 2);
  while (a.size() + b.size() > room) {
    (a.size() > b.size() ? a : b).pop_back();
    t.cut = true;
  }
  t.ids = {cls};
  t.ids.insert(t.ids.end(), a.begin(), a.end());
  t.ids.push_back(sep);
  t.b_start = t.ids.size();
  if (pair) {
    t.ids.insert(t.ids.end(), b.begin(), b.end());
    t.ids.push_back(sep);
  }
  return t;
}

absl::StatusOr<ClassificationArrays> MakeClassificationArrays(
    const std::vector<LabelledExample>& examples, const Vocab& vocab,
    int64_t max_seq_length, const std::vector<int32_t>& bow_pieces) {
  const int32_t cls = vocab.Find("[CLS]"), sep = vocab.Find("[SEP]");
  if (cls < 0 || sep < 0) {
    return absl::InvalidArgumentError("the vocabulary has no [CLS] or [SEP]");
  }
  const int64_t n = static_cast<int64_t>(examples.size()), s = max_seq_length;
  ClassificationArrays out;
  for (const char* name : {"input_ids", "token_type_ids", "attention_mask"}) {
    ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kI64, Shape{n, s}));
    out.arrays.push_back({name, std::move(t)});
  }
  ASSIGN_OR_RETURN(Tensor labels, Tensor::Allocate(DType::kI64, Shape{n}));
  for (int64_t r = 0; r < n; ++r) {
    const LabelledExample& e = examples[r];
    labels.data<int64_t>()[r] = e.label;
    const ClassifierTokens t = ClassifierInput(e.a, e.b, cls, sep, s);
    out.truncated += t.cut;
    const std::vector<int32_t>& tokens = t.ids;
    const size_t b_start = t.b_start;
    int64_t* ids = out.arrays[0].second.data<int64_t>() + r * s;
    int64_t* types = out.arrays[1].second.data<int64_t>() + r * s;
    int64_t* mask = out.arrays[2].second.data<int64_t>() + r * s;
    for (size_t i = 0; i < tokens.size(); ++i) {
      ids[i] = tokens[i];
      types[i] = i >= b_start;
      mask[i] = 1;
    }
  }
  out.arrays.push_back({"labels", std::move(labels)});
  if (bow_pieces.empty()) return out;
  const int64_t f = static_cast<int64_t>(bow_pieces.size());
  std::map<int32_t, int64_t> feature;
  for (int64_t k = 0; k < f; ++k) feature[bow_pieces[k]] = k;
  ASSIGN_OR_RETURN(Tensor bow, Tensor::Allocate(DType::kF32, Shape{n, f}));
  for (int64_t r = 0; r < n; ++r) {
    for (const auto* text : {&examples[r].a, &examples[r].b}) {
      for (int32_t id : *text) {
        auto it = feature.find(id);
        if (it != feature.end()) bow.data<float>()[r * f + it->second] += 1;
      }
    }
  }
  out.arrays.push_back({"bow", std::move(bow)});
  return out;
}

}  // namespace rill
