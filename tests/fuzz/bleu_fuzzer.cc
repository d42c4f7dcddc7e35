// libFuzzer target for `rill bleu`'s input: the bytes after the first two
// are split at NUL bytes into a hypothesis file and one or two reference
// files, read as the command reads them (SplitTextLines: lines, UTF-8
// checked), then scored with CorpusBleu, or SentenceBleu per segment, with
// the options the first two bytes choose (tokenizer, smoothing and its
// value, lowercase, effective order, max order, weights). Any input must
// score or fail with a status; every score, precision and brevity penalty
// must be finite and in range. Seeds: corpus/bleu/.
//
//   byte 0: bits 0-1 tokenizer (none, 13a, intl, char), 2-3 smoothing
//           (none, floor, add-k, exp), 4 lowercase, 5 effective order,
//           6 sentence BLEU, 7 a second reference
//   byte 1: bits 0-2 max order - 1, 3-4 smooth value (default, 0, 0.5,
//           3), 5 explicit weights (1, 2, ..., max order)

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "metrics/bleu.h"
#include "metrics/text.h"

namespace {

// The score is sacreBLEU's to the last bit, rounding included: identical
// segments score exp(log(100)) = 100.00000000000004, as in Python. So the
// range allows a few ulps.
constexpr double kUlps = 1e-13;

bool InRange(double v, double hi) {
  return std::isfinite(v) && v >= 0 && v <= hi * (1 + kUlps);
}

void CheckScore(const rill::BleuScore& s, const rill::BleuOptions& o) {
  if (!InRange(s.score, 100) || !InRange(s.bp, 1) ||
      s.precisions.size() != static_cast<size_t>(o.max_order) ||
      s.sys_len < 0 || s.ref_len < 0) {
    __builtin_trap();
  }
  for (double p : s.precisions) {
    if (!InRange(p, 100)) __builtin_trap();
  }
  if (s.Format("sig").empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0], order = data[1];
  rill::BleuOptions o;
  o.tokenizer = static_cast<rill::Tokenizer>(mode & 3);
  o.smoothing = static_cast<rill::Smoothing>((mode >> 2) & 3);
  o.lowercase = (mode >> 4) & 1;
  o.effective_order = (mode >> 5) & 1;
  const bool sentence = (mode >> 6) & 1;
  const int num_refs = 1 + ((mode >> 7) & 1);
  o.max_order = 1 + (order & 7);
  constexpr double kSmoothValues[] = {0, 0.5, 3};
  if (((order >> 3) & 3) != 0)
    o.smooth_value = kSmoothValues[((order >> 3) & 3) - 1];
  if ((order >> 5) & 1) {
    for (int n = 1; n <= o.max_order; ++n) o.weights.push_back(n);
  }
  if (sentence) o.effective_order = true;  // As `rill bleu --sentence`.
  if (!rill::ValidateBleuOptions(o).ok()) return 0;

  // The files: hypotheses, then the references.
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::vector<std::string_view> files;
  for (int f = 0; f < num_refs; ++f) {
    const size_t end = rest.find('\0');
    if (end == std::string_view::npos) return 0;
    files.push_back(rest.substr(0, end));
    rest.remove_prefix(end + 1);
  }
  files.push_back(rest);
  const char* kNames[] = {"hyp.txt", "ref1.txt", "ref2.txt"};
  std::vector<std::vector<std::string>> streams;
  for (size_t f = 0; f < files.size(); ++f) {
    absl::StatusOr<std::vector<std::string>> lines =
        rill::SplitTextLines(files[f], kNames[f]);
    if (!lines.ok()) {
      if (!absl::StartsWith(lines.status().message(), kNames[f])) {
        __builtin_trap();
      }
      return 0;
    }
    streams.push_back(*std::move(lines));
  }
  const std::vector<std::string> hyps = std::move(streams[0]);
  const std::vector<std::vector<std::string>> refs(streams.begin() + 1,
                                                   streams.end());
  for (const auto& r : refs) {
    if (r.size() != hyps.size()) return 0;  // As the command refuses it.
  }
  if (!sentence) {
    absl::StatusOr<rill::BleuScore> score = rill::CorpusBleu(hyps, refs, o);
    if (!score.ok()) {
      if (score.status().message().empty()) __builtin_trap();
      return 0;
    }
    CheckScore(*score, o);
    return 0;
  }
  for (size_t i = 0; i < hyps.size(); ++i) {
    std::vector<std::string> segment_refs;
    for (const auto& r : refs) segment_refs.push_back(r[i]);
    absl::StatusOr<rill::BleuScore> score =
        rill::SentenceBleu(hyps[i], segment_refs, o);
    if (!score.ok()) {
      if (score.status().message().empty()) __builtin_trap();
      return 0;
    }
    CheckScore(*score, o);
  }
  return 0;
}
