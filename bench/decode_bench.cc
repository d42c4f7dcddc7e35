// Beam-search decoding with a key/value cache against recomputing the
// whole target prefix at every step (issue 8), side by side in one run:
// the same model, sources and beam, so both make the same hypotheses and
// the same number of decoder runs. Random weights; what is timed is the
// decoder, not the translation.
//
//   bazel run -c opt //bench:decode_bench

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/threads.h"
#include "models/decode.h"
#include "models/seq2seq.h"
#include "ops/parameter_value.h"

namespace rill {
namespace {

constexpr int64_t kSentences = 16, kBeam = 4, kVocab = 1000;

Seq2SeqOptions Model(int64_t length) {
  Seq2SeqOptions o;
  o.vocab_size = kVocab;
  o.d_model = 256;
  o.heads = 4;
  o.ff = 1024;
  o.encoder_layers = o.decoder_layers = 2;
  o.src_length = length;
  o.tgt_length = length;
  o.seed = 3;
  return o;
}

int Main() {
  std::printf(
      "decode: %lld sentences, beam %lld, d=256 h=4 ff=1024, 2+2 layers, "
      "V=%lld, f32 on oneDNN\n",
      static_cast<long long>(kSentences), static_cast<long long>(kBeam),
      static_cast<long long>(kVocab));
  std::printf("%6s %6s %14s %14s %12s %12s %8s\n", "T", "runs", "cache_ms",
              "recompute_ms", "cache/run", "recomp/run", "ratio");
  for (int64_t length : {16, 32, 64, 128}) {
    const Seq2SeqOptions model = Model(length);
    absl::StatusOr<Graph> train = BuildSeq2SeqTrainingGraph(model);
    if (!train.ok()) {
      std::fprintf(stderr, "%s\n", train.status().ToString().c_str());
      return 1;
    }
    std::map<std::string, Tensor> values;
    std::map<std::string, const Tensor*> params;
    for (const Node& n : train->node()) {
      if (n.op() != "Parameter") continue;
      values[n.name()] = *SourceValue(n, int64_t{1} << 30);
      params[n.name()] = &values[n.name()];
    }
    // Sources of every length up to T, ids from 3 (0-2 are special).
    std::mt19937_64 rng(7);
    Tensor src = *Tensor::Allocate(DType::kI64, Shape{kSentences, length});
    for (int64_t s = 0; s < kSentences; ++s) {
      const int64_t len = 1 + static_cast<int64_t>(rng() % length);
      for (int64_t t = 0; t < length; ++t) {
        src.data<int64_t>()[s * length + t] =
            t < len ? 3 + static_cast<int64_t>(rng() % (kVocab - 3)) : 0;
      }
    }
    double ms[2];
    int64_t runs[2];
    std::vector<std::vector<int64_t>> out[2];
    // Warm-up runs of both first, then the timed ones, interleaved.
    for (int pass = 0; pass < 2; ++pass) {
      for (int k = 0; k < 2; ++k) {
        DecodeOptions o;
        o.beam_size = kBeam;
        o.batch_size = kSentences;
        o.strategy =
            k == 0 ? DecodeStrategy::kCache : DecodeStrategy::kRecompute;
        auto d = Seq2SeqDecoder::Create(model, o, params, "random weights");
        if (!d.ok()) {
          std::fprintf(stderr, "%s\n", d.status().ToString().c_str());
          return 1;
        }
        auto got = (*d)->Decode(src);
        if (!got.ok()) {
          std::fprintf(stderr, "%s\n", got.status().ToString().c_str());
          return 1;
        }
        if (pass == 0) {  // The first decode compiles the plans.
          got = (*d)->Decode(src);
          if (!got.ok()) return 1;
        }
        const DecodeStats& s = (*d)->stats();
        ms[k] = pass == 0 ? 0 : s.decode_ms;
        runs[k] = s.steps;
        out[k] = *got;
      }
    }
    if (out[0] != out[1]) {
      std::fprintf(stderr, "T=%lld: the strategies disagree\n",
                   static_cast<long long>(length));
      return 1;
    }
    std::printf("%6lld %6lld %14.1f %14.1f %12.2f %12.2f %8.2f\n",
                static_cast<long long>(length), static_cast<long long>(runs[0]),
                ms[0], ms[1], ms[0] / runs[0], ms[1] / runs[1], ms[1] / ms[0]);
  }
  std::printf(
      "ratio = recompute_ms / cache_ms (above 1: the cache is faster)\n");
  return 0;
}

}  // namespace
}  // namespace rill

int main(int, char** argv) {
  rill::PreferPassiveOpenMpThreads(argv);  // As the rill command does.
  return rill::Main();
}
