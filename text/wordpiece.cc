#include "text/wordpiece.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/file_io.h"

namespace rill {
namespace {

constexpr int64_t kMaxVocabBytes = int64_t{256} << 20;

// ---- Character classes of the basic tokenizer ----

enum CharClass : uint8_t {
  kKeep = 0,
  kDrop = 1,   // U+0000, U+FFFD, Cc and Cf other than tab, newline, CR.
  kSpace = 2,  // Tab, newline, CR, Zs, and U+2028/U+2029 (see the header).
  kCjk = 3,    // An ideograph in one of the blocks BERT lists.
};

bool IsCjk(UChar32 cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

CharClass ClassifyWithIcu(UChar32 cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return kSpace;
  if (cp == 0 || cp == 0xFFFD) return kDrop;
  const int8_t type = u_charType(cp);
  if (type == U_CONTROL_CHAR || type == U_FORMAT_CHAR) return kDrop;
  if (type == U_SPACE_SEPARATOR || cp == 0x2028 || cp == 0x2029) return kSpace;
  if (IsCjk(cp)) return kCjk;
  return kKeep;
}

// The BMP from a table built once; the rest asks ICU.
CharClass Classify(UChar32 cp) {
  static const auto* bmp = [] {
    auto* t = new std::array<uint8_t, 0x10000>;
    for (UChar32 c = 0; c < 0x10000; ++c) (*t)[c] = ClassifyWithIcu(c);
    return t;
  }();
  return cp < 0x10000 ? static_cast<CharClass>((*bmp)[cp])
                      : ClassifyWithIcu(cp);
}

// ASCII by table: controls are Cc (dropped) but for tab, newline and CR.
constexpr std::array<CharClass, 128> kAsciiClass = [] {
  std::array<CharClass, 128> t{};
  for (int c = 0; c < 32; ++c) t[c] = kDrop;
  t['\t'] = t['\n'] = t['\r'] = t[' '] = kSpace;
  t[127] = kDrop;
  return t;
}();

constexpr bool IsAsciiPunctuation(unsigned c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

constexpr std::array<bool, 128> kAsciiPunctuation = [] {
  std::array<bool, 128> t{};
  for (unsigned c = 0; c < 128; ++c) t[c] = IsAsciiPunctuation(c);
  return t;
}();

bool IsPunctuation(UChar32 cp) {
  if (cp < 128) return kAsciiPunctuation[cp];
  return (U_GET_GC_MASK(cp) & U_GC_P_MASK) != 0;
}

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

void AppendUtf8(UChar32 cp, std::string* out) {
  char buf[U8_MAX_LENGTH];
  int32_t len = 0;
  U8_APPEND_UNSAFE(buf, len, cp);
  out->append(buf, len);
}

const icu::Normalizer2& Nfc() {
  static const icu::Normalizer2* nfc = [] {
    UErrorCode ec = U_ZERO_ERROR;
    return icu::Normalizer2::getNFCInstance(ec);
  }();
  return *nfc;
}

const icu::Normalizer2& Nfd() {
  static const icu::Normalizer2* nfd = [] {
    UErrorCode ec = U_ZERO_ERROR;
    return icu::Normalizer2::getNFDInstance(ec);
  }();
  return *nfd;
}

// Buffers reused across calls, so that tokenizing allocates only while they
// grow.
struct Scratch {
  std::string token, word;
  std::vector<UChar> utf16, lower;
  icu::UnicodeString normalized;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// `in` normalized by `form` into *out (a copy when already normalized).
void Normalize(const icu::Normalizer2& form, const icu::UnicodeString& in,
               icu::UnicodeString* out) {
  UErrorCode ec = U_ZERO_ERROR;
  if (form.isNormalized(in, ec) && U_SUCCESS(ec)) {
    *out = in;
    return;
  }
  ec = U_ZERO_ERROR;
  form.normalize(in, *out, ec);
}

// Python's str.lower() of `in` (ICU's full lowercase mapping, root locale),
// into *out.
void Lowercase(const UChar* in, int32_t len, std::vector<UChar>* out) {
  out->resize(std::max<size_t>(out->size(), len + 16));
  UErrorCode ec = U_ZERO_ERROR;
  int32_t n = u_strToLower(out->data(), static_cast<int32_t>(out->size()), in,
                           len, "", &ec);
  if (ec == U_BUFFER_OVERFLOW_ERROR) {
    out->resize(n);
    ec = U_ZERO_ERROR;
    n = u_strToLower(out->data(), n, in, len, "", &ec);
  }
  out->resize(n);
}

// Splits a token on punctuation, calling emit(word) for each piece.
template <typename Emit>
void SplitAsciiToken(std::string& token, bool lowercase, Emit& emit) {
  size_t run = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    char& c = token[i];
    if (lowercase && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (kAsciiPunctuation[static_cast<unsigned char>(c)]) {
      if (i > run) emit(std::string_view(token).substr(run, i - run));
      emit(std::string_view(token).substr(i, 1));
      run = i + 1;
    }
  }
  if (token.size() > run) emit(std::string_view(token).substr(run));
}

// The non-ASCII path: (hf) NFC, (lowercase) lower + NFD dropping Mn, then
// the punctuation split.
template <typename Emit>
void SplitUnicodeToken(const std::string& token, const BertTokenizerOptions& o,
                       Scratch& s, Emit& emit) {
  s.utf16.resize(token.size() + 1);
  int32_t len = 0;
  UErrorCode ec = U_ZERO_ERROR;
  u_strFromUTF8(s.utf16.data(), static_cast<int32_t>(s.utf16.size()), &len,
                token.data(), static_cast<int32_t>(token.size()), &ec);
  // The caller validated the UTF-8, and UTF-16 is never longer in units.
  icu::UnicodeString text(false, s.utf16.data(), len);  // Read-only alias.
  if (o.mode == BertMode::kHf) {
    Normalize(Nfc(), text, &s.normalized);
    text = s.normalized;
  }
  if (o.lowercase) {
    Lowercase(text.getBuffer(), text.length(), &s.lower);
    icu::UnicodeString lower(false, s.lower.data(),
                             static_cast<int32_t>(s.lower.size()));
    Normalize(Nfd(), lower, &s.normalized);
    text = s.normalized;
  }
  s.word.clear();
  const UChar* p = text.getBuffer();
  const int32_t n = text.length();
  for (int32_t i = 0; i < n;) {
    UChar32 cp;
    U16_NEXT(p, i, n, cp);
    if (o.lowercase && u_charType(cp) == U_NON_SPACING_MARK) continue;
    if (IsPunctuation(cp)) {
      if (!s.word.empty()) emit(std::string_view(s.word));
      s.word.clear();
      AppendUtf8(cp, &s.word);
      emit(std::string_view(s.word));
      s.word.clear();
    } else {
      AppendUtf8(cp, &s.word);
    }
  }
  if (!s.word.empty()) emit(std::string_view(s.word));
}

// Calls emit(word) for each word of the basic tokenizer, in order; the views
// live until emit returns. Stops at the first invalid UTF-8 sequence and
// returns its byte offset, or -1 when the text is valid.
template <typename Emit>
int64_t ForEachWord(std::string_view text, const BertTokenizerOptions& o,
                    Emit emit) {
  Scratch& s = ThreadScratch();
  std::string& token = s.token;
  token.clear();
  bool ascii = true;
  auto flush = [&] {
    if (token.empty()) return;
    if (ascii) {
      SplitAsciiToken(token, o.lowercase, emit);
    } else {
      SplitUnicodeToken(token, o, s, emit);
    }
    token.clear();
    ascii = true;
  };
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const int64_t n = static_cast<int64_t>(text.size());
  for (int64_t i = 0; i < n;) {
    const uint8_t b = bytes[i];
    CharClass cls;
    const int64_t start = i;
    if (b < 0x80) {
      ++i;
      cls = kAsciiClass[b];
      if (cls == kKeep) {  // The common case: append the whole ASCII run.
        while (i < n && bytes[i] < 0x80 && kAsciiClass[bytes[i]] == kKeep) ++i;
        token.append(text.data() + start, i - start);
        continue;
      }
    } else {
      UChar32 cp;
      U8_NEXT(bytes, i, n, cp);
      if (cp < 0) return start;
      cls = Classify(cp);
    }
    switch (cls) {
      case kKeep:
        token.append(text.data() + start, i - start);
        ascii = ascii && b < 0x80;
        break;
      case kDrop:
        break;
      case kSpace:
        flush();
        break;
      case kCjk:
        flush();
        token.append(text.data() + start, i - start);
        ascii = false;
        flush();
        break;
    }
  }
  flush();
  return -1;
}

absl::Status InvalidUtf8(int64_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat("not valid UTF-8 (at byte ", offset, ")"));
}

}  // namespace

// ---- Vocab ----

absl::StatusOr<Vocab> Vocab::Load(const std::string& path,
                                  bool require_special) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxVocabBytes));
  std::vector<std::string> tokens;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    tokens.emplace_back(line);
    pos = end + 1;
  }
  return FromTokens(std::move(tokens), path, require_special);
}

absl::StatusOr<Vocab> Vocab::FromTokens(std::vector<std::string> tokens,
                                        const std::string& source,
                                        bool require_special) {
  if (tokens.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": more than 2^31 - 1 tokens"));
  }
  Vocab v;
  v.tokens_ = std::move(tokens);
  for (int32_t id = 0; id < v.size(); ++id) {
    const std::string& t = v.tokens_[id];
    const std::string where = absl::StrCat(source, ":", id + 1, ": ");
    if (t.empty()) return absl::InvalidArgumentError(where + "empty token");
    int32_t i = 0;
    const int32_t n = static_cast<int32_t>(t.size());
    while (i < n) {
      UChar32 cp;
      U8_NEXT(reinterpret_cast<const uint8_t*>(t.data()), i, n, cp);
      if (cp < 0) return absl::InvalidArgumentError(where + "not valid UTF-8");
    }
    auto [it, inserted] = v.initial_.emplace(t, id);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "'", t, "' is listed twice (also on line ",
                       it->second + 1, ")"));
    }
    if (t.size() > 2 && t[0] == '#' && t[1] == '#') {
      absl::string_view rest = absl::string_view(t).substr(2);
      v.continuation_.emplace(rest, id);
      v.max_piece_bytes_ = std::max(v.max_piece_bytes_, rest.size());
    }
    v.max_piece_bytes_ = std::max(v.max_piece_bytes_, t.size());
  }
  v.unk_id_ = v.Find("[UNK]");
  std::vector<std::string> missing;
  for (const char* special : kBertSpecialTokens) {
    if (v.Find(special) < 0 &&
        (require_special || std::string_view(special) == "[UNK]")) {
      missing.push_back(special);
    }
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": missing ", absl::StrJoin(missing, ", "),
                     "; a BERT vocabulary needs [PAD], [UNK], [CLS], [SEP] and "
                     "[MASK]"));
  }
  return v;
}

int32_t Vocab::Find(std::string_view token) const { return FindInitial(token); }

// ---- Settings ----

absl::StatusOr<BertMode> ParseBertMode(std::string_view name) {
  if (name == "google") return BertMode::kGoogle;
  if (name == "hf") return BertMode::kHf;
  return absl::InvalidArgumentError(absl::StrCat(
      "'", std::string(name), "' is not a mode: choose google or hf"));
}

const char* BertModeName(BertMode mode) {
  return mode == BertMode::kHf ? "hf" : "google";
}

int DefaultMaxInputCharsPerWord(BertMode mode) {
  return mode == BertMode::kHf ? 100 : 200;
}

// ---- BertTokenizer ----

absl::Status ForEachBasicToken(std::string_view text,
                               const BertTokenizerOptions& options,
                               absl::FunctionRef<void(std::string_view)> emit) {
  int64_t bad = ForEachWord(text, options, emit);
  return bad >= 0 ? InvalidUtf8(bad) : absl::OkStatus();
}

BertTokenizer::BertTokenizer(const Vocab* vocab,
                             const BertTokenizerOptions& options)
    : vocab_(vocab), options_(options) {
  if (options_.max_input_chars_per_word <= 0) {
    options_.max_input_chars_per_word =
        DefaultMaxInputCharsPerWord(options_.mode);
  }
}

absl::Status BertTokenizer::Encode(std::string_view text,
                                   std::vector<int32_t>* ids) const {
  const size_t mark = ids->size();
  int64_t bad = ForEachWord(
      text, options_, [&](std::string_view word) { WordPiece(word, ids); });
  if (bad >= 0) {
    ids->resize(mark);
    return InvalidUtf8(bad);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> BertTokenizer::BasicTokenize(
    std::string_view text) const {
  std::vector<std::string> words;
  RETURN_IF_ERROR(ForEachBasicToken(text, options_, [&](std::string_view word) {
    words.emplace_back(word);
  }));
  return words;
}

void BertTokenizer::WordPiece(std::string_view word,
                              std::vector<int32_t>* ids) const {
  const size_t n = word.size();
  int64_t chars = 0;
  for (char c : word) chars += !IsContinuationByte(c);
  if (chars > options_.max_input_chars_per_word) {
    ids->push_back(vocab_->unk_id());
    return;
  }
  const size_t mark = ids->size();
  size_t start = 0;
  while (start < n) {
    size_t end = std::min(n, start + vocab_->max_piece_bytes());
    while (end > start && end < n && IsContinuationByte(word[end])) --end;
    int32_t id = -1;
    while (end > start) {
      std::string_view piece = word.substr(start, end - start);
      id = start == 0 ? vocab_->FindInitial(piece)
                      : vocab_->FindContinuation(piece);
      if (id >= 0) break;
      do {
        --end;
      } while (end > start && IsContinuationByte(word[end]));
    }
    if (id < 0) {
      ids->resize(mark);
      ids->push_back(vocab_->unk_id());
      return;
    }
    ids->push_back(id);
    start = end;
  }
}

}  // namespace rill
