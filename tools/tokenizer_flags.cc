#include "tools/tokenizer_flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rill {

std::vector<Flag> WithTokenizerFlags(TokenizerFlagValues* values,
                                     std::vector<Flag> own) {
  std::vector<Flag> all = {
      StringFlag("vocab", &values->vocab,
                 "A BERT vocab.txt: one token per line, the id is the line "
                 "number from 0; it must hold [PAD] [UNK] [CLS] [SEP] "
                 "[MASK]."),
      SwitchFlag("lowercase", &values->lowercase,
                 "BERT's uncased setting: lowercase the text and strip "
                 "accents."),
      StringFlag("mode", &values->mode,
                 "Where BERT's two published tokenizers differ: google "
                 "(google-research/bert) or hf (Hugging Face: NFC before the "
                 "whitespace split, words over 100 characters are [UNK] "
                 "instead of over 200)."),
      StringFlag("max_input_chars_per_word", &values->max_input_chars_per_word,
                 "Words longer than this many characters become [UNK]; "
                 "default: the mode's (google 200, hf 100)."),
  };
  for (Flag& flag : own) all.push_back(std::move(flag));
  return all;
}

absl::StatusOr<BertTokenizerOptions> TokenizerOptionsFromFlags(
    const TokenizerFlagValues& values) {
  BertTokenizerOptions o;
  o.lowercase = values.lowercase;
  absl::StatusOr<BertMode> mode = ParseBertMode(values.mode);
  if (!mode.ok()) return Annotate(mode.status(), "--mode");
  o.mode = *mode;
  const std::string& max_chars = values.max_input_chars_per_word;
  if (!max_chars.empty()) {
    ASSIGN_OR_RETURN(int64_t value, PositiveFlag("max_input_chars_per_word",
                                                 max_chars, 1 << 30));
    o.max_input_chars_per_word = static_cast<int>(value);
  }
  return o;
}

absl::StatusOr<int64_t> PositiveFlag(const std::string& flag,
                                     const std::string& text, int64_t max) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 1 || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, " ", text, ": give a whole number in [1, ", max, "]"));
  }
  return value;
}

}  // namespace rill
