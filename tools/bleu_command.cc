// `rill bleu`: sacreBLEU-compatible corpus or sentence BLEU of text files.

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/file_io.h"
#include "metrics/bleu.h"
#include "metrics/tokenizer.h"
#include "tools/commands.h"

namespace rill {
namespace {

// The flags of `rill bleu`.
struct {
  std::vector<std::string> refs;
  std::string input, format = "text";
  BleuOptions options;  // Tokenizer, smoothing, max order, lowercase.
  double smooth_value = -1;
  bool effective_order = false, sentence = false;
} flags;

BleuOptions OptionsFromFlags() {
  BleuOptions o = flags.options;
  // -1, the flag's default, means "the smoothing's own default"; any other
  // value (NaN too) goes to ValidateBleuOptions, never silently replaced.
  if (flags.smooth_value != -1) o.smooth_value = flags.smooth_value;
  o.effective_order = flags.effective_order || flags.sentence;
  return o;
}

std::string Json(const BleuScore& s, const std::string& signature) {
  std::vector<std::string> precisions;
  for (double p : s.precisions)
    precisions.push_back(absl::StrFormat("%.6f", p));
  return absl::StrFormat(
      "{\"name\": \"BLEU\", \"score\": %.6f, \"signature\": \"%s\", "
      "\"precisions\": [%s], \"bp\": %.6f, \"ratio\": %.6f, \"hyp_len\": %d, "
      "\"ref_len\": %d}",
      s.score, signature, absl::StrJoin(precisions, ", "), s.bp, s.ratio,
      s.sys_len, s.ref_len);
}

}  // namespace

std::vector<Flag> BleuFlags() {
  BleuOptions& o = flags.options;
  return {
      WithAlias(RepeatedFlag("ref", &flags.refs,
                             "A reference file, one segment per line; repeat "
                             "for more references."),
                "r"),
      WithAlias(StringFlag("input", &flags.input,
                           "The hypotheses, one segment per line. Default: "
                           "stdin."),
                "i"),
      ParsedFlag<Tokenizer>("tokenize", &o.tokenizer, "13a",
                            "Tokenizer: none, 13a, intl or char.",
                            ParseTokenizer),
      ParsedFlag<Smoothing>("smooth", &o.smoothing, "exp",
                            "Smoothing: none, floor, add-k or exp.",
                            ParseSmoothing),
      DoubleFlag("smooth_value", &flags.smooth_value,
                 "The value for floor (default 0.1) or add-k (default 1) "
                 "smoothing."),
      IntFlag("max_order", &o.max_order, "The largest n-gram order."),
      SwitchFlag("lowercase", &o.lowercase,
                 "Lowercase the hypotheses and references."),
      SwitchFlag("effective_order", &flags.effective_order,
                 "Average only over the orders that have n-grams (always on "
                 "with --sentence, as in sacreBLEU)."),
      SwitchFlag("sentence", &flags.sentence, "Score each segment on its own."),
      ChoiceFlag("format", &flags.format, {"text", "json"},
                 "Output format: text or json."),
  };
}

absl::Status CheckBleuFlags(const Operands&) {
  if (flags.refs.empty()) {
    return absl::InvalidArgumentError(
        "no references: give -r REF at least once");
  }
  return ValidateBleuOptions(OptionsFromFlags(), "--");
}

absl::Status RunBleu(const Operands&) {
  const BleuOptions options = OptionsFromFlags();
  const std::vector<std::string>& ref_paths = flags.refs;
  // Everything is read and checked before anything is scored.
  std::string hyp_name = flags.input;
  ASSIGN_OR_RETURN(std::vector<std::string> hyps, ReadTextLines(hyp_name));
  if (hyp_name.empty()) hyp_name = "<stdin>";
  std::vector<std::vector<std::string>> refs;
  for (const std::string& path : ref_paths) {
    ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadTextLines(path));
    if (lines.size() != hyps.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, " has ", lines.size(), " lines but ", hyp_name, " has ",
          hyps.size(), "; every reference needs one line per hypothesis"));
    }
    refs.push_back(std::move(lines));
  }
  std::string signature = BleuSignature(options, static_cast<int>(refs.size()));
  auto print = [&](const BleuScore& s) {
    std::string line =
        flags.format == "json" ? Json(s, signature) : s.Format(signature);
    std::printf("%s\n", line.c_str());
  };
  if (!flags.sentence) {
    ASSIGN_OR_RETURN(BleuScore score, CorpusBleu(hyps, refs, options));
    print(score);
    return absl::OkStatus();
  }
  std::vector<BleuScore> scores;  // All computed before the first is printed.
  for (size_t i = 0; i < hyps.size(); ++i) {
    std::vector<std::string> segment_refs;
    for (const auto& stream : refs) segment_refs.push_back(stream[i]);
    ASSIGN_OR_RETURN(BleuScore s, SentenceBleu(hyps[i], segment_refs, options));
    scores.push_back(std::move(s));
  }
  for (const BleuScore& s : scores) print(s);
  return absl::OkStatus();
}

}  // namespace rill
