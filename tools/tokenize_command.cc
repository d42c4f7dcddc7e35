// `rill tokenize`: BERT's WordPiece tokenizer over lines of text, and the
// vocabulary builder (--build_vocab).

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/file_io.h"
#include "text/vocab_builder.h"
#include "text/wordpiece.h"
#include "tools/commands.h"
#include "tools/tokenizer_flags.h"

namespace rill {
namespace {

constexpr int64_t kMaxVocabSize = int64_t{1} << 24;

// The flags of `rill tokenize`.
struct {
  TokenizerFlagValues tokenizer;
  std::string input, output, build_vocab;
  bool pieces = false;
} flags;

absl::Status BuildVocab(const BertTokenizerOptions& tokenizer) {
  VocabBuilderOptions options;
  options.tokenizer = tokenizer;
  ASSIGN_OR_RETURN(
      options.vocab_size,
      PositiveFlag("build_vocab", flags.build_vocab, kMaxVocabSize));
  const std::string& input = flags.input;
  const std::string& output = flags.output;
  ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadTextLines(input));
  VocabBuildStats stats;
  ASSIGN_OR_RETURN(std::vector<std::string> vocab,
                   BuildWordPieceVocab(lines, input.empty() ? "<stdin>" : input,
                                       options, &stats));
  std::string text;
  for (const std::string& token : vocab) absl::StrAppend(&text, token, "\n");
  RETURN_IF_ERROR(WriteFileAtomic(output, text));
  std::fprintf(
      stderr,
      "%s: %zu tokens (5 special, %lld character pieces, %lld "
      "merged) from %lld words, %lld distinct",
      output.c_str(), vocab.size(), static_cast<long long>(stats.characters),
      static_cast<long long>(stats.merged), static_cast<long long>(stats.words),
      static_cast<long long>(stats.distinct_words));
  if (stats.skipped_words > 0) {
    std::fprintf(stderr, "; %lld words over %d characters left out",
                 static_cast<long long>(stats.skipped_words),
                 tokenizer.max_input_chars_per_word > 0
                     ? tokenizer.max_input_chars_per_word
                     : DefaultMaxInputCharsPerWord(tokenizer.mode));
  }
  std::fprintf(stderr, "\n");
  return absl::OkStatus();
}

absl::Status Tokenize(const BertTokenizerOptions& options) {
  ASSIGN_OR_RETURN(Vocab vocab, Vocab::Load(flags.tokenizer.vocab));
  const std::string& input = flags.input;
  ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadTextLines(input));
  const BertTokenizer tokenizer(&vocab, options);
  const bool pieces = flags.pieces;
  std::string out;
  std::vector<int32_t> ids;
  for (size_t i = 0; i < lines.size(); ++i) {
    ids.clear();
    absl::Status status = tokenizer.Encode(lines[i], &ids);
    if (!status.ok()) {
      return Annotate(
          status, absl::StrCat(input.empty() ? "<stdin>" : input, ":", i + 1));
    }
    for (size_t k = 0; k < ids.size(); ++k) {
      if (k > 0) out.push_back(' ');
      if (pieces) {
        out.append(vocab.token(ids[k]));
      } else {
        absl::StrAppend(&out, ids[k]);
      }
    }
    out.push_back('\n');
    if (out.size() > (1 << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return absl::OkStatus();
}

}  // namespace

std::vector<Flag> TokenizeFlags() {
  return WithTokenizerFlags(
      &flags.tokenizer,
      {
          WithAlias(StringFlag("input", &flags.input,
                               "The text to tokenize, or the corpus to build "
                               "a vocabulary from. Default: stdin."),
                    "i"),
          OutputFlag(&flags.output,
                     "Where --build_vocab writes the vocabulary (the tokens "
                     "of text go to stdout)."),
          SwitchFlag("pieces", &flags.pieces,
                     "Print the WordPiece tokens instead of ids."),
          StringFlag("build_vocab", &flags.build_vocab,
                     "Instead of tokenizing, build a WordPiece vocabulary of "
                     "this many tokens from the corpus (-i) and write it to "
                     "-o."),
      });
}

absl::Status CheckTokenizeFlags(const Operands&) {
  RETURN_IF_ERROR(TokenizerOptionsFromFlags(flags.tokenizer).status());
  const bool build = !flags.build_vocab.empty();
  if (build) {
    RETURN_IF_ERROR(
        PositiveFlag("build_vocab", flags.build_vocab, kMaxVocabSize).status());
    if (flags.output.empty()) {
      return absl::InvalidArgumentError(
          "--build_vocab writes the vocabulary to -o FILE: name it");
    }
    if (!flags.tokenizer.vocab.empty() || flags.pieces) {
      return absl::InvalidArgumentError(
          "--build_vocab makes a vocabulary: it takes no --vocab or --pieces");
    }
    return absl::OkStatus();
  }
  if (flags.tokenizer.vocab.empty()) {
    return absl::InvalidArgumentError(
        "name the vocabulary with --vocab vocab.txt (or build one with "
        "--build_vocab SIZE)");
  }
  if (!flags.output.empty()) {
    return absl::InvalidArgumentError(
        "-o is for --build_vocab; the tokens go to stdout");
  }
  return absl::OkStatus();
}

absl::Status RunTokenize(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(BertTokenizerOptions options,
                   TokenizerOptionsFromFlags(flags.tokenizer));
  if (!flags.build_vocab.empty()) return BuildVocab(options);
  return Tokenize(options);
}

}  // namespace rill
