#include "metrics/ngram_matcher.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace rill {
namespace {

constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;

uint64_t Mix(uint64_t h) {
  h ^= h >> 32;
  h *= kMul;
  h ^= h >> 29;
  return h;
}

// A fast hash for short tokens, eight bytes at a time. Collisions only cost
// a comparison: the table compares keys.
uint64_t HashToken(std::string_view s) {
  uint64_t h = s.size() * kMul;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, s.data() + i, 8);
    h = Mix(h ^ chunk);
  }
  if (i < s.size()) {  // byte by byte: a variable-size memcpy is a call
    uint64_t chunk = 0;
    for (int shift = 0; i < s.size(); ++i, shift += 8) {
      chunk |= static_cast<uint64_t>(static_cast<unsigned char>(s[i])) << shift;
    }
    h = Mix(h ^ chunk);
  }
  return Mix(h);
}

uint64_t PairKey(uint32_t prefix, uint32_t last) {
  return (static_cast<uint64_t>(prefix) << 32) | last;
}

}  // namespace

template <typename Key>
void NgramMatcher::IdTable<Key>::Clear() {
  size_ = 0;
  if (++gen_ == 0) {  // wrapped: old generations could alias; wipe
    for (Slot& s : slots_) s.gen = 0;
    gen_ = 1;
  }
}

template <typename Key>
uint32_t NgramMatcher::IdTable<Key>::Find(const Key& key, uint64_t hash) const {
  if (slots_.empty()) return 0;
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.gen != gen_) return 0;
    if (s.hash == hash && s.key == key) return s.id;
  }
}

template <typename Key>
uint32_t NgramMatcher::IdTable<Key>::FindOrInsert(const Key& key, uint64_t hash,
                                                  uint32_t new_id) {
  if (2 * (size_ + 1) > slots_.size()) Grow();
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.gen != gen_) {
      s = Slot{key, hash, gen_, new_id};
      ++size_;
      return new_id;
    }
    if (s.hash == hash && s.key == key) return s.id;
  }
}

template <typename Key>
void NgramMatcher::IdTable<Key>::Grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.resize(std::max<size_t>(64, 2 * old.size()));
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.gen != gen_) continue;
    size_t i = s.hash & mask;
    while (slots_[i].gen == gen_) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void NgramMatcher::Reset(int max_order) {
  // Zero the counts of the previous segment's ids only.
  std::fill(max_count_.begin(),
            max_count_.begin() + std::min<size_t>(next_id_, max_count_.size()),
            0);
  max_order_ = max_order;
  next_id_ = 1;
  first_reference_ = true;
  tokens_.Clear();
  pairs_.Clear();
}

uint32_t NgramMatcher::NewId() {
  if (next_id_ >= max_count_.size()) {
    max_count_.resize(2 * (next_id_ + 32), 0);
    count_.resize(max_count_.size(), 0);
  }
  return next_id_;
}

void NgramMatcher::AddReference(const std::vector<std::string_view>& tokens) {
  const size_t len = tokens.size();
  ids_.resize(len);
  for (size_t i = 0; i < len; ++i) {
    const uint32_t id =
        tokens_.FindOrInsert(tokens[i], HashToken(tokens[i]), NewId());
    if (id == next_id_) ++next_id_;
    ids_[i] = id;
  }
  // grams_[i] holds the id of the n-gram starting at i for the current n.
  grams_.assign(ids_.begin(), ids_.end());
  seen_.clear();
  for (int n = 1; n <= max_order_ && static_cast<size_t>(n) <= len; ++n) {
    for (size_t i = 0; i + n <= len; ++i) {
      if (n > 1) {
        const uint64_t key = PairKey(grams_[i], ids_[i + n - 1]);
        const uint32_t id = pairs_.FindOrInsert(key, Mix(key), NewId());
        if (id == next_id_) ++next_id_;
        grams_[i] = id;
      }
      if (first_reference_) {
        ++max_count_[grams_[i]];  // all zero since Reset
      } else if (count_[grams_[i]]++ == 0) {
        seen_.push_back(grams_[i]);
      }
    }
  }
  for (uint32_t id : seen_) {
    max_count_[id] = std::max(max_count_[id], count_[id]);
    count_[id] = 0;
  }
  first_reference_ = false;
}

void NgramMatcher::MatchHypothesis(const std::vector<std::string_view>& tokens,
                                   int64_t* correct, int64_t* total) {
  const size_t len = tokens.size();
  grams_.resize(len);
  ids_.resize(len);
  for (size_t i = 0; i < len; ++i) {
    ids_[i] = tokens_.Find(tokens[i], HashToken(tokens[i]));
    grams_[i] = ids_[i];
  }
  for (int n = 1; n <= max_order_ && static_cast<size_t>(n) <= len; ++n) {
    total[n - 1] += static_cast<int64_t>(len - n + 1);
    for (size_t i = 0; i + n <= len; ++i) {
      if (n > 1) {
        // An n-gram whose prefix or last token no reference has is unknown.
        const uint32_t last = ids_[i + n - 1];
        if (grams_[i] != 0 && last != 0) {
          const uint64_t key = PairKey(grams_[i], last);
          grams_[i] = pairs_.Find(key, Mix(key));
        } else {
          grams_[i] = 0;
        }
      }
      // Each occurrence uses up one reference count: this sums
      // min(hypothesis count, max reference count) over distinct n-grams.
      const uint32_t id = grams_[i];
      if (id != 0 && max_count_[id] > 0) {
        --max_count_[id];
        ++correct[n - 1];
      }
    }
  }
}

}  // namespace rill
