#include "text/pretraining_data.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/npy.h"
#include "core/output_directory.h"
#include "core/random.h"
#include "core/tensor.h"

namespace rill {
namespace {

struct SpecialIds {
  int32_t cls, sep, mask;
};

// The draws of one example, in the reference's order.
class ExampleMaker {
 public:
  ExampleMaker(const std::vector<Document>& documents, const Vocab& vocab,
               const PretrainingDataOptions& o, SplitMix64& rng)
      : documents_(documents),
        o_(o),
        rng_(rng),
        ids_{vocab.Find("[CLS]"), vocab.Find("[SEP]"), vocab.Find("[MASK]")},
        vocab_size_(vocab.size()) {}

  // create_instances_from_document.
  void FromDocument(size_t index, PretrainingExamples& out) {
    const Document& document = documents_[index];
    const int64_t max_tokens = o_.max_seq_length - 3;
    // Mostly full sequences; some short ones, so that the model also sees
    // the lengths fine-tuning gives it.
    int64_t target = max_tokens;
    if (rng_.Uniform() < o_.short_seq_prob)
      target = rng_.Between(2, max_tokens);
    std::vector<const std::vector<int32_t>*> chunk;
    int64_t chunk_tokens = 0;
    for (size_t i = 0; i < document.size(); ++i) {
      chunk.push_back(&document[i]);
      chunk_tokens += static_cast<int64_t>(document[i].size());
      if (i + 1 < document.size() && chunk_tokens < target) continue;
      const size_t a_end =
          chunk.size() >= 2 ? rng_.Between(1, chunk.size() - 1) : 1;
      std::vector<int32_t> a, b;
      for (size_t j = 0; j < a_end; ++j) Append(*chunk[j], a);
      bool random_next = chunk.size() == 1;
      out.forced_random_next += random_next;
      if (!random_next) random_next = rng_.Uniform() < 0.5;
      if (random_next) {
        RandomContinuation(index, target - static_cast<int64_t>(a.size()), b);
        // The chunk's sentences that B did not use start the next chunk.
        i -= chunk.size() - a_end;
      } else {
        for (size_t j = a_end; j < chunk.size(); ++j) Append(*chunk[j], b);
      }
      Truncate(a, b, max_tokens);
      out.examples.push_back(Masked(a, b, random_next));
      chunk.clear();
      chunk_tokens = 0;
    }
  }

 private:
  static void Append(const std::vector<int32_t>& s, std::vector<int32_t>& to) {
    to.insert(to.end(), s.begin(), s.end());
  }

  // Sentences of another document, from a random one on, until `length`
  // tokens. With one document in the corpus, its own (as the reference does
  // after 10 tries).
  void RandomContinuation(size_t own, int64_t length, std::vector<int32_t>& b) {
    size_t other = own;
    for (int tries = 0; tries < 10 && other == own; ++tries) {
      other = rng_.Below(documents_.size());
    }
    const Document& d = documents_[other];
    for (size_t j = rng_.Below(d.size()); j < d.size(); ++j) {
      Append(d[j], b);
      if (static_cast<int64_t>(b.size()) >= length) break;
    }
  }

  // Trims the longer segment, from either end, so that neither end of a
  // document is favoured.
  void Truncate(std::vector<int32_t>& a, std::vector<int32_t>& b,
                int64_t max_tokens) {
    while (static_cast<int64_t>(a.size() + b.size()) > max_tokens) {
      std::vector<int32_t>& longer = a.size() > b.size() ? a : b;
      if (rng_.Uniform() < 0.5) {
        longer.erase(longer.begin());
      } else {
        longer.pop_back();
      }
    }
  }

  // create_masked_lm_predictions.
  PretrainingExample Masked(const std::vector<int32_t>& a,
                            const std::vector<int32_t>& b, bool random_next) {
    PretrainingExample e;
    e.random_next = random_next;
    e.tokens.push_back(ids_.cls);
    e.tokens.insert(e.tokens.end(), a.begin(), a.end());
    e.tokens.push_back(ids_.sep);
    e.segment_a_length = static_cast<int32_t>(e.tokens.size());
    e.tokens.insert(e.tokens.end(), b.begin(), b.end());
    e.tokens.push_back(ids_.sep);
    const int32_t n = static_cast<int32_t>(e.tokens.size());
    std::vector<int32_t> candidates;
    for (int32_t i = 0; i < n; ++i) {
      if (i != 0 && i != e.segment_a_length - 1 && i != n - 1) {
        candidates.push_back(i);
      }
    }
    Shuffle(candidates, rng_);
    // Python's round() rounds halves to even, as nearbyint does by default.
    const int64_t wanted = std::min<int64_t>(
        o_.max_predictions_per_seq,
        std::max<int64_t>(1, std::nearbyint(n * o_.masked_lm_prob)));
    const size_t count = std::min<size_t>(wanted, candidates.size());
    std::vector<int32_t> original = e.tokens;
    for (size_t k = 0; k < count; ++k) {
      const int32_t at = candidates[k];
      if (rng_.Uniform() < 0.8) {
        e.tokens[at] = ids_.mask;
      } else if (rng_.Uniform() >= 0.5) {
        e.tokens[at] = static_cast<int32_t>(rng_.Below(vocab_size_));
      }
    }
    candidates.resize(count);
    std::sort(candidates.begin(), candidates.end());
    for (int32_t at : candidates) {
      e.masked_positions.push_back(at);
      e.masked_ids.push_back(original[at]);
    }
    return e;
  }

  const std::vector<Document>& documents_;
  const PretrainingDataOptions& o_;
  SplitMix64& rng_;
  SpecialIds ids_;
  int32_t vocab_size_;
};

int64_t ExampleBytes(const PretrainingExample& e) {
  return static_cast<int64_t>(sizeof(e) + 4 * (e.tokens.capacity() +
                                               e.masked_positions.capacity() +
                                               e.masked_ids.capacity()));
}

// One shard's arrays: rows [first, first + n) of the examples, padded.
absl::StatusOr<std::vector<Tensor>> ShardTensors(
    const std::vector<PretrainingExample>& examples, size_t first, int64_t n,
    const PretrainingDataOptions& o) {
  const int64_t length = o.max_seq_length,
                predictions = o.max_predictions_per_seq;
  std::vector<Tensor> t;
  for (const char* name : kPretrainingInputs) {
    const std::string_view input(name);
    const DType dtype =
        input == "masked_lm_weights" ? DType::kF32 : DType::kI64;
    Shape shape{n};
    if (input != "next_sentence_labels") {
      shape = Shape{n, input.rfind("masked_lm", 0) == 0 ? predictions : length};
    }
    ASSIGN_OR_RETURN(Tensor tensor, Tensor::Allocate(dtype, shape));
    t.push_back(std::move(tensor));
  }
  for (int64_t r = 0; r < n; ++r) {
    const PretrainingExample& e = examples[first + r];
    int64_t* ids = t[0].data<int64_t>() + r * length;
    int64_t* types = t[1].data<int64_t>() + r * length;
    int64_t* attention = t[2].data<int64_t>() + r * length;
    for (size_t i = 0; i < e.tokens.size(); ++i) {
      ids[i] = e.tokens[i];
      types[i] = static_cast<int64_t>(i) >= e.segment_a_length;
      attention[i] = 1;
    }
    for (size_t k = 0; k < e.masked_positions.size(); ++k) {
      t[3].data<int64_t>()[r * predictions + k] = e.masked_positions[k];
      t[4].data<int64_t>()[r * predictions + k] = e.masked_ids[k];
      t[5].data<float>()[r * predictions + k] = 1;
    }
    t[6].data<int64_t>()[r] = e.random_next;
  }
  return t;
}

}  // namespace

absl::Status ValidatePretrainingOptions(const PretrainingDataOptions& o) {
  if (o.max_seq_length < 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_seq_length: ", o.max_seq_length,
        ": must be >= 5: [CLS] A [SEP] B [SEP] takes 3 special tokens and "
        "at least one of each segment"));
  }
  RETURN_IF_ERROR(CheckAtMost("max_seq_length", o.max_seq_length, 1 << 20,
                              "tokens per example"));
  RETURN_IF_ERROR(
      CheckAtLeast("max_predictions_per_seq", o.max_predictions_per_seq, 1));
  RETURN_IF_ERROR(CheckAtMost("max_predictions_per_seq",
                              o.max_predictions_per_seq, o.max_seq_length,
                              "max_seq_length, the tokens per example"));
  RETURN_IF_ERROR(CheckAtLeast("dupe_factor", o.dupe_factor, 1));
  RETURN_IF_ERROR(CheckAtMost("dupe_factor", o.dupe_factor, 1000,
                              "passes over the corpus"));
  auto probability = [](const char* name, double p, bool zero_ok) {
    if (std::isfinite(p) && p <= 1 && (p > 0 || (zero_ok && p == 0))) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": ", p, ": must be in ", zero_ok ? "[0, 1]" : "(0, 1]"));
  };
  RETURN_IF_ERROR(probability("masked_lm_prob", o.masked_lm_prob, false));
  return probability("short_seq_prob", o.short_seq_prob, true);
}

absl::StatusOr<std::vector<Document>> ReadDocuments(
    std::string_view text, const std::string& source,
    const BertTokenizer& tokenizer) {
  std::vector<Document> documents(1);
  int64_t line_number = 0;
  bool has_pair = false;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view()
                                         : text.substr(end + 1);
    if (absl::StripAsciiWhitespace(absl::string_view(line.data(), line.size()))
            .empty()) {
      if (!documents.back().empty()) documents.emplace_back();
      continue;
    }
    std::vector<int32_t> ids;
    absl::Status s = tokenizer.Encode(line, &ids);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_number, ": ", s.message()));
    }
    if (ids.empty()) continue;
    documents.back().push_back(std::move(ids));
    has_pair |= documents.back().size() >= 2;
  }
  if (documents.back().empty()) documents.pop_back();
  if (!has_pair) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": no document has two sentences (one per line, documents "
        "separated by blank lines), so no example could have a real "
        "next sentence"));
  }
  return documents;
}

absl::StatusOr<PretrainingExamples> MakePretrainingExamples(
    std::vector<Document> documents, const Vocab& vocab,
    const PretrainingDataOptions& options, const MemoryBudget& budget,
    const PretrainingProgress& progress) {
  RETURN_IF_ERROR(ValidatePretrainingOptions(options));
  for (const char* special : {"[CLS]", "[SEP]", "[MASK]"}) {
    if (vocab.Find(special) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("the vocabulary has no ", special));
    }
  }
  SplitMix64 rng(options.seed);
  Shuffle(documents, rng);
  PretrainingExamples out;
  ExampleMaker maker(documents, vocab, options, rng);
  int64_t bytes = 0;
  size_t counted = 0;
  for (int64_t pass = 0; pass < options.dupe_factor; ++pass) {
    for (size_t d = 0; d < documents.size(); ++d) maker.FromDocument(d, out);
    for (; counted < out.examples.size(); ++counted) {
      bytes += ExampleBytes(out.examples[counted]);
    }
    // Every pass costs about the same: after the first, the whole run's
    // size is known well enough to stop before it outgrows the budget.
    RETURN_IF_ERROR(CheckFitsBudget(
        "dupe_factor", options.dupe_factor, "of examples",
        SaturatingMul(bytes / (pass + 1), options.dupe_factor), budget));
    if (progress) progress(pass + 1, out.examples.size());
  }
  Shuffle(out.examples, rng);
  return out;
}

absl::StatusOr<int64_t> WritePretrainingShards(
    const PretrainingExamples& examples, const PretrainingDataOptions& options,
    const std::string& dir, int64_t examples_per_shard,
    const PretrainingProgress& progress) {
  RETURN_IF_ERROR(CheckAtLeast("examples_per_shard", examples_per_shard, 1));
  const std::vector<PretrainingExample>& all = examples.examples;
  const int64_t total_shards =
      (static_cast<int64_t>(all.size()) + examples_per_shard - 1) /
      examples_per_shard;
  int64_t shards = 0;
  RETURN_IF_ERROR(
      WriteDirectoryWhole(dir, [&](const std::string& partial) -> absl::Status {
        for (size_t first = 0; first < all.size();
             first += examples_per_shard, ++shards) {
          const int64_t n =
              std::min<int64_t>(examples_per_shard, all.size() - first);
          ASSIGN_OR_RETURN(std::vector<Tensor> tensors,
                           ShardTensors(all, first, n, options));
          for (size_t k = 0; k < tensors.size(); ++k) {
            RETURN_IF_ERROR(
                WriteNpy(absl::StrFormat("%s/%s-%05d.npy", partial,
                                         kPretrainingInputs[k], shards),
                         tensors[k]));
          }
          if (progress) progress(shards + 1, total_shards);
        }
        return absl::OkStatus();
      }));
  return shards;
}

}  // namespace rill
