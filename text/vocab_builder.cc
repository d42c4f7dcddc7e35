#include "text/vocab_builder.h"

#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <queue>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace rill {
namespace {

using Pair = uint64_t;  // (left piece << 32) | right piece.

Pair MakePair(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b);
}
int32_t Left(Pair p) { return static_cast<int32_t>(p >> 32); }
int32_t Right(Pair p) { return static_cast<int32_t>(p & 0xFFFFFFFFu); }

struct Word {
  std::vector<int32_t> pieces;
  int64_t count;
  int64_t stamp = -1;  // The last merge that rewrote it.
};

// A candidate merge; the queue holds stale entries too, recognised by a
// count that is no longer the pair's.
struct Candidate {
  int64_t count;
  Pair pair;
  // The best first: the highest count, then the earliest left and right ids.
  bool operator<(const Candidate& o) const {
    return std::make_tuple(count, -int64_t{Left(pair)}, -int64_t{Right(pair)}) <
           std::make_tuple(o.count, -int64_t{Left(o.pair)},
                           -int64_t{Right(o.pair)});
  }
};

class Merger {
 public:
  Merger(std::vector<Word> words, std::vector<std::string> pieces)
      : words_(std::move(words)), pieces_(std::move(pieces)) {
    for (size_t i = 0; i < pieces_.size(); ++i) {
      ids_[pieces_[i]] = static_cast<int32_t>(i);
    }
    for (size_t w = 0; w < words_.size(); ++w) {
      const std::vector<int32_t>& p = words_[w].pieces;
      for (size_t i = 0; i + 1 < p.size(); ++i) {
        Pair pair = MakePair(p[i], p[i + 1]);
        counts_[pair] += words_[w].count;
        where_[pair].push_back(static_cast<int32_t>(w));
      }
    }
    for (const auto& [pair, count] : counts_) queue_.push({count, pair});
  }

  // Merges until there are `size` pieces or no pair occurs `min_count`
  // times; returns the pieces, the first ones as given.
  std::vector<std::string> Run(int64_t size, int64_t min_count) {
    for (int64_t step = 0;
         static_cast<int64_t>(pieces_.size()) < size && !queue_.empty();) {
      Candidate top = queue_.top();
      queue_.pop();
      auto it = counts_.find(top.pair);
      if (it == counts_.end() || it->second != top.count) continue;  // Stale.
      if (top.count < min_count) break;
      Merge(top.pair, step++);
    }
    return std::move(pieces_);
  }

 private:
  // "un" + "##aff" -> "unaff"; an existing piece keeps its id.
  int32_t MergedPiece(Pair pair) {
    std::string merged = pieces_[Left(pair)];
    merged.append(pieces_[Right(pair)], 2);
    auto [it, inserted] =
        ids_.emplace(merged, static_cast<int32_t>(pieces_.size()));
    if (inserted) pieces_.push_back(std::move(merged));
    return it->second;
  }

  void Merge(Pair pair, int64_t step) {
    const int32_t a = Left(pair), b = Right(pair);
    const int32_t merged = MergedPiece(pair);
    absl::flat_hash_map<Pair, int64_t> delta;
    std::vector<int32_t> words = std::move(where_[pair]);
    where_.erase(pair);
    for (int32_t w : words) {
      Word& word = words_[w];
      if (word.stamp == step) continue;  // Listed twice.
      word.stamp = step;
      std::vector<int32_t>& p = word.pieces;
      std::vector<int32_t> out;
      out.reserve(p.size());
      for (size_t i = 0; i < p.size(); ++i) {
        if (i + 1 < p.size() && p[i] == a && p[i + 1] == b) {
          out.push_back(merged);
          ++i;
        } else {
          out.push_back(p[i]);
        }
      }
      if (out.size() == p.size()) continue;
      for (size_t i = 0; i + 1 < p.size(); ++i) {
        delta[MakePair(p[i], p[i + 1])] -= word.count;
      }
      for (size_t i = 0; i + 1 < out.size(); ++i) {
        Pair q = MakePair(out[i], out[i + 1]);
        delta[q] += word.count;
        if (out[i] == merged || out[i + 1] == merged) where_[q].push_back(w);
      }
      p = std::move(out);
    }
    for (const auto& [q, d] : delta) {
      if (d == 0) continue;
      int64_t& count = counts_[q];
      count += d;
      if (count > 0) {
        queue_.push({count, q});
      } else {
        counts_.erase(q);
      }
    }
  }

  std::vector<Word> words_;
  std::vector<std::string> pieces_;
  absl::flat_hash_map<std::string, int32_t> ids_;
  absl::flat_hash_map<Pair, int64_t> counts_;
  absl::flat_hash_map<Pair, std::vector<int32_t>> where_;
  std::priority_queue<Candidate> queue_;
};

// The character pieces of `word`: "w", "##o", "##r", "##d".
std::vector<std::string> CharacterPieces(std::string_view word) {
  std::vector<std::string> out;
  for (int32_t i = 0, n = static_cast<int32_t>(word.size()); i < n;) {
    const int32_t start = i;
    U8_FWD_1_UNSAFE(word.data(), i);
    std::string piece = start == 0 ? "" : "##";
    piece.append(word.substr(start, i - start));
    out.push_back(std::move(piece));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> BuildWordPieceVocab(
    const std::vector<std::string>& lines, const std::string& source,
    const VocabBuilderOptions& options, VocabBuildStats* stats) {
  VocabBuildStats local;
  VocabBuildStats& s = stats ? *stats : local;
  s = VocabBuildStats();
  BertTokenizerOptions tok = options.tokenizer;
  if (tok.max_input_chars_per_word <= 0) {
    tok.max_input_chars_per_word = DefaultMaxInputCharsPerWord(tok.mode);
  }
  absl::flat_hash_map<std::string, int64_t> word_counts;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::Status status =
        ForEachBasicToken(lines[i], tok, [&](std::string_view word) {
          int64_t chars = 0;
          for (int32_t j = 0, n = static_cast<int32_t>(word.size()); j < n;
               ++chars) {
            U8_FWD_1_UNSAFE(word.data(), j);
          }
          if (chars > tok.max_input_chars_per_word) {
            ++s.skipped_words;
            return;
          }
          ++s.words;
          ++word_counts[std::string(word)];
        });
    if (!status.ok()) return Annotate(status, absl::StrCat(source, ":", i + 1));
  }
  if (word_counts.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no words to build a vocabulary from"));
  }
  // Sorted, so that nothing depends on the hash map's order.
  std::vector<std::pair<std::string, int64_t>> sorted(word_counts.begin(),
                                                      word_counts.end());
  std::sort(sorted.begin(), sorted.end());
  s.distinct_words = static_cast<int64_t>(sorted.size());

  absl::flat_hash_map<std::string, int64_t> char_counts;
  for (const auto& [word, count] : sorted) {
    for (std::string& piece : CharacterPieces(word))
      char_counts[piece] += count;
  }
  std::vector<std::pair<std::string, int64_t>> chars(char_counts.begin(),
                                                     char_counts.end());
  std::sort(chars.begin(), chars.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  s.characters = static_cast<int64_t>(chars.size());
  const int64_t num_special = std::size(kBertSpecialTokens);
  if (options.vocab_size < num_special + s.characters) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " has ", s.characters,
        " character pieces (a character, or ## and a character); with the ",
        num_special, " special tokens the vocabulary needs at least ",
        num_special + s.characters, " entries, not ", options.vocab_size));
  }
  std::vector<std::string> pieces(std::begin(kBertSpecialTokens),
                                  std::end(kBertSpecialTokens));
  absl::flat_hash_map<std::string, int32_t> ids;
  for (auto& [piece, count] : chars) {
    ids[piece] = static_cast<int32_t>(pieces.size());
    pieces.push_back(piece);
  }
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (const auto& [word, count] : sorted) {
    Word w{{}, count};
    for (const std::string& piece : CharacterPieces(word)) {
      w.pieces.push_back(ids[piece]);
    }
    words.push_back(std::move(w));
  }
  const int64_t before = static_cast<int64_t>(pieces.size());
  Merger merger(std::move(words), std::move(pieces));
  std::vector<std::string> vocab =
      merger.Run(options.vocab_size, options.min_pair_count);
  s.merged = static_cast<int64_t>(vocab.size()) - before;
  return vocab;
}

}  // namespace rill
