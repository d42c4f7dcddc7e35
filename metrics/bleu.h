#ifndef RILL_METRICS_BLEU_H_
#define RILL_METRICS_BLEU_H_

// BLEU (Papineni et al., 2002) computed exactly as sacreBLEU 2.x computes it
// (sacrebleu/metrics/bleu.py), so that rill's numbers can be compared with
// published ones: same preprocessing (lowercase, rstrip, tokenize), same
// clipped n-gram statistics, and the same compute_bleu, quirks included.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/version.h"
#include "metrics/tokenizer.h"

namespace rill {

// sacreBLEU's smoothing methods (Chen and Cherry, 2014): none; floor (method
// 1); add-k (method 2); exp (method 3, NIST's mteval-v13a smoothing).
enum class Smoothing { kNone, kFloor, kAddK, kExp };

// "none", "floor", "add-k" or "exp"; other names are an InvalidArgument
// error that lists the choices.
absl::StatusOr<Smoothing> ParseSmoothing(const std::string& name);
const char* SmoothingName(Smoothing s);

// The largest n-gram order accepted (sacreBLEU uses 4): counting sizes its
// tables and loops by the order.
inline constexpr int kMaxBleuOrder = 100;

struct BleuOptions {
  int max_order = 4;  // 1 to kMaxBleuOrder.
  // Empty: uniform weights, computed as sacreBLEU does (sum of logs divided
  // by the order). Otherwise max_order non-negative weights, used as given
  // (like NLTK's corpus_bleu: on precisions as fractions, so weights summing
  // to more than 1 lower the score, which stays in [0, 100]). With
  // effective_order, when fewer orders than max_order count, the first
  // eff_order weights are rescaled so that their sum equals the sum of all
  // weights (so [1/N]*N behaves like uniform); if those first weights are all
  // zero the score is 0.
  std::vector<double> weights;
  Smoothing smoothing = Smoothing::kExp;
  // Default as sacreBLEU: 0.1 for floor, 1 for add-k; ignored by none/exp.
  std::optional<double> smooth_value;
  bool effective_order = false;
  bool lowercase = false;
  Tokenizer tokenizer = Tokenizer::k13a;
};

// max_order >= 1; weights empty or max_order finite non-negative values with
// a positive sum; smooth_value, when set, finite and >= 0 (at most 1 for
// floor); known enums. Errors name a field as `name_prefix` + its name:
// `rill bleu` passes "--", so that they name its flags.
absl::Status ValidateBleuOptions(const BleuOptions& o,
                                 absl::string_view name_prefix = "");

// The smoothing value compute_bleu uses: smooth_value, else the method's
// default (floor 0.1, add-k 1, none/exp 0).
double EffectiveSmoothValue(const BleuOptions& o);

struct BleuStats {
  // Per order 1..max_order. double because add-k adds (possibly fractional)
  // values to the orders > 1 in the statistics a BleuScore reports, exactly
  // as sacreBLEU's counts/totals do.
  std::vector<double> correct, total;
  int64_t sys_len = 0, ref_len = 0;
  // Element-wise sum; the shorter vectors are extended with zeros.
  void Add(const BleuStats& other);
};

struct BleuScore {
  double score = 0;                // 0..100
  std::vector<double> precisions;  // per order, percent
  double bp = 0, ratio = 0;        // ratio = sys_len / ref_len (0 if no ref)
  int64_t sys_len = 0, ref_len = 0;
  BleuStats stats;  // after compute_bleu's add-k adjustment, like sacreBLEU
  // "BLEU|<signature> = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944
  // hyp_len = 17 ref_len = 18)" like sacreBLEU's BLEUScore.format(width);
  // "BLEU = ..." when the signature is empty.
  std::string Format(const std::string& signature, int width = 2) const;
};

// A segment as sacreBLEU's _preprocess_segment prepares it: lowercased if
// asked (Python's str.lower), right-stripped (str.rstrip), tokenized; the
// result's tokens are joined by single spaces.
std::string PreprocessSegment(std::string_view line, const BleuOptions& o);

// One segment's statistics: preprocesses hyp and refs, counts clipped n-grams
// (per n-gram the max count over refs), picks the closest ref length (ties to
// the shorter). With no refs, ref_len is 0 (sacreBLEU would give -1).
// Invalid UTF-8 is not rejected here (see tokenizer.h).
BleuStats SegmentStats(std::string_view hyp,
                       const std::vector<std::string_view>& refs,
                       const BleuOptions& o);

// The score from summed statistics (sacreBLEU's compute_bleu, including its
// smoothing quirks and effective order). `o` should be valid; vectors shorter
// than max_order are padded with zeros.
BleuScore ComputeBleu(BleuStats stats, const BleuOptions& o);

// refs[k] is the k-th reference stream; every stream must have hyps.size()
// lines; all text must be valid UTF-8 (errors name the stream and the line,
// 1-based). There must be at least one reference stream. An empty corpus
// scores 0.
absl::StatusOr<BleuScore> CorpusBleu(
    const std::vector<std::string>& hyps,
    const std::vector<std::vector<std::string>>& refs, const BleuOptions& o);
absl::StatusOr<BleuScore> SentenceBleu(const std::string& hyp,
                                       const std::vector<std::string>& refs,
                                       const BleuOptions& o);

// "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:rill-0.1", in
// sacreBLEU's key order. As in sacreBLEU, the methods that take a value show
// it with two decimals: "smooth:floor[0.10]", "smooth:add-k[1.00]".
std::string BleuSignature(const BleuOptions& o, int num_refs);

}  // namespace rill

#endif  // RILL_METRICS_BLEU_H_
