// `rill bert make-classification-data`: labelled text (label<TAB>text
// [<TAB>text_b]) as the arrays of BERT's sequence (pair) classifier
// (text/classification_data.h), and optionally bag-of-words features for a
// linear baseline. The `bert` command (tools/bert_command.cc) holds the
// flags it shares with make-data.

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/file_io.h"
#include "core/name_list.h"
#include "core/npy.h"
#include "core/output_directory.h"
#include "text/classification_data.h"
#include "text/wordpiece.h"
#include "tools/commands.h"
#include "tools/tokenizer_flags.h"

namespace rill {
namespace {

// The flags only make-classification-data takes.
struct {
  std::string labels, bow_vocab;
  int64_t bag_of_words = 0;
} flags;

constexpr int64_t kMaxListBytes = 64 << 20;

// "name\n" per entry.
std::string LinesOf(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& n : names) absl::StrAppend(&text, n, "\n");
  return text;
}

// The bag-of-words pieces of --bow_vocab (tokens, one per line, as a
// previous run wrote them), as ids of `vocab`.
absl::StatusOr<std::vector<int32_t>> ReadBowPieces(const Vocab& vocab) {
  ASSIGN_OR_RETURN(std::string text,
                   ReadFileCapped(flags.bow_vocab, kMaxListBytes));
  ASSIGN_OR_RETURN(std::vector<std::string> tokens,
                   ParseNameList(text, flags.bow_vocab, "wordpiece"));
  std::vector<int32_t> ids;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t id = vocab.Find(tokens[i]);
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(flags.bow_vocab, ":", i + 1, ": '", tokens[i],
                       "' is not in the vocabulary"));
    }
    ids.push_back(id);
  }
  return ids;
}

void PrintSummary(const BertClassifyShared& shared, const LabelledText& data,
                  const std::vector<std::string>& names,
                  const ClassificationArrays& made, int64_t features) {
  std::vector<int64_t> counts(names.size());
  for (const LabelledExample& e : data.examples) ++counts[e.label];
  std::vector<std::string> per_label;
  for (size_t c = 0; c < names.size(); ++c) {
    per_label.push_back(absl::StrCat(names[c], " ", counts[c]));
  }
  std::printf("%s: %zu %s (%s); %lld truncated to %lld tokens%s\n",
              shared.output.c_str(), data.examples.size(),
              data.pairs ? "sentence pairs" : "texts",
              absl::StrJoin(per_label, ", ").c_str(),
              static_cast<long long>(made.truncated),
              static_cast<long long>(shared.max_seq_length),
              features > 0
                  ? absl::StrCat("; bow over ", features, " wordpieces").c_str()
                  : "");
}

}  // namespace

std::vector<Flag> BertClassifyFlags() {
  return {
      StringFlag("labels", &flags.labels,
                 "make-classification-data: the label names, one per line "
                 "(id = line from 0), e.g. the training set's DIR/labels.txt; "
                 "default: the input's names, sorted."),
      IntFlag("bag_of_words", &flags.bag_of_words,
              "make-classification-data: also write bow.npy, f32 [n, N]: "
              "each text's counts of the input's N most frequent "
              "wordpieces (listed in DIR/bow_vocab.txt)."),
      StringFlag("bow_vocab", &flags.bow_vocab,
                 "make-classification-data: bow.npy over these wordpieces "
                 "(a training set's DIR/bow_vocab.txt), so that validation "
                 "features match training's.")};
}

absl::Status CheckBertClassify(const BertClassifyShared& shared) {
  if (flags.bag_of_words < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bag_of_words ", flags.bag_of_words,
                     ": give a whole number >= 1 (or leave it out)"));
  }
  if (flags.bag_of_words > 0 && !flags.bow_vocab.empty()) {
    return absl::InvalidArgumentError(
        "--bag_of_words and --bow_vocab exclude each other: the training "
        "set picks the pieces, the others reuse its bow_vocab.txt");
  }
  return CheckAtLeast("--max_seq_length", shared.max_seq_length, 3);
}

absl::Status RunBertClassify(const BertClassifyShared& shared) {
  RETURN_IF_ERROR(CheckNewOutputDirectory(shared.output));
  ASSIGN_OR_RETURN(BertTokenizerOptions options,
                   TokenizerOptionsFromFlags(shared.tokenizer));
  ASSIGN_OR_RETURN(Vocab vocab, Vocab::Load(shared.tokenizer.vocab));
  std::vector<std::string> names;
  if (!flags.labels.empty()) {
    ASSIGN_OR_RETURN(std::string text,
                     ReadFileCapped(flags.labels, kMaxListBytes));
    ASSIGN_OR_RETURN(names, ParseNameList(text, flags.labels));
  }
  ASSIGN_OR_RETURN(std::string text,
                   ReadFileCapped(shared.input, CommonFlags().max_file_bytes));
  const BertTokenizer tokenizer(&vocab, options);
  ASSIGN_OR_RETURN(LabelledText data,
                   ReadLabelledText(text, shared.input, tokenizer, &names));
  std::vector<int32_t> pieces;
  if (flags.bag_of_words > 0) {
    pieces = MostFrequentPieces(data.examples, flags.bag_of_words);
  } else if (!flags.bow_vocab.empty()) {
    ASSIGN_OR_RETURN(pieces, ReadBowPieces(vocab));
  }
  ASSIGN_OR_RETURN(ClassificationArrays made,
                   MakeClassificationArrays(data.examples, vocab,
                                            shared.max_seq_length, pieces));
  RETURN_IF_ERROR(WriteDirectoryWhole(
      shared.output, [&](const std::string& partial) -> absl::Status {
        for (const auto& [name, tensor] : made.arrays) {
          RETURN_IF_ERROR(
              WriteNpy(absl::StrCat(partial, "/", name, ".npy"), tensor));
        }
        RETURN_IF_ERROR(
            WriteFileAtomic(partial + "/labels.txt", LinesOf(names)));
        if (pieces.empty()) return absl::OkStatus();
        std::vector<std::string> tokens;
        for (int32_t id : pieces) tokens.push_back(vocab.token(id));
        return WriteFileAtomic(partial + "/bow_vocab.txt", LinesOf(tokens));
      }));
  PrintSummary(shared, data, names, made, static_cast<int64_t>(pieces.size()));
  return absl::OkStatus();
}

}  // namespace rill
