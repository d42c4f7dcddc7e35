#ifndef RILL_METRICS_NGRAM_MATCHER_H_
#define RILL_METRICS_NGRAM_MATCHER_H_

// Clipped n-gram matching for one segment, the inner loop of corpus BLEU.
//
// Every token of the references gets a dense id, and every reference n-gram
// of order n > 1 gets the id of the pair (id of its (n-1)-gram prefix, id of
// its last token). Equal ids therefore mean equal token tuples, whatever the
// order, and counts live in flat arrays indexed by id. Hashing a token once
// and then only 64-bit pairs is several times faster than hashing every
// n-gram's text. The hash tables are cleared in O(1) between segments, so a
// matcher reused over a corpus allocates nothing in the steady state.

#include <cstdint>
#include <string_view>
#include <vector>

namespace rill {

class NgramMatcher {
 public:
  // Forgets the previous segment's references.
  void Reset(int max_order);
  // Adds one reference; per n-gram, the maximum count over the references
  // added since Reset is kept.
  void AddReference(const std::vector<std::string_view>& tokens);
  // Adds the hypothesis' clipped matches and n-gram totals per order to
  // correct[0..max_order) and total[0..max_order). Call once per Reset: the
  // reference counts are used up.
  void MatchHypothesis(const std::vector<std::string_view>& tokens,
                       int64_t* correct, int64_t* total);

 private:
  // Open addressing with linear probing; a slot belongs to the table only if
  // its generation is the current one, so Clear() is a counter bump.
  template <typename Key>
  class IdTable {
   public:
    void Clear();
    // The id stored for `key`, or 0.
    uint32_t Find(const Key& key, uint64_t hash) const;
    // The id stored for `key`; if absent, stores and returns `new_id`.
    uint32_t FindOrInsert(const Key& key, uint64_t hash, uint32_t new_id);

   private:
    struct Slot {
      Key key{};
      uint64_t hash = 0;
      uint32_t gen = 0;
      uint32_t id = 0;
    };
    void Grow();
    std::vector<Slot> slots_;
    uint32_t gen_ = 1;
    size_t size_ = 0;
  };

  uint32_t NewId();

  int max_order_ = 4;
  uint32_t next_id_ = 1;  // id 0 means "not in any reference"
  bool first_reference_ = true;
  IdTable<std::string_view> tokens_;
  IdTable<uint64_t> pairs_;
  std::vector<int32_t> max_count_;  // by id, over the references
  std::vector<int32_t> count_;      // by id, the current reference
  std::vector<uint32_t> ids_, grams_, seen_;
};

}  // namespace rill

#endif  // RILL_METRICS_NGRAM_MATCHER_H_
