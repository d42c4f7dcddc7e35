// `rill bert make-data`: BERT's pretraining examples (text/pretraining_data.h)
// from a corpus, written as .npy shards that `rill train` streams; and the
// dispatch to `bert import-hf|export-hf` (tools/bert_hf_command.cc) and
// `bert make-classification-data` (tools/bert_classify_command.cc).

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/file_io.h"
#include "core/output_directory.h"
#include "core/stopwatch.h"
#include "text/pretraining_data.h"
#include "text/wordpiece.h"
#include "tools/commands.h"
#include "tools/tokenizer_flags.h"

namespace rill {
namespace {

// The flags of `rill bert make-data`, of which -o, --seed and
// --max_predictions_per_seq serve import-hf too.
struct {
  TokenizerFlagValues tokenizer;
  std::string input, output;
  PretrainingDataOptions data;
  int64_t examples_per_shard = 10000;
} flags;

// What the examples hold, for the summary: the masked fraction and its
// 80/10/10 split, and the next-sentence rate.
struct ExampleStats {
  int64_t tokens = 0, masked = 0, as_mask = 0, kept = 0, random_next = 0;
};

ExampleStats Count(const PretrainingExamples& made, int32_t mask_id) {
  ExampleStats s;
  for (const PretrainingExample& e : made.examples) {
    s.tokens += static_cast<int64_t>(e.tokens.size());
    s.masked += static_cast<int64_t>(e.masked_positions.size());
    for (size_t k = 0; k < e.masked_positions.size(); ++k) {
      const int32_t now = e.tokens[e.masked_positions[k]];
      s.as_mask += now == mask_id;
      s.kept += now == e.masked_ids[k];
    }
    s.random_next += e.random_next;
  }
  return s;
}

// "1 document", "2 documents".
std::string Counted(int64_t n, const std::string& noun) {
  return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
}

double Percent(int64_t part, int64_t whole) {
  return whole == 0 ? 0 : 100.0 * part / whole;
}

void PrintSummary(const PretrainingExamples& made, int64_t shards,
                  int32_t mask_id) {
  const ExampleStats s = Count(made, mask_id);
  const int64_t n = static_cast<int64_t>(made.examples.size());
  const int64_t drawn = n - made.forced_random_next;
  std::fprintf(stderr,
               "%s: %s in %s; masked %.2f%% of %lld "
               "tokens ([MASK] %.1f%%, kept %.1f%%, random %.1f%%); next "
               "sentence random in %.1f%%: %lld one-sentence chunks of "
               "necessity, and %.1f%% of the other %lld\n",
               flags.output.c_str(), Counted(n, "example").c_str(),
               Counted(shards, "shard").c_str(), Percent(s.masked, s.tokens),
               static_cast<long long>(s.tokens), Percent(s.as_mask, s.masked),
               Percent(s.kept, s.masked),
               Percent(s.masked - s.as_mask - s.kept, s.masked),
               Percent(s.random_next, n),
               static_cast<long long>(made.forced_random_next),
               Percent(s.random_next - made.forced_random_next, drawn),
               static_cast<long long>(drawn));
  std::fprintf(stderr,
               "a TrainConfig binds them by pattern, relative to its own "
               "directory: data { input: \"input_ids\" file: "
               "\"%s/input_ids-*.npy\" } (and the other inputs alike)\n",
               std::filesystem::path(flags.output).filename().c_str());
}

absl::Status MakeData() {
  const auto start = std::chrono::steady_clock::now();
  const std::string& dir = flags.output;
  RETURN_IF_ERROR(CheckNewOutputDirectory(dir));
  ASSIGN_OR_RETURN(BertTokenizerOptions options,
                   TokenizerOptionsFromFlags(flags.tokenizer));
  ASSIGN_OR_RETURN(Vocab vocab, Vocab::Load(flags.tokenizer.vocab));
  ASSIGN_OR_RETURN(std::string text,
                   ReadFileCapped(flags.input, CommonFlags().max_file_bytes));
  const BertTokenizer tokenizer(&vocab, options);
  ASSIGN_OR_RETURN(std::vector<Document> documents,
                   ReadDocuments(text, flags.input, tokenizer));
  text = std::string();
  int64_t sentences = 0, tokens = 0;
  for (const Document& d : documents) {
    sentences += static_cast<int64_t>(d.size());
    for (const auto& s : d) tokens += static_cast<int64_t>(s.size());
  }
  std::fprintf(stderr, "%s: %s, %s, %s (%.1f s)\n", flags.input.c_str(),
               Counted(documents.size(), "document").c_str(),
               Counted(sentences, "sentence").c_str(),
               Counted(tokens, "token").c_str(), SecondsSince(start));
  const int64_t passes = flags.data.dupe_factor;
  ASSIGN_OR_RETURN(
      PretrainingExamples made,
      MakePretrainingExamples(
          std::move(documents), vocab, flags.data, CommonFlags().memory_budget,
          [&](int64_t pass, int64_t examples) {
            std::fprintf(
                stderr, "pass %lld/%lld: %s (%.1f s)\n",
                static_cast<long long>(pass), static_cast<long long>(passes),
                Counted(examples, "example").c_str(), SecondsSince(start));
          }));
  ASSIGN_OR_RETURN(
      int64_t shards,
      WritePretrainingShards(
          made, flags.data, dir, flags.examples_per_shard,
          [&](int64_t shard, int64_t count) {
            std::fprintf(stderr, "shard %lld/%lld written (%.1f s)\n",
                         static_cast<long long>(shard),
                         static_cast<long long>(count), SecondsSince(start));
          }));
  PrintSummary(made, shards, vocab.Find("[MASK]"));
  return absl::OkStatus();
}

}  // namespace

std::vector<Flag> BertFlags() {
  PretrainingDataOptions& o = flags.data;
  std::vector<Flag> all = WithTokenizerFlags(
      &flags.tokenizer,
      {
          WithAlias(StringFlag("input", &flags.input,
                               "make-data: the corpus, one sentence per "
                               "line, a blank line between documents. "
                               "make-classification-data: label<TAB>text "
                               "(<TAB>text_b) lines. UTF-8."),
                    "i"),
          OutputFlag(&flags.output,
                     "make-data: a new (or empty) directory for the shards "
                     "<input>-00000.npy, ...; written whole or not at all "
                     "(make-classification-data: for <input>.npy). "
                     "import-hf: the graph to write (text proto). export-hf: "
                     "the directory, created if missing, for the <key>.npy "
                     "files."),
          IntFlag("max_seq_length", &o.max_seq_length,
                  "Tokens per example, [CLS] and both [SEP] included; at "
                  "least 5 (make-classification-data: 3)."),
          IntFlag("max_predictions_per_seq", &o.max_predictions_per_seq,
                  "Masked positions per example at most; at least 1 "
                  "(import-hf: P, the graph's)."),
          DoubleFlag("masked_lm_prob", &o.masked_lm_prob,
                     "The fraction of tokens to mask, in (0, 1]."),
          DoubleFlag("short_seq_prob", &o.short_seq_prob,
                     "The chance that an example aims at a random shorter "
                     "length, in [0, 1]."),
          IntFlag("dupe_factor", &o.dupe_factor,
                  "Passes over the corpus, each with fresh random draws."),
          IntFlag("seed", &o.seed,
                  "make-data: seeds every draw (the same seed, corpus and "
                  "flags give the same bytes). import-hf: the seed of the "
                  "graph's dropout."),
          IntFlag("examples_per_shard", &flags.examples_per_shard,
                  "Rows per .npy shard (the last one may have fewer)."),
          MemoryBudgetFlag(),
          MaxFileFlag(),
      });
  std::vector<Flag> hf = BertHfFlags();
  all.insert(all.end(), hf.begin(), hf.end());
  std::vector<Flag> classify = BertClassifyFlags();
  all.insert(all.end(), classify.begin(), classify.end());
  return all;
}

BertHfShared HfShared() {
  return {flags.output, flags.data.max_predictions_per_seq, flags.data.seed};
}

BertClassifyShared ClassifyShared() {
  return {flags.tokenizer, flags.input, flags.output,
          flags.data.max_seq_length};
}

// What both data subcommands need: the tokenizer, -i and -o.
absl::Status CheckDataFlags(const std::string& subcommand,
                            const Operands& operands) {
  if (operands.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(subcommand, " takes no operand, but got ", operands[1]));
  }
  RETURN_IF_ERROR(TokenizerOptionsFromFlags(flags.tokenizer).status());
  for (auto [flag, value] : {std::pair{"--vocab", &flags.tokenizer.vocab},
                             {"-i", &flags.input},
                             {"-o", &flags.output}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(subcommand, " needs ", flag, ": name it"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckBertFlags(const Operands& operands) {
  const std::string subcommand = operands.empty() ? "" : operands[0];
  if (subcommand == "import-hf" || subcommand == "export-hf") {
    if (operands.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(subcommand, " takes one operand, ",
                       subcommand == "import-hf" ? "HF_DIR" : "GRAPH"));
    }
    return CheckBertHf(subcommand, HfShared());
  }
  if (subcommand == "make-classification-data") {
    RETURN_IF_ERROR(CheckDataFlags(subcommand, operands));
    return CheckBertClassify(ClassifyShared());
  }
  if (subcommand != "make-data") {
    return absl::InvalidArgumentError(absl::StrCat(
        subcommand.empty() ? "name a subcommand"
                           : "'" + subcommand + "' is not a bert subcommand",
        ": make-data, make-classification-data, import-hf or export-hf"));
  }
  RETURN_IF_ERROR(CheckDataFlags(subcommand, operands));
  absl::Status options = ValidatePretrainingOptions(flags.data);
  if (!options.ok()) {
    return absl::Status(options.code(), absl::StrCat("--", options.message()));
  }
  if (flags.examples_per_shard < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--examples_per_shard ", flags.examples_per_shard,
                     ": give a whole number >= 1"));
  }
  return absl::OkStatus();
}

absl::Status RunBert(const Operands& operands) {
  if (operands[0] == "make-data") return MakeData();
  if (operands[0] == "make-classification-data") {
    return RunBertClassify(ClassifyShared());
  }
  return RunBertHf(operands, HfShared());
}

}  // namespace rill
