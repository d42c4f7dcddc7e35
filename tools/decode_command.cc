// `rill decode SPEC --params CKPT`: translates text with a trained seq2seq
// Transformer (models/decode.h), one sentence per line, through the
// vocabulary the spec names.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/file_io.h"
#include "core/limits.h"
#include "core/stopwatch.h"
#include "models/decode.h"
#include "models/model_spec.h"
#include "tools/commands.h"

namespace rill {
namespace {

// The flags of `rill decode`.
struct {
  std::string params, input, output;
  int64_t beam = 4, batch_size = 64;
  double length_penalty = 0.6;
  std::string strategy = "cache";
} flags;

// i64 [N, S]: each line's token ids, padded with pad_id.
absl::StatusOr<Tensor> Sources(const std::vector<std::string>& lines,
                               const std::string& name, const Vocabulary& v,
                               int64_t length, int64_t pad) {
  const int64_t n = static_cast<int64_t>(lines.size());
  ASSIGN_OR_RETURN(Tensor src, Tensor::Allocate(DType::kI64, Shape{n, length}));
  int64_t* ids = src.data<int64_t>();
  std::fill_n(ids, n * length, pad);
  for (int64_t i = 0; i < n; ++i) {
    const std::string where = absl::StrCat(name, ":", i + 1, ": ");
    ASSIGN_OR_RETURN(std::vector<int64_t> words, TokenIds(v, lines[i], where));
    if (static_cast<int64_t>(words.size()) > length) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, words.size(), " tokens, but seq2seq.src_length is ", length));
    }
    std::copy(words.begin(), words.end(), ids + i * length);
  }
  return src;
}

DecodeOptions OptionsFromFlags(const Seq2SeqSpec& spec) {
  DecodeOptions o;
  o.beam_size = flags.beam;
  o.length_penalty = flags.length_penalty;
  o.batch_size = flags.batch_size;
  const SpecialTokens tokens = SpecialTokensOf(spec);
  o.bos_id = tokens.bos;
  o.eos_id = tokens.eos;
  o.strategy = flags.strategy == "cache" ? DecodeStrategy::kCache
                                         : DecodeStrategy::kRecompute;
  o.executor = ExecutorOptionsFromFlags();
  // A line per batch when there is more than one.
  const auto start = std::chrono::steady_clock::now();
  o.progress = [start, batch = o.batch_size](int64_t done, int64_t total) {
    if (total <= batch) return;
    const double s = SecondsSince(start);
    std::fprintf(stderr, "decoded %lld/%lld sentences  %.1f s  ETA %.0fs\n",
                 static_cast<long long>(done), static_cast<long long>(total), s,
                 s / done * (total - done));
  };
  return o;
}

// Past this a beam search spends its time on hypotheses that cannot win.
constexpr int64_t kMaxBeam = 1024;

// What one batch of decoding holds, estimated before the checkpoint is read:
// per row (a sentence's beam entry) the decoder's key/value cache and the
// memory's projected keys and values (2 x layers x (T + S) x D), the logits
// (T x V when recomputing, V with the cache) and the candidate scores (V).
absl::Status CheckDecodeLimits(const Seq2SeqOptions& model,
                               const DecodeOptions& o, int64_t sentences,
                               const MemoryBudget& budget) {
  RETURN_IF_ERROR(CheckAtMost("--beam", o.beam_size, kMaxBeam,
                              "hypotheses kept per sentence"));
  const int64_t batch = std::max<int64_t>(1, std::min(o.batch_size, sentences));
  const int64_t rows = SaturatingMul(batch, o.beam_size);
  const int64_t d = model.d_model, v = model.vocab_size;
  const int64_t kv = SaturatingMul(
      SaturatingMul(2, model.decoder_layers),
      SaturatingMul(SaturatingAdd(model.tgt_length, model.src_length), d));
  const int64_t logits = o.strategy == DecodeStrategy::kRecompute
                             ? SaturatingMul(model.tgt_length, v)
                             : v;
  const int64_t per_row = SaturatingAdd(SaturatingAdd(kv, logits), v);
  const int64_t bytes =
      SaturatingMul(SaturatingMul(rows, per_row),
                    std::max<int64_t>(8, DTypeSize(model.dtype)));
  const bool beam_larger = o.beam_size >= batch;
  return CheckFitsBudget(beam_larger ? "--beam" : "--batch_size",
                         beam_larger ? o.beam_size : o.batch_size,
                         "decoder state per batch", bytes, budget);
}

}  // namespace

std::vector<Flag> DecodeFlags() {
  return {
      StringFlag("params", &flags.params,
                 "The trained parameters: a `rill train` checkpoint, or a "
                 "directory, for its newest."),
      WithAlias(StringFlag("input", &flags.input,
                           "The source text, one sentence per line, "
                           "tokens separated by blanks. Default: stdin."),
                "i"),
      OutputFlag(&flags.output,
                 "Where to write the translations, one line per source. "
                 "Default: stdout."),
      IntFlag("beam", &flags.beam, "Beam size; 1 decodes greedily."),
      DoubleFlag("length_penalty", &flags.length_penalty,
                 "GNMT's alpha: hypotheses are ranked by log P / ((5 + "
                 "length) / 6)^alpha; 0 ranks by log P alone."),
      ChoiceFlag("strategy", &flags.strategy, {"cache", "recompute"},
                 "cache (a key/value cache: one position per decoder "
                 "run) or recompute (the whole target prefix at every "
                 "run)."),
      IntFlag("batch_size", &flags.batch_size, "Sentences decoded together."),
      BackendFlag(),
      PrecisionFlag(),
      ThreadsFlag(),
      MemoryBudgetFlag(),
      MaxFileFlag()};
}

absl::Status CheckDecodeFlags(const Operands&) {
  return flags.params.empty()
             ? absl::InvalidArgumentError(
                   "name the trained parameters with --params CKPT (from "
                   "rill train)")
             : absl::OkStatus();
}

absl::Status RunDecode(const std::vector<std::string>& operands) {
  const std::string& spec_path = operands[0];
  ASSIGN_OR_RETURN(ModelSpec spec, LoadModelSpec(spec_path));
  absl::StatusOr<Seq2SeqOptions> model = Seq2SeqOptionsFromSpec(spec);
  if (!model.ok()) return Annotate(model.status(), spec_path);
  const MemoryBudget& budget = CommonFlags().memory_budget;
  RETURN_IF_ERROR(Annotate(CheckSeq2SeqLimits(*model, budget), spec_path));
  if (spec.seq2seq().vocab().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec_path,
                     ": seq2seq.vocab: required by rill decode (a file of one "
                     "token per line)"));
  }
  const std::string& params = flags.params;
  const DecodeOptions options = OptionsFromFlags(spec.seq2seq());
  // Everything is read and checked before anything is decoded.
  const std::string vocab_path =
      (std::filesystem::path(spec_path).parent_path() / spec.seq2seq().vocab())
          .string();
  ASSIGN_OR_RETURN(std::vector<std::string> vocab_lines,
                   ReadTextLines(vocab_path));
  ASSIGN_OR_RETURN(Vocabulary vocab,
                   ParseVocabulary(vocab_lines, vocab_path, model->vocab_size));
  const std::string& input = flags.input;
  ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadTextLines(input));
  ASSIGN_OR_RETURN(Tensor src,
                   Sources(lines, input.empty() ? "<stdin>" : input, vocab,
                           model->src_length, model->pad_id));
  RETURN_IF_ERROR(CheckDecodeLimits(
      *model, options, static_cast<int64_t>(lines.size()), budget));
  ASSIGN_OR_RETURN(Checkpoint checkpoint, ReadParamsCheckpoint(params));
  ASSIGN_OR_RETURN(
      std::unique_ptr<Seq2SeqDecoder> decoder,
      Seq2SeqDecoder::Create(*model, options, CheckpointParameters(checkpoint),
                             params));
  ReportPrecision(decoder->precision_note());
  ASSIGN_OR_RETURN(std::vector<std::vector<int64_t>> hyps,
                   decoder->Decode(src));
  std::string text;
  for (const std::vector<int64_t>& hyp : hyps) {
    ASSIGN_OR_RETURN(std::string line, JoinTokens(vocab, hyp));
    absl::StrAppend(&text, line, "\n");
  }
  const std::string& output = flags.output;
  if (output.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    RETURN_IF_ERROR(WriteFileAtomic(output, text));
  }
  const DecodeStats& s = decoder->stats();
  std::fprintf(stderr,
               "decoded %lld sentences in %.1f ms (encode %.1f ms, %lld "
               "decoder runs %.1f ms; %s, beam %lld)%s%s\n",
               static_cast<long long>(s.sentences), s.encode_ms + s.decode_ms,
               s.encode_ms, static_cast<long long>(s.steps), s.decode_ms,
               flags.strategy.c_str(),
               static_cast<long long>(options.beam_size),
               output.empty() ? "" : " -> ", output.c_str());
  return absl::OkStatus();
}

}  // namespace rill
