#ifndef RILL_CORE_QUOTE_H_
#define RILL_CORE_QUOTE_H_

// Untrusted text (node names from a graph file, tokens, .npy headers) in
// an error message: a name of 300 KB must not make a 300 KB message, and
// an ESC byte must not reach the user's terminal.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace rill {

// How much of a name an error message shows by default.
inline constexpr size_t kQuotedBytes = 200;

// `s` between `quote` characters, with bytes outside printable ASCII, the
// backslash and the quote escaped as \xNN, and at most `max` bytes of it
// shown; past that it ends with "..." and says how long `s` was:
//   QuoteForMessage("a\x1b[2J")  ->  'a\x1b[2J'
//   a 300000-byte name           ->  'xxx...' (300000 bytes, truncated)
std::string QuoteForMessage(absl::string_view s, size_t max = kQuotedBytes,
                            char quote = '\'');

// The same without the quotes, for text that messages show bare (an op
// name in "node 'y' (Tanh)").
std::string EscapeForMessage(absl::string_view s, size_t max = kQuotedBytes);

}  // namespace rill

#endif  // RILL_CORE_QUOTE_H_
