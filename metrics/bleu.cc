#include "metrics/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/limits.h"
#include "core/status.h"
#include "metrics/ngram_matcher.h"
#include "metrics/tokenizer.h"

namespace rill {
namespace {

// sacreBLEU's my_log: log(0) is floored to this instead of -inf.
double MyLog(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

// Buffers reused across the segments of a corpus.
struct Scratch {
  std::string hyp;
  std::vector<std::string> refs;
  std::vector<std::string_view> hyp_tokens, ref_tokens;
  NgramMatcher matcher;
};

// The tokens of a preprocessed segment, pointing into `line` when it needs
// no change (the none tokenizer only splits, and rstrip changes nothing
// then), else into *buffer, which must outlive them.
void PreprocessTokens(std::string_view line, const BleuOptions& o,
                      std::string* buffer,
                      std::vector<std::string_view>* tokens) {
  if (o.tokenizer == Tokenizer::kNone && !o.lowercase) {
    SplitWhitespace(line, tokens);
    return;
  }
  std::string lower;
  if (o.lowercase) {
    lower = Lowercase(line);
    line = lower;
  }
  TokenizeUnjoined(o.tokenizer, RStripWhitespace(line), buffer);
  SplitWhitespace(*buffer, tokens);
}

// Adds one segment's statistics to correct/total (max_order entries each).
void AccumulateSegment(std::string_view hyp,
                       const std::vector<std::string_view>& refs,
                       const BleuOptions& o, Scratch* s, int64_t* correct,
                       int64_t* total, int64_t* sys_len, int64_t* ref_len) {
  s->matcher.Reset(o.max_order);
  PreprocessTokens(hyp, o, &s->hyp, &s->hyp_tokens);
  const int64_t hyp_len = static_cast<int64_t>(s->hyp_tokens.size());
  // The reference strings must outlive the matcher's use of their tokens.
  s->refs.resize(refs.size());
  int64_t closest_diff = -1, closest_len = 0;
  for (size_t k = 0; k < refs.size(); ++k) {
    PreprocessTokens(refs[k], o, &s->refs[k], &s->ref_tokens);
    s->matcher.AddReference(s->ref_tokens);
    // The closest reference length; ties go to the shorter one.
    const int64_t len = static_cast<int64_t>(s->ref_tokens.size());
    const int64_t diff = std::llabs(hyp_len - len);
    if (closest_diff == -1 || diff < closest_diff) {
      closest_diff = diff;
      closest_len = len;
    } else if (diff == closest_diff && len < closest_len) {
      closest_len = len;
    }
  }
  s->matcher.MatchHypothesis(s->hyp_tokens, correct, total);
  *sys_len += hyp_len;
  *ref_len += closest_len;
}

std::string Utf8Error(const std::string& where, size_t offset) {
  return absl::StrCat(where, ": invalid UTF-8 at byte ", offset);
}

}  // namespace

absl::StatusOr<Smoothing> ParseSmoothing(const std::string& name) {
  if (name == "none") return Smoothing::kNone;
  if (name == "floor") return Smoothing::kFloor;
  if (name == "add-k") return Smoothing::kAddK;
  if (name == "exp") return Smoothing::kExp;
  return absl::InvalidArgumentError("unknown smoothing method '" + name +
                                    "' (choices: none, floor, add-k, exp)");
}

const char* SmoothingName(Smoothing s) {
  switch (s) {
    case Smoothing::kNone:
      return "none";
    case Smoothing::kFloor:
      return "floor";
    case Smoothing::kAddK:
      return "add-k";
    case Smoothing::kExp:
      return "exp";
  }
  return "unknown";
}

absl::Status ValidateBleuOptions(const BleuOptions& o,
                                 absl::string_view name_prefix) {
  const std::string max_order = absl::StrCat(name_prefix, "max_order");
  const std::string smooth_value = absl::StrCat(name_prefix, "smooth_value");
  if (o.max_order < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(max_order, " must be at least 1, got ", o.max_order));
  }
  RETURN_IF_ERROR(CheckAtMost(max_order, o.max_order, kMaxBleuOrder,
                              "the largest n-gram order"));
  if (!o.weights.empty()) {
    if (o.weights.size() != static_cast<size_t>(o.max_order)) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected ", o.max_order,
                       " weights (one per order), got ", o.weights.size()));
    }
    double sum = 0;
    for (size_t i = 0; i < o.weights.size(); ++i) {
      const double w = o.weights[i];
      if (!std::isfinite(w) || w < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "weight ", i + 1, " must be finite and >= 0, got ", w));
      }
      sum += w;
    }
    if (sum <= 0) {
      return absl::InvalidArgumentError("at least one weight must be positive");
    }
  }
  switch (o.smoothing) {
    case Smoothing::kNone:
    case Smoothing::kFloor:
    case Smoothing::kAddK:
    case Smoothing::kExp:
      break;
    default:
      return absl::InvalidArgumentError("unknown smoothing method");
  }
  if (o.smooth_value &&
      (!std::isfinite(*o.smooth_value) || *o.smooth_value < 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        smooth_value, " must be finite and >= 0, got ", *o.smooth_value));
  }
  // Floor smoothing counts smooth_value matches for an order with none; past
  // one match it makes that precision more than 100% (and the score more
  // than 100).
  if (o.smooth_value && o.smoothing == Smoothing::kFloor &&
      *o.smooth_value > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        smooth_value, " must be at most 1 for floor smoothing, got ",
        *o.smooth_value));
  }
  switch (o.tokenizer) {
    case Tokenizer::kNone:
    case Tokenizer::k13a:
    case Tokenizer::kIntl:
    case Tokenizer::kChar:
      break;
    default:
      return absl::InvalidArgumentError("unknown tokenizer");
  }
  return absl::OkStatus();
}

double EffectiveSmoothValue(const BleuOptions& o) {
  if (o.smooth_value) return *o.smooth_value;
  if (o.smoothing == Smoothing::kFloor) return 0.1;
  if (o.smoothing == Smoothing::kAddK) return 1.0;
  return 0.0;
}

void BleuStats::Add(const BleuStats& other) {
  if (correct.size() < other.correct.size()) {
    correct.resize(other.correct.size(), 0.0);
  }
  if (total.size() < other.total.size()) total.resize(other.total.size(), 0.0);
  for (size_t i = 0; i < other.correct.size(); ++i) {
    correct[i] += other.correct[i];
  }
  for (size_t i = 0; i < other.total.size(); ++i) total[i] += other.total[i];
  sys_len += other.sys_len;
  ref_len += other.ref_len;
}

std::string BleuScore::Format(const std::string& signature, int width) const {
  std::string out = signature.empty() ? "BLEU" : "BLEU|" + signature;
  absl::StrAppendFormat(&out, " = %.*f ", std::max(width, 0), score);
  for (size_t i = 0; i < precisions.size(); ++i) {
    absl::StrAppendFormat(&out, "%s%.1f", i ? "/" : "", precisions[i]);
  }
  absl::StrAppendFormat(&out,
                        " (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
                        bp, ratio, sys_len, ref_len);
  return out;
}

std::string PreprocessSegment(std::string_view line, const BleuOptions& o) {
  if (!o.lowercase) return Tokenize(o.tokenizer, RStripWhitespace(line));
  const std::string lower = Lowercase(line);
  return Tokenize(o.tokenizer, RStripWhitespace(lower));
}

BleuStats SegmentStats(std::string_view hyp,
                       const std::vector<std::string_view>& refs,
                       const BleuOptions& o) {
  const int max_order = std::max(o.max_order, 1);
  std::vector<int64_t> correct(max_order, 0), total(max_order, 0);
  BleuStats stats;
  Scratch scratch;
  BleuOptions opts = o;
  opts.max_order = max_order;
  AccumulateSegment(hyp, refs, opts, &scratch, correct.data(), total.data(),
                    &stats.sys_len, &stats.ref_len);
  stats.correct.assign(correct.begin(), correct.end());
  stats.total.assign(total.begin(), total.end());
  return stats;
}

BleuScore ComputeBleu(BleuStats stats, const BleuOptions& o) {
  const int max_order = std::max(o.max_order, 1);
  stats.correct.resize(max_order, 0.0);
  stats.total.resize(max_order, 0.0);
  std::vector<double>& correct = stats.correct;
  std::vector<double>& total = stats.total;
  const double value = EffectiveSmoothValue(o);

  BleuScore r;
  r.sys_len = stats.sys_len;
  r.ref_len = stats.ref_len;
  r.ratio = stats.ref_len ? static_cast<double>(stats.sys_len) /
                                static_cast<double>(stats.ref_len)
                          : 0.0;
  r.bp = 1.0;
  if (stats.sys_len < stats.ref_len) {
    r.bp = stats.sys_len > 0
               ? std::exp(1.0 - static_cast<double>(stats.ref_len) /
                                    static_cast<double>(stats.sys_len))
               : 0.0;
  }
  r.precisions.assign(max_order, 0.0);

  // sacreBLEU's early stop (#141): no match at any order scores 0, whatever
  // the smoothing, and the statistics are reported unsmoothed.
  if (std::all_of(correct.begin(), correct.end(),
                  [](double c) { return c == 0; })) {
    r.score = 0.0;
    r.stats = std::move(stats);
    return r;
  }

  double smooth_mteval = 1.0;
  int eff_order = max_order;
  for (int n = 1; n <= max_order; ++n) {
    // add-k skips unigrams and runs before the zero-total check, so a
    // smoothed order never stops the loop (as in sacreBLEU).
    if (o.smoothing == Smoothing::kAddK && n > 1) {
      correct[n - 1] += value;
      total[n - 1] += value;
    }
    if (total[n - 1] == 0) break;
    if (o.effective_order) eff_order = n;
    if (correct[n - 1] == 0) {
      if (o.smoothing == Smoothing::kExp) {
        smooth_mteval *= 2;
        r.precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1]);
      } else if (o.smoothing == Smoothing::kFloor) {
        r.precisions[n - 1] = 100.0 * value / total[n - 1];
      }
    } else {
      r.precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
    }
  }

  double log_mean = 0;
  if (o.weights.size() != static_cast<size_t>(max_order)) {
    // Uniform weights, in sacreBLEU's order of operations.
    for (int n = 0; n < eff_order; ++n) log_mean += MyLog(r.precisions[n]);
    log_mean /= eff_order;
  } else {
    double all = 0, head = 0;
    for (int n = 0; n < max_order; ++n) {
      all += o.weights[n];
      if (n < eff_order) head += o.weights[n];
    }
    if (head <= 0) {  // only unobserved orders carry weight
      r.stats = std::move(stats);
      return r;
    }
    const double scale = eff_order < max_order ? all / head : 1.0;
    // On precisions as fractions, as NLTK weighs them: in percent, weights
    // summing to more than 1 would scale the score by 100^(sum - 1), past
    // 100.
    for (int n = 0; n < eff_order; ++n) {
      log_mean += o.weights[n] * scale * MyLog(r.precisions[n] / 100);
    }
    r.score = r.bp * 100 * std::exp(log_mean);
    r.stats = std::move(stats);
    return r;
  }
  r.score = r.bp * std::exp(log_mean);
  r.stats = std::move(stats);
  return r;
}

absl::StatusOr<BleuScore> CorpusBleu(
    const std::vector<std::string>& hyps,
    const std::vector<std::vector<std::string>>& refs, const BleuOptions& o) {
  RETURN_IF_ERROR(ValidateBleuOptions(o));
  if (refs.empty()) {
    return absl::InvalidArgumentError("no reference streams");
  }
  for (size_t k = 0; k < refs.size(); ++k) {
    if (refs[k].size() != hyps.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("reference stream ", k + 1, " has ", refs[k].size(),
                       " lines but the hypotheses have ", hyps.size()));
    }
  }
  for (size_t i = 0; i < hyps.size(); ++i) {
    if (auto bad = FindInvalidUtf8(hyps[i])) {
      return absl::InvalidArgumentError(
          Utf8Error(absl::StrCat("hypotheses, line ", i + 1), *bad));
    }
  }
  for (size_t k = 0; k < refs.size(); ++k) {
    for (size_t i = 0; i < refs[k].size(); ++i) {
      if (auto bad = FindInvalidUtf8(refs[k][i])) {
        return absl::InvalidArgumentError(Utf8Error(
            absl::StrCat("reference stream ", k + 1, ", line ", i + 1), *bad));
      }
    }
  }

  std::vector<int64_t> correct(o.max_order, 0), total(o.max_order, 0);
  BleuStats stats;
  Scratch scratch;
  std::vector<std::string_view> segment_refs(refs.size());
  for (size_t i = 0; i < hyps.size(); ++i) {
    for (size_t k = 0; k < refs.size(); ++k) segment_refs[k] = refs[k][i];
    AccumulateSegment(hyps[i], segment_refs, o, &scratch, correct.data(),
                      total.data(), &stats.sys_len, &stats.ref_len);
  }
  // Integer sums are exact; converting once keeps them exact up to 2^53.
  stats.correct.assign(correct.begin(), correct.end());
  stats.total.assign(total.begin(), total.end());
  return ComputeBleu(std::move(stats), o);
}

absl::StatusOr<BleuScore> SentenceBleu(const std::string& hyp,
                                       const std::vector<std::string>& refs,
                                       const BleuOptions& o) {
  RETURN_IF_ERROR(ValidateBleuOptions(o));
  if (refs.empty()) return absl::InvalidArgumentError("no references");
  if (auto bad = FindInvalidUtf8(hyp)) {
    return absl::InvalidArgumentError(Utf8Error("hypothesis", *bad));
  }
  std::vector<std::string_view> views;
  for (size_t k = 0; k < refs.size(); ++k) {
    if (auto bad = FindInvalidUtf8(refs[k])) {
      return absl::InvalidArgumentError(
          Utf8Error(absl::StrCat("reference ", k + 1), *bad));
    }
    views.push_back(refs[k]);
  }
  return ComputeBleu(SegmentStats(hyp, views, o), o);
}

std::string BleuSignature(const BleuOptions& o, int num_refs) {
  std::string smooth = SmoothingName(o.smoothing);
  if (o.smoothing == Smoothing::kFloor || o.smoothing == Smoothing::kAddK) {
    absl::StrAppendFormat(&smooth, "[%.2f]", EffectiveSmoothValue(o));
  }
  return absl::StrCat("nrefs:", num_refs,
                      "|case:", o.lowercase ? "lc" : "mixed",
                      "|eff:", o.effective_order ? "yes" : "no",
                      "|tok:", TokenizerName(o.tokenizer), "|smooth:", smooth,
                      "|version:", kRillVersion);
}

}  // namespace rill
