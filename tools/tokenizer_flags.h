#ifndef RILL_TOOLS_TOKENIZER_FLAGS_H_
#define RILL_TOOLS_TOKENIZER_FLAGS_H_

// The flags that set up BERT's tokenizer, shared by the commands that
// tokenize text (`rill tokenize`, `rill bert make-data`), so that they are
// spelled and mean the same in both.

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "text/wordpiece.h"
#include "tools/flags.h"

namespace rill {

struct TokenizerFlagValues {
  std::string vocab;
  bool lowercase = false;
  std::string mode = "google";
  std::string max_input_chars_per_word;  // Empty: the mode's default.
};

// --vocab, --lowercase, --mode and --max_input_chars_per_word, bound to
// `values`, then the command's `own` flags.
std::vector<Flag> WithTokenizerFlags(TokenizerFlagValues* values,
                                     std::vector<Flag> own);

// The tokenizer the flags describe; errors name the flag.
absl::StatusOr<BertTokenizerOptions> TokenizerOptionsFromFlags(
    const TokenizerFlagValues& values);

// `text` as a whole number in [1, max]; errors name --`flag`.
absl::StatusOr<int64_t> PositiveFlag(const std::string& flag,
                                     const std::string& text, int64_t max);

}  // namespace rill

#endif  // RILL_TOOLS_TOKENIZER_FLAGS_H_
