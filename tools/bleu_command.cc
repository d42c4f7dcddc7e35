// `rill bleu`: sacreBLEU-compatible corpus or sentence BLEU of text files.

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/file_io.h"
#include "metrics/bleu.h"
#include "metrics/tokenizer.h"
#include "tools/commands.h"

// Repeatable: main() collects the values (ListFlagValues).
ABSL_FLAG(std::vector<std::string>, ref, {},
          "A reference file, one segment per line (-r); repeat for more "
          "references.");
ABSL_FLAG(std::string, input, "",
          "The input text, one segment per line (-i): bleu's hypotheses, "
          "decode's sources, tokenize's text or corpus. Default: stdin.");
ABSL_FLAG(std::string, tokenize, "13a", "Tokenizer: none, 13a, intl or char.");
ABSL_FLAG(std::string, smooth, "exp", "Smoothing: none, floor, add-k or exp.");
ABSL_FLAG(double, smooth_value, -1,
          "The value for floor (default 0.1) or add-k (default 1) smoothing.");
ABSL_FLAG(int32_t, max_order, 4, "The largest n-gram order.");
ABSL_FLAG(bool, lowercase, false,
          "Lowercase the text: bleu's hypotheses and references; for "
          "tokenize, BERT's uncased setting, which also strips accents.");
ABSL_FLAG(bool, effective_order, false,
          "Average only over the orders that have n-grams (always on with "
          "--sentence, as in sacreBLEU).");
ABSL_FLAG(bool, sentence, false, "Score each segment on its own.");
ABSL_FLAG(std::string, format, "text", "Output format: text or json.");

namespace rill {
namespace {

absl::StatusOr<BleuOptions> OptionsFromFlags() {
  BleuOptions o;
  ASSIGN_OR_RETURN(o.tokenizer, ParseTokenizer(absl::GetFlag(FLAGS_tokenize)));
  ASSIGN_OR_RETURN(o.smoothing, ParseSmoothing(absl::GetFlag(FLAGS_smooth)));
  // -1, the flag's default, means "the smoothing's own default"; any other
  // value (NaN too) goes to ValidateBleuOptions, never silently replaced.
  const double smooth_value = absl::GetFlag(FLAGS_smooth_value);
  if (smooth_value != -1) o.smooth_value = smooth_value;
  o.max_order = absl::GetFlag(FLAGS_max_order);
  o.lowercase = absl::GetFlag(FLAGS_lowercase);
  o.effective_order =
      absl::GetFlag(FLAGS_effective_order) || absl::GetFlag(FLAGS_sentence);
  RETURN_IF_ERROR(ValidateBleuOptions(o, "--"));
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

absl::Status RunBleu(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(BleuOptions options, OptionsFromFlags());
  std::string format = absl::GetFlag(FLAGS_format);
  if (format != "text" && format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format '", format, "': choose text or json"));
  }
  const std::vector<std::string>& ref_paths = ListFlagValues("ref");
  if (ref_paths.empty()) {
    return absl::InvalidArgumentError(
        "no references: give -r REF at least once");
  }
  // Everything is read and checked before anything is scored.
  std::string hyp_name = absl::GetFlag(FLAGS_input);
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
        format == "json" ? Json(s, signature) : s.Format(signature);
    std::printf("%s\n", line.c_str());
  };
  if (!absl::GetFlag(FLAGS_sentence)) {
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
