#include "models/decode.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/checkpoint.h"
#include "core/quote.h"
#include "core/status.h"
#include "graph/loader.h"
#include "graph/validate.h"

namespace rill {
namespace {

constexpr double kNoScore = -std::numeric_limits<double>::infinity();

double Milliseconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - since)
      .count();
}

// The rows of `t` (along axis 0) in the order `rows` lists them, or the
// allocation's error (a beam's rows can be large).
absl::StatusOr<Tensor> GatheredRows(const Tensor& t,
                                    const std::vector<int64_t>& rows) {
  std::vector<int64_t> dims = t.shape().dims();
  dims[0] = static_cast<int64_t>(rows.size());
  ASSIGN_OR_RETURN(Tensor out,
                   Tensor::AllocateUninitialized(t.dtype(), Shape(dims)));
  GatherRows(t, rows.data(), static_cast<int64_t>(rows.size()), out);
  return out;
}

// Rows first..first+count of `t`, each repeated `times` times in a row.
absl::StatusOr<Tensor> RepeatRows(const Tensor& t, int64_t first, int64_t count,
                                  int64_t times) {
  std::vector<int64_t> rows;
  for (int64_t n = first; n < first + count; ++n) {
    rows.insert(rows.end(), times, n);
  }
  return GatheredRows(t, rows);
}

double Element(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kF64 ? t.data<double>()[i] : t.data<float>()[i];
}

struct Hypothesis {
  std::vector<int64_t> tokens;  // Without BOS and EOS.
  double log_prob = 0;
  bool ended = false;  // By EOS.
};

}  // namespace

// One batch of sentences being decoded: `beam` rows per sentence.
struct Seq2SeqDecoder::Chunk {
  int64_t sentences = 0, beam = 0, rows = 0;
  std::map<std::string, Tensor> feeds;
  std::vector<std::vector<int64_t>> history;  // Per row, after BOS.
  std::vector<double> log_prob;               // Per row; kNoScore: empty.
};

absl::StatusOr<std::unique_ptr<Seq2SeqDecoder>> Seq2SeqDecoder::Create(
    const Seq2SeqOptions& model, const DecodeOptions& options,
    const std::map<std::string, const Tensor*>& parameters,
    const std::string& source) {
  auto bad = [](const std::string& field, const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("decode options: ", field, ": ", why));
  };
  if (options.beam_size < 1) {
    return bad("beam_size", absl::StrCat(options.beam_size, ": must be >= 1"));
  }
  if (options.batch_size < 1) {
    return bad("batch_size",
               absl::StrCat(options.batch_size, ": must be >= 1"));
  }
  if (!(options.length_penalty >= 0)) {
    return bad("length_penalty",
               absl::StrCat(options.length_penalty, ": must be >= 0"));
  }
  for (auto [field, id] :
       {std::pair<const char*, int64_t>{"bos_id", options.bos_id},
        {"eos_id", options.eos_id}}) {
    if (id < 0 || id >= model.vocab_size) {
      return bad(field, absl::StrCat(id, ": must be in [0, vocab_size ",
                                     model.vocab_size, ")"));
    }
  }
  std::unique_ptr<Seq2SeqDecoder> d(new Seq2SeqDecoder(model, options));
  ASSIGN_OR_RETURN(d->graphs_, BuildSeq2SeqDecodingGraphs(model));
  auto executor =
      [&](const Graph& g) -> absl::StatusOr<std::unique_ptr<Executor>> {
    ASSIGN_OR_RETURN(ValidGraph valid,
                     ValidateGraph(LoadedGraph{g, SourceMap("decoder")}));
    ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex,
                     Executor::Create(std::move(valid), options.executor));
    // Every Parameter is copied over (or nothing is): none is drawn.
    RETURN_IF_ERROR(ex->OverwriteParameters(
        [&](const std::map<std::string, Tensor*>& into) {
          return CopyParameterValues(parameters, into, false, source);
        }));
    return ex;
  };
  ASSIGN_OR_RETURN(d->encode_, executor(d->graphs_.encode));
  ASSIGN_OR_RETURN(d->step_, executor(options.strategy == DecodeStrategy::kCache
                                          ? d->graphs_.cached
                                          : d->graphs_.recompute));
  return d;
}

absl::StatusOr<std::vector<std::vector<int64_t>>> Seq2SeqDecoder::Decode(
    const Tensor& src) {
  if (src.dtype() != DType::kI64 || src.shape().rank() != 2 ||
      src.shape().dim(1) != model_.src_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "decode: the sources must be i64[N, ", model_.src_length, "], got ",
        DTypeName(src.dtype()), src.shape().ToString()));
  }
  std::vector<std::vector<int64_t>> out;
  const int64_t n = src.shape().dim(0);
  for (int64_t first = 0; first < n; first += options_.batch_size) {
    const int64_t count = std::min(options_.batch_size, n - first);
    RETURN_IF_ERROR(DecodeChunk(src, first, count, &out));
    if (options_.progress) options_.progress(first + count, n);
  }
  return out;
}

absl::StatusOr<std::vector<double>> Seq2SeqDecoder::Step(Chunk& c, int64_t t) {
  const int64_t steps = model_.tgt_length, vocab = model_.vocab_size;
  auto last = [&](int64_t r) {
    return c.history[r].empty() ? options_.bos_id : c.history[r].back();
  };
  std::vector<std::string> fetches;
  int64_t position = 0;  // Of the logits in the fetched [rows, n, V].
  if (options_.strategy == DecodeStrategy::kCache) {
    ASSIGN_OR_RETURN(Tensor token,
                     Tensor::Allocate(DType::kI64, Shape{c.rows, 1}));
    for (int64_t r = 0; r < c.rows; ++r) token.data<int64_t>()[r] = last(r);
    ASSIGN_OR_RETURN(Tensor pos, Tensor::Allocate(DType::kI64, Shape{1}));
    *pos.data<int64_t>() = t;
    c.feeds["token"] = token;
    c.feeds["position"] = pos;
    fetches.push_back(graphs_.cached_logits);
    for (size_t i = 0; i < graphs_.new_cache_keys.size(); ++i) {
      fetches.push_back(graphs_.new_cache_keys[i]);
      fetches.push_back(graphs_.new_cache_values[i]);
    }
  } else {
    ASSIGN_OR_RETURN(Tensor tgt,
                     Tensor::Allocate(DType::kI64, Shape{c.rows, steps}));
    for (int64_t r = 0; r < c.rows; ++r) {
      int64_t* row = tgt.data<int64_t>() + r * steps;
      std::fill_n(row, steps, model_.pad_id);
      row[0] = options_.bos_id;
      std::copy(c.history[r].begin(), c.history[r].end(), row + 1);
    }
    c.feeds["tgt_in"] = tgt;
    fetches.push_back(graphs_.recompute_logits);
    position = t;
  }
  ASSIGN_OR_RETURN(std::vector<Tensor> got, step_->Run(c.feeds, fetches));
  ++stats_.steps;
  for (size_t i = 0; i < graphs_.new_cache_keys.size() &&
                     options_.strategy == DecodeStrategy::kCache;
       ++i) {
    c.feeds[absl::StrCat("cache_key.", i)] = got[1 + 2 * i];
    c.feeds[absl::StrCat("cache_value.", i)] = got[2 + 2 * i];
  }
  // log_softmax of each row's logits, in double.
  const Tensor& logits = got[0];
  const int64_t width = logits.shape().dim(1);
  std::vector<double> logp(c.rows * vocab);
  for (int64_t r = 0; r < c.rows; ++r) {
    const int64_t base = (r * width + position) * vocab;
    double max = kNoScore;
    for (int64_t v = 0; v < vocab; ++v) {
      max = std::max(max, Element(logits, base + v));
    }
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      sum += std::exp(Element(logits, base + v) - max);
    }
    const double log_sum = max + std::log(sum);
    for (int64_t v = 0; v < vocab; ++v) {
      logp[r * vocab + v] = Element(logits, base + v) - log_sum;
    }
  }
  return logp;
}

absl::Status Seq2SeqDecoder::DecodeChunk(
    const Tensor& src, int64_t first, int64_t count,
    std::vector<std::vector<int64_t>>* out) {
  const int64_t beam = options_.beam_size, vocab = model_.vocab_size;
  Chunk c;
  c.sentences = count;
  c.beam = beam;
  c.rows = count * beam;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> fetches = {graphs_.memory, graphs_.src_lengths};
  for (size_t i = 0; i < graphs_.memory_keys.size(); ++i) {
    fetches.push_back(graphs_.memory_keys[i]);
    fetches.push_back(graphs_.memory_values[i]);
  }
  ASSIGN_OR_RETURN(Tensor batch_src, RepeatRows(src, first, count, 1));
  ASSIGN_OR_RETURN(std::vector<Tensor> enc,
                   encode_->Run({{"src", std::move(batch_src)}}, fetches));
  stats_.encode_ms += Milliseconds(start);
  start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(c.feeds["src_lengths"], RepeatRows(enc[1], 0, count, beam));
  if (options_.strategy == DecodeStrategy::kRecompute) {
    ASSIGN_OR_RETURN(c.feeds["memory"], RepeatRows(enc[0], 0, count, beam));
  } else {
    const Shape cache{c.rows, model_.tgt_length, model_.d_model};
    for (size_t i = 0; i < graphs_.memory_keys.size(); ++i) {
      ASSIGN_OR_RETURN(c.feeds[absl::StrCat("memory_key.", i)],
                       RepeatRows(enc[2 + 2 * i], 0, count, beam));
      ASSIGN_OR_RETURN(c.feeds[absl::StrCat("memory_value.", i)],
                       RepeatRows(enc[3 + 2 * i], 0, count, beam));
      ASSIGN_OR_RETURN(c.feeds[absl::StrCat("cache_key.", i)],
                       Tensor::Allocate(model_.dtype, cache));
      ASSIGN_OR_RETURN(c.feeds[absl::StrCat("cache_value.", i)],
                       Tensor::Allocate(model_.dtype, cache));
    }
  }
  c.history.assign(c.rows, {});
  // Only the first row of each sentence starts live, so that the beam
  // does not fill with copies of the same hypothesis.
  c.log_prob.assign(c.rows, kNoScore);
  for (int64_t s = 0; s < count; ++s) c.log_prob[s * beam] = 0;
  std::vector<std::vector<Hypothesis>> ended(count);
  std::vector<bool> done(count, false);

  struct Candidate {
    double log_prob;
    int64_t row, token;
  };
  for (int64_t t = 0; t < model_.tgt_length; ++t) {
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    ASSIGN_OR_RETURN(std::vector<double> logp, Step(c, t));
    std::vector<int64_t> parent(c.rows), token(c.rows, model_.pad_id);
    std::vector<double> log_prob(c.rows, kNoScore);
    for (int64_t s = 0; s < count; ++s) {
      const int64_t base = s * beam;
      for (int64_t k = 0; k < beam; ++k) parent[base + k] = base + k;
      if (done[s]) continue;
      std::vector<Candidate> cands;
      for (int64_t k = 0; k < beam; ++k) {
        const int64_t r = base + k;
        if (c.log_prob[r] == kNoScore) continue;
        for (int64_t v = 0; v < vocab; ++v) {
          cands.push_back({c.log_prob[r] + logp[r * vocab + v], r, v});
        }
      }
      // Best first; stable, so ties keep row-then-token order.
      std::stable_sort(cands.begin(), cands.end(),
                       [](const Candidate& a, const Candidate& b) {
                         return a.log_prob > b.log_prob;
                       });
      int64_t live = 0;
      for (size_t i = 0; i < cands.size() && live < beam; ++i) {
        const Candidate& cand = cands[i];
        if (cand.token == options_.eos_id) {
          if (static_cast<int64_t>(i) < beam) {
            ended[s].push_back({c.history[cand.row], cand.log_prob, true});
          }
          continue;
        }
        parent[base + live] = cand.row;
        token[base + live] = cand.token;
        log_prob[base + live] = cand.log_prob;
        ++live;
      }
      if (static_cast<int64_t>(ended[s].size()) >= beam) done[s] = true;
    }
    std::vector<std::vector<int64_t>> history(c.rows);
    for (int64_t r = 0; r < c.rows; ++r) {
      history[r] = c.history[parent[r]];
      if (log_prob[r] != kNoScore) history[r].push_back(token[r]);
    }
    c.history = std::move(history);
    c.log_prob = std::move(log_prob);
    // The caches follow their rows' parents; nothing moves when every row
    // continues itself (always so with beam 1).
    bool reordered = false;
    for (int64_t r = 0; r < c.rows; ++r) reordered |= parent[r] != r;
    if (options_.strategy == DecodeStrategy::kCache && reordered) {
      for (size_t i = 0; i < graphs_.memory_keys.size(); ++i) {
        for (const char* cache : {"cache_key.", "cache_value."}) {
          Tensor& t = c.feeds[absl::StrCat(cache, i)];
          ASSIGN_OR_RETURN(t, GatheredRows(t, parent));
        }
      }
    }
  }
  auto penalty = [&](size_t generated) {
    return std::pow((5.0 + static_cast<double>(generated)) / 6.0,
                    options_.length_penalty);
  };
  for (int64_t s = 0; s < count; ++s) {
    if (!done[s]) {  // Out of length: the live hypotheses end as they are.
      for (int64_t k = 0; k < beam; ++k) {
        const int64_t r = s * beam + k;
        if (c.log_prob[r] != kNoScore) {
          ended[s].push_back({c.history[r], c.log_prob[r], false});
        }
      }
    }
    const Hypothesis* best = nullptr;
    double best_score = kNoScore;
    for (const Hypothesis& h : ended[s]) {
      double score = h.log_prob / penalty(h.tokens.size() + (h.ended ? 1 : 0));
      if (best == nullptr || score > best_score) {
        best = &h;
        best_score = score;
      }
    }
    out->push_back(best == nullptr ? std::vector<int64_t>() : best->tokens);
  }
  stats_.sentences += count;
  stats_.decode_ms += Milliseconds(start);
  return absl::OkStatus();
}

absl::StatusOr<Vocabulary> ParseVocabulary(
    const std::vector<std::string>& lines, absl::string_view name,
    int64_t vocab_size) {
  Vocabulary v;
  for (size_t k = 0; k < lines.size(); ++k) {
    const std::string& token = lines[k];
    const std::string where = absl::StrCat(name, ":", k + 1, ": ");
    if (token.empty() || token.find_first_of(" \t") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, QuoteForMessage(token),
                       " is not a token (empty, or has a blank)"));
    }
    if (!v.ids.emplace(token, static_cast<int64_t>(k)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, QuoteForMessage(token), " is already line ",
                       v.ids[token] + 1));
    }
    v.tokens.push_back(token);
  }
  if (static_cast<int64_t>(lines.size()) != vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has ", lines.size(),
                     " tokens but seq2seq.vocab_size is ", vocab_size));
  }
  return v;
}

absl::StatusOr<std::vector<int64_t>> TokenIds(const Vocabulary& v,
                                              absl::string_view line,
                                              absl::string_view where) {
  std::vector<int64_t> ids;
  for (absl::string_view word :
       absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    auto it = v.ids.find(std::string(word));
    if (it == v.ids.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "token ", ids.size() + 1, " ",
                       QuoteForMessage(word), " is not in the vocabulary"));
    }
    ids.push_back(it->second);
  }
  return ids;
}

absl::StatusOr<std::string> JoinTokens(const Vocabulary& v,
                                       const std::vector<int64_t>& ids) {
  std::vector<absl::string_view> words;
  for (int64_t id : ids) {
    if (id < 0 || id >= static_cast<int64_t>(v.tokens.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", id, " is outside the vocabulary of ", v.tokens.size()));
    }
    words.push_back(v.tokens[id]);
  }
  return absl::StrJoin(words, " ");
}

}  // namespace rill
