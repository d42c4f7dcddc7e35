#ifndef RILL_METRICS_TOKENIZER_H_
#define RILL_METRICS_TOKENIZER_H_

// The tokenizers of sacreBLEU 2.x (13a, intl, char and none), re-implemented
// on UTF-8 so that scores match sacreBLEU's to the last digit. The Python
// string helpers they rest on (SplitWhitespace, RStripWhitespace,
// IsValidUtf8, Lowercase) are declared in metrics/text.h, included here.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "metrics/text.h"  // IWYU pragma: export

namespace rill {

enum class Tokenizer { kNone, k13a, kIntl, kChar };

// "none", "13a", "intl" or "char"; any other name is an InvalidArgument
// error that lists the choices.
absl::StatusOr<Tokenizer> ParseTokenizer(const std::string& name);
const char* TokenizerName(Tokenizer t);

// Tokenizes one line exactly as sacreBLEU 2.x does (tokenizer_13a.py with
// tokenizer_re.py, tokenizer_intl.py, tokenizer_char.py, tokenizer_none.py)
// and returns the tokens joined by single spaces, i.e. what
// ' '.join(tokenizer(line).split()) gives in Python. Note that sacreBLEU's
// BLEU applies str.rstrip() to a segment before tokenizing it; that step is
// not part of the tokenizer (see RStripWhitespace).
std::string Tokenize(Tokenizer t, std::string_view utf8_line);

// Writes text whose whitespace-separated tokens (SplitWhitespace) are those
// of Tokenize, without normalising the spaces between them; cheaper when
// the caller splits anyway.
void TokenizeUnjoined(Tokenizer t, std::string_view utf8_line,
                      std::string* out);

}  // namespace rill

#endif  // RILL_METRICS_TOKENIZER_H_
